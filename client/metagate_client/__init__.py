"""metagate-client: pipeline steps record what they used and produced in a Metagate
gateway, and ask it for lineage.

    from metagate_client import Client

    with Client() as mg:  # METAGATE_URL and METAGATE_TOKEN, or http://127.0.0.1:8000
        with mg.run(project="housing", model="gbr", dataset="census", featureset="all") as run:
            run.log_params(max_depth=3)
            run.log_perf(rmse=0.42)
        print(mg.lineage(run.logged.run, "upstream").nodes)

``AsyncClient`` has the same methods, awaited. The vocabulary follows Arangopipe's.
"""

from metagate_client._async_client import AsyncClient
from metagate_client._client import Client
from metagate_client._exceptions import (
    BadInput,
    Conflict,
    DeadlineExceeded,
    Forbidden,
    MetagateError,
    NotFound,
    Unauthenticated,
    Unavailable,
    UnexpectedResponse,
)
from metagate_client._models import (
    Asset,
    Job,
    Lineage,
    LineageEntry,
    Link,
    Logged,
    LoggedRun,
    LoggedStep,
    MetricPoint,
    ModelVersion,
    Move,
)
from metagate_client._run import RunRecorder
from metagate_client._step import StepRecorder
from metagate_client._version import __version__

__all__ = [
    "Asset",
    "AsyncClient",
    "BadInput",
    "Client",
    "Conflict",
    "DeadlineExceeded",
    "Forbidden",
    "Job",
    "Lineage",
    "LineageEntry",
    "Link",
    "Logged",
    "LoggedRun",
    "LoggedStep",
    "MetagateError",
    "MetricPoint",
    "ModelVersion",
    "Move",
    "NotFound",
    "RunRecorder",
    "StepRecorder",
    "Unauthenticated",
    "Unavailable",
    "UnexpectedResponse",
    "__version__",
]

# Public names report the package, not its private modules: tracebacks and reprs read
# metagate_client.BadInput, as they are imported (httpx does the same).
for _name in __all__:
    if _name != "__version__":
        globals()[_name].__module__ = "metagate_client"
del _name

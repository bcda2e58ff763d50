"""Every call of the clients, written once: its GraphQL document, its variables (checked
before anything is sent) and the decoding of its answer.

A call is a generator: it yields each ``Request`` it needs, is sent that request's
``data`` back, and returns its result. ``Client`` drives it with blocking I/O and
``AsyncClient`` with ``await`` (both through ``Call``), so neither holds any GraphQL of
its own, and calls of several requests (``log_runs``, starting a run) are written once.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, Union

from metagate_client._exceptions import BadInput, UnexpectedResponse
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
from metagate_client._transport import encode
from metagate_client._vocabulary import KINDS

T = TypeVar("T")


@dataclass(frozen=True)
class Request:
    """One GraphQL request, encoded once: its retries send these very bytes, and so the
    same idempotency key."""

    body: bytes


Data = dict[str, Any]
Steps = Generator[Request, Data, T]
Ref = Union[Asset, str]  # a node, or its global id

MAX_BATCH = 500  # runs per logRuns request, well under the gateway's default limit of 1,000
_NODE = "id kind name tags attributes"
_LOGGED = f"run {{ {_NODE} }} modelParams {{ {_NODE} }} devPerf {{ {_NODE} }} created"
_RUN_ARGUMENTS = frozenset(
    {
        "model",
        "dataset",
        "featureset",
        "params",
        "metrics",
        "name",
        "tag",
        "deployment_tag",
        "status",
        "start_time",
        "end_time",
        "tags",
        "attributes",
    }
)


class Call(Generic[T]):
    """A call in progress: ``start()`` and ``send(data)`` give the next request to send,
    or None once ``result`` is ready."""

    result: T

    def __init__(self, steps: Steps[T], url: str) -> None:
        self._steps = steps
        self._url = url

    def start(self) -> Request | None:
        try:
            return next(self._steps)
        except StopIteration as done:
            self.result = done.value
            return None

    def send(self, data: Data) -> Request | None:
        try:
            return self._steps.send(data)
        except StopIteration as done:
            self.result = done.value
            return None
        except (KeyError, IndexError, TypeError, AttributeError) as error:
            # An answer without what the call reads comes from another version of the
            # gateway (or from something else): the caller gets no KeyError for it.
            raise UnexpectedResponse(
                f"{self._url} answered in a shape this client does not read ({error!r}):"
                " are the gateway and metagate-client versions compatible?",
                status=200,
                url=self._url,
            ) from error


def check_finite(value: Any, path: str) -> None:
    """JSON has no NaN or infinity, so the gateway could never be sent one faithfully."""
    if isinstance(value, float) and not math.isfinite(value):
        raise BadInput(f"{path} must be a finite number, not {value!r}: JSON cannot carry NaN or infinity")
    if isinstance(value, Mapping):
        for key, item in value.items():
            check_finite(item, f"{path}.{key}")
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            check_finite(item, f"{path}[{index}]")


def _object(value: Mapping[str, Any] | None, path: str) -> dict[str, Any] | None:
    check_finite(value, path)
    return None if value is None else dict(value)


def _tags(tags: Sequence[str]) -> list[str]:
    # A lone string is one tag, not one tag per character.
    return [tags] if isinstance(tags, str) else list(tags)


def _id(value: Ref | None) -> str | None:
    return value.id if isinstance(value, Asset) else value


def _time(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)  # naive times are taken as UTC
    return value.isoformat()


def _asset(node: Data, created: bool = False) -> Asset:
    return Asset(
        id=node["id"],
        kind=node["kind"].lower(),
        name=node.get("name"),
        created=created,
        tags=tuple(node.get("tags") or ()),
        attributes=node.get("attributes") or {},
    )


def _logged(payload: Data) -> LoggedRun:
    return LoggedRun(
        _asset(payload["run"], payload["created"]), _asset(payload["modelParams"]), _asset(payload["devPerf"]), payload["created"]
    )


def _request(document: str, variables: Data) -> Request:
    return Request(encode(document, variables))


def _mutation(field: str, selection: str, values: Data) -> Request:
    given = {key: value for key, value in values.items() if value is not None}
    # One key for every attempt of this call: the gateway answers a retry with what it
    # recorded the first time instead of recording it again.
    given["idempotencyKey"] = uuid.uuid4().hex
    input_type = field[0].upper() + field[1:] + "Input"
    return _request(f"mutation($input: {input_type}!) {{ {field}(input: $input) {{ {selection} }} }}", {"input": given})


def _registration(field: str, key: str, values: Data) -> Steps[Asset]:
    data = yield _mutation(field, f"{key} {{ {_NODE} }} created", values)
    return _asset(data[field][key], data[field]["created"])


def create_project(name: str, *, tags: Sequence[str], attributes: Mapping[str, Any] | None) -> Steps[Asset]:
    return _registration(
        "createProject", "project", {"name": name, "tags": _tags(tags), "attributes": _object(attributes, "attributes")}
    )


def register_dataset(name: str, *, tags: Sequence[str], attributes: Mapping[str, Any] | None) -> Steps[Asset]:
    return _registration(
        "registerDataset", "dataset", {"name": name, "tags": _tags(tags), "attributes": _object(attributes, "attributes")}
    )


def register_featureset(name: str, dataset: Ref, *, tags: Sequence[str], attributes: Mapping[str, Any] | None) -> Steps[Asset]:
    values = {"name": name, "datasetId": _id(dataset), "tags": _tags(tags), "attributes": _object(attributes, "attributes")}
    return _registration("registerFeatureset", "featureset", values)


def declare_node_kind(name: str, *, description: str | None, schema: Mapping[str, Any] | None) -> Steps[bool]:
    values = {"name": name, "description": description, "schema": _object(schema, "schema")}
    document = "mutation($input: DeclareNodeKindInput!) { declareNodeKind(input: $input) { created } }"
    data = yield _request(document, {"input": {k: v for k, v in values.items() if v is not None}})
    return bool(data["declareNodeKind"]["created"])


def declare_edge_kind(name: str, from_kind: str, to_kind: str, *, upstream: str | None, description: str | None) -> Steps[bool]:
    if upstream not in ("from", "to", None):
        raise BadInput("upstream: 'from', 'to' or None (grouping only)")
    values = {"name": name, "fromKind": from_kind, "toKind": to_kind, "upstream": (upstream or "none").upper()}
    if description is not None:
        values["description"] = description
    document = "mutation($input: DeclareEdgeKindInput!) { declareEdgeKind(input: $input) { created } }"
    data = yield _request(document, {"input": values})
    return bool(data["declareEdgeKind"]["created"])


def log_custom_node(
    kind: str, name: str, *, links: Sequence[Link], tags: Sequence[str], attributes: Mapping[str, Any] | None
) -> Steps[Asset]:
    given = [{"edgeKind": link.edge_kind, "fromId": _id(link.source), "toId": _id(link.target)} for link in links]
    values = {
        "kind": kind,
        "name": name,
        "tags": _tags(tags),
        "attributes": _object(attributes, "attributes"),
        "links": [{k: v for k, v in link.items() if v is not None} for link in given],
    }
    data = yield _mutation("logCustomNode", f"node {{ {_NODE} }} created", values)
    return _asset(data["logCustomNode"]["node"], data["logCustomNode"]["created"])


def link_nodes(edge_kind: str, source: Ref, target: Ref) -> Steps[bool]:
    document = "mutation($input: LinkNodesInput!) { linkNodes(input: $input) { created } }"
    data = yield _request(document, {"input": {"edgeKind": edge_kind, "fromId": _id(source), "toId": _id(target)}})
    return bool(data["linkNodes"]["created"])


_HARDWARE_KEYS = {
    "instance_type": "instanceType",
    "cpu": "cpu",
    "memory_gb": "memoryGb",
    "gpu": "gpu",
    "gpu_type": "gpuType",
    "count": "count",
    "extras": "extras",
}


def _hardware(value: Mapping[str, Mapping[str, Any]] | None) -> Data | None:
    """``{"serving": {...}, "training": {...}}`` with each spec's keys as Python names
    (instance_type, cpu, memory_gb, gpu, gpu_type, count, extras)."""
    if value is None:
        return None
    out: Data = {}
    for use, spec in value.items():
        if use not in ("serving", "training"):
            raise BadInput(f"default_hardware: {use!r} is neither serving nor training")
        out[use] = _hardware_spec(spec, f"default_hardware.{use}")
    return out


def _hardware_spec(spec: Mapping[str, Any], path: str) -> Data:
    unknown = sorted(set(spec) - set(_HARDWARE_KEYS))
    if unknown:
        raise BadInput(f"{path}: no hardware field {unknown[0]!r}")
    check_finite(dict(spec), path)
    return {_HARDWARE_KEYS[k]: v for k, v in spec.items()}


def register_model(
    name: str,
    project: Ref,
    *,
    tags: Sequence[str],
    attributes: Mapping[str, Any] | None,
    task: str | None = None,
    framework: str | None = None,
    default_hardware: Mapping[str, Mapping[str, Any]] | None = None,
) -> Steps[Asset]:
    values = {
        "name": name,
        "projectId": _id(project),
        "tags": _tags(tags),
        "attributes": _object(attributes, "attributes"),
        "task": task,
        "framework": framework,
        "defaultHardware": _hardware(default_hardware),
    }
    return _registration("registerModel", "model", values)


_VERSION = "id version source registration aliasNames model { id } run { id }"


def _version(node: Data, created: bool = False) -> ModelVersion:
    return ModelVersion(
        id=node["id"],
        model=node["model"]["id"],
        number=node["version"],
        source=node.get("source"),
        status=node["registration"],
        run=node["run"]["id"] if node.get("run") else None,
        aliases=tuple(node.get("aliasNames") or ()),
        created=created,
    )


def register_model_version(
    model: Ref,
    run: Ref,
    source: str,
    *,
    signature: Mapping[str, Any] | None,
    description: str | None,
    status: str | None,
    tags: Sequence[str],
    attributes: Mapping[str, Any] | None,
) -> Steps[ModelVersion]:
    values = {
        "modelId": _id(model),
        "runId": _id(run),
        "source": source,
        "signature": _object(signature, "signature"),
        "description": description,
        "registration": status.upper() if status else None,
        "tags": _tags(tags),
        "attributes": _object(attributes, "attributes"),
    }
    data = yield _mutation("registerModelVersion", f"modelVersion {{ {_VERSION} }} created", values)
    payload = data["registerModelVersion"]
    return _version(payload["modelVersion"], payload["created"])


def model_version(model: Ref, *, version: int | None, alias: str | None) -> Steps[ModelVersion | None]:
    if (version is None) == (alias is None):
        raise BadInput("give exactly one of version and alias")
    data = yield _request(
        f"query($m: ID!, $v: Int, $a: String) {{ modelVersion(modelId: $m, version: $v, alias: $a) {{ {_VERSION} }} }}",
        {"m": _id(model), "v": version, "a": alias},
    )
    node = data["modelVersion"]
    return None if node is None else _version(node)


def _move(field: str, values: Data) -> Steps[Move]:
    data = yield _mutation(field, "moved modelVersion { version } previous { version }", values)
    payload = data[field]
    previous = payload["previous"]
    return Move(payload["modelVersion"]["version"], previous["version"] if previous else None, payload["moved"])


def set_alias(model: Ref, alias: str, version: int, *, reason: str | None) -> Steps[Move]:
    return _move("setModelAlias", {"modelId": _id(model), "alias": alias, "version": version, "reason": reason})


def serve_version(
    deployment: Ref, *, version: int | None, alias: str | None, reason: str | None, rollback: bool = False
) -> Steps[Move]:
    if (version is None) == (alias is None):
        raise BadInput("give exactly one of version and alias")
    if rollback and not (reason or "").strip():
        raise BadInput("a rollback needs a reason: it is kept with the move")
    values = {"deploymentId": _id(deployment), "version": version, "alias": alias, "reason": reason}
    return _move("rollbackDeployment" if rollback else "serveModelVersion", values)


def set_traffic(project: Ref, weights: Sequence[tuple[Ref, int]], *, reason: str | None) -> Steps[dict[str, int]]:
    given = [{"deploymentId": _id(d), "weight": w} for d, w in weights]
    data = yield _mutation(
        "setTrafficWeights",
        "project { traffic { weight deployment { id } } }",
        {"projectId": _id(project), "weights": given, "reason": reason},
    )
    return {t["deployment"]["id"]: t["weight"] for t in data["setTrafficWeights"]["project"]["traffic"]}


def _run_input(
    where: str,
    *,
    model: Ref,
    dataset: Ref,
    featureset: Ref,
    params: Mapping[str, Any] | None = None,
    metrics: Mapping[str, float] | None = None,
    name: str | None = None,
    tag: str | None = None,
    deployment_tag: str | None = None,
    status: str = "COMPLETED",
    start_time: dt.datetime | None = None,
    end_time: dt.datetime | None = None,
    tags: Sequence[str] = (),
    attributes: Mapping[str, Any] | None = None,
) -> Data:
    values = {
        "modelId": _id(model),
        "datasetId": _id(dataset),
        "featuresetId": _id(featureset),
        "params": _object(params, f"{where}params") or {},
        "metrics": _object(metrics, f"{where}metrics") or {},
        "name": name,
        "tag": tag,
        "deploymentTag": deployment_tag,
        "status": status,
        "startTime": _time(start_time),
        "endTime": _time(end_time),
        "tags": _tags(tags),
        "attributes": _object(attributes, f"{where}attributes"),
    }
    return {key: value for key, value in values.items() if value is not None}


def log_run(**arguments: Any) -> Steps[LoggedRun]:
    """``arguments``: those of ``Client.log_run``, which names and types them."""
    values = _run_input("", **arguments)
    return _log_one(values)


def _log_one(values: Data) -> Steps[LoggedRun]:
    data = yield _mutation("logRun", _LOGGED, values)
    return _logged(data["logRun"])


def log_runs(runs: Sequence[Mapping[str, Any]]) -> Steps[list[LoggedRun]]:
    # Every run is checked before the first batch goes out.
    return _log_batches([_batch_run(index, run) for index, run in enumerate(runs)])


def _batch_run(index: int, run: Mapping[str, Any]) -> Data:
    where = f"runs[{index}]"
    if not isinstance(run, Mapping):
        raise BadInput(f"{where} must be a mapping of log_run's keyword arguments, not {type(run).__name__}")
    unknown = sorted(set(run) - _RUN_ARGUMENTS)
    if unknown:
        raise BadInput(f"{where}: log_run takes no argument {unknown[0]!r}")
    missing = [key for key in ("model", "dataset", "featureset") if key not in run]
    if missing:
        raise BadInput(f"{where} needs {', '.join(missing)}")
    return _run_input(f"{where}.", **run)


def _log_batches(inputs: list[Data]) -> Steps[list[LoggedRun]]:
    logged: list[LoggedRun] = []
    for start in range(0, len(inputs), MAX_BATCH):
        data = yield _mutation("logRuns", f"runs {{ {_LOGGED} }}", {"runs": inputs[start : start + MAX_BATCH]})
        logged += [_logged(payload) for payload in data["logRuns"]["runs"]]
    return logged


def register_deployment(
    name: str | None,
    *,
    deployment_tag: str | None,
    model: Ref | None,
    featureset: Ref | None,
    model_params: Ref | None,
    tag: str | None,
    tags: Sequence[str],
    attributes: Mapping[str, Any] | None,
) -> Steps[Asset]:
    values = {
        "name": name,
        "deploymentTag": deployment_tag,
        "modelId": _id(model),
        "featuresetId": _id(featureset),
        "modelParamsId": _id(model_params),
        "tag": tag,
        "tags": _tags(tags),
        "attributes": _object(attributes, "attributes"),
    }
    return _registration("registerDeployment", "deployment", values)


def log_serving_perf(
    *,
    period_start: dt.datetime,
    period_end: dt.datetime,
    metrics: Mapping[str, float],
    deployment: Ref | None,
    deployment_tag: str | None,
    tags: Sequence[str],
    attributes: Mapping[str, Any] | None,
) -> Steps[Asset]:
    values = {
        "periodStart": _time(period_start),
        "periodEnd": _time(period_end),
        "metrics": _object(metrics, "metrics"),
        "deploymentId": _id(deployment),
        "deploymentTag": deployment_tag,
        "tags": _tags(tags),
        "attributes": _object(attributes, "attributes"),
    }
    return _log_serving_perf(values)


def _log_serving_perf(values: Data) -> Steps[Asset]:
    data = yield _mutation("logServingPerf", f"servingPerf {{ {_NODE} }}", values)
    return _asset(data["logServingPerf"]["servingPerf"], created=True)


def lookup(field: str, name: str, project: Ref | None = None) -> Steps[Asset | None]:
    """The node of kind ``field`` named ``name`` (a model within ``project``), or None."""
    if project is None:
        document = f"query($name: String!) {{ {field}(name: $name) {{ {_NODE} }} }}"
        variables: Data = {"name": name}
    else:
        document = f"query($name: String!, $projectId: ID) {{ {field}(name: $name, projectId: $projectId) {{ {_NODE} }} }}"
        variables = {"name": name, "projectId": _id(project)}
    data = yield _request(document, variables)
    node = data[field]
    return None if node is None else _asset(node)


def find(kind: str | None, attribute: str, value: Any, *, first: int) -> Steps[list[Asset]]:
    check_finite(value, "value")
    if kind is not None and kind.lower() not in KINDS:
        raise BadInput(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    kinds = [kind.upper()] if kind else None
    if attribute in ("deployment_tag", "deploymentTag"):
        declared, arguments, variables = "$value: String!", "deploymentTag: $value", {"value": value}
    else:
        declared, arguments = "$key: String!, $value: JSON", "attribute: {key: $key, value: $value}"
        variables = {"key": attribute, "value": value}
    return _find(
        f"query({declared}, $kinds: [NodeKind!], $first: Int) {{"
        f" search({arguments}, kinds: $kinds, first: $first) {{ nodes {{ {_NODE} }} }} }}",
        {**variables, "kinds": kinds, "first": first},
    )


def _find(document: str, variables: Data) -> Steps[list[Asset]]:
    data = yield _request(document, variables)
    return [_asset(node) for node in data["search"]["nodes"]]


def lineage(
    node: Ref, direction: str, depth: int | None, *, limit: int | None, as_of: dt.datetime | None = None
) -> Steps[Lineage]:
    data = yield _request(
        "query($id: ID!, $direction: LineageDirection!, $depth: Int, $limit: Int, $asOf: DateTime) {"
        " lineage(id: $id, direction: $direction, depth: $depth, limit: $limit, asOf: $asOf) {"
        f" root {{ {_NODE} }} nodes {{ depth direction node {{ {_NODE} }} }} edges {{ kind from to }} truncated }} }}",
        {"id": _id(node), "direction": direction.upper(), "depth": depth, "limit": limit, "asOf": _time(as_of)},
    )
    result = data["lineage"]
    return Lineage(
        root=_asset(result["root"]),
        nodes=[LineageEntry(_asset(entry["node"]), entry["depth"], entry["direction"].lower()) for entry in result["nodes"]],
        edges=[(edge["kind"].lower(), edge["from"], edge["to"]) for edge in result["edges"]],
        truncated=result["truncated"],
    )


def execute(document: str, variables: Mapping[str, Any] | None) -> Steps[Data]:
    given = _object(variables, "variables") or {}
    return _execute(document, given)


def _execute(document: str, variables: Data) -> Steps[Data]:
    return (yield _request(document, variables))


_JOB = (
    "id type state spec env image modelPath hardware { instanceType cpu memoryGb gpu gpuType count extras }"
    " project { id } model { id } deployment { id } replayOf { id } run { id }"
)
_PY_HARDWARE = {graphql: python for python, graphql in _HARDWARE_KEYS.items()}


def _job(node: Data) -> Job:
    def linked(name: str) -> str | None:
        return node[name]["id"] if node.get(name) else None

    hardware = node.get("hardware")
    return Job(
        id=node["id"],
        type=node["type"],
        status=node["state"],
        spec=node.get("spec") or {},
        env=node.get("env") or {},
        image=node.get("image"),
        model_path=node.get("modelPath"),
        hardware=None if hardware is None else {_PY_HARDWARE[k]: v for k, v in hardware.items() if v is not None},
        project=node["project"]["id"],
        model=linked("model"),
        deployment=linked("deployment"),
        replay_of=linked("replayOf"),
        run=linked("run"),
    )


def _job_call(field: str, values: Data) -> Steps[Job]:
    data = yield _mutation(field, f"job {{ {_JOB} }}", values)
    return _job(data[field]["job"])


def create_job(
    project: Ref,
    type: str,
    *,
    model: Ref | None,
    deployment: Ref | None,
    spec: Mapping[str, Any] | None,
    env: Mapping[str, str] | None,
    image: str | None,
    model_path: str | None,
    hardware: Mapping[str, Any] | None,
) -> Steps[Job]:
    values = {
        "projectId": _id(project),
        "type": type.upper(),
        "modelId": _id(model),
        "deploymentId": _id(deployment),
        "spec": _object(spec, "spec"),
        "env": dict(env) if env is not None else None,
        "image": image,
        "modelPath": model_path,
        "hardware": _hardware_spec(hardware, "hardware") if hardware is not None else None,
    }
    return _job_call("createJob", values)


def replay_job(job: Ref | Job) -> Steps[Job]:
    return _job_call("replayJob", {"jobId": job.id if isinstance(job, Job) else _id(job)})


def update_job_status(job: Ref | Job, status: str, *, run: Ref | None, message: str | None) -> Steps[Job]:
    values = {
        "jobId": job.id if isinstance(job, Job) else _id(job),
        "status": status.upper(),
        "runId": _id(run),
        "message": message,
    }
    return _job_call("updateJobStatus", values)


def jobs(*, status: str | None, type: str | None, project: Ref | None, first: int) -> Steps[list[Job]]:
    data = yield _request(
        "query($s: JobState, $t: JobType, $p: ID, $first: Int) {"
        f" jobs(status: $s, type: $t, projectId: $p, first: $first) {{ nodes {{ {_JOB} }} }} }}",
        {
            "s": status.upper() if status else None,
            "t": type.upper() if type else None,
            "p": _id(project),
            "first": first,
        },
    )
    return [_job(node) for node in data["jobs"]["nodes"]]


# -- steps ----------------------------------------------------------------------------------

_STEP_ASSETS = ("Datasets", "Featuresets", "ModelVersions", "Models", "Deployments")
_STEP = "id name phase state startedAt endedAt attributes parent { id } job { id } run { id } " + " ".join(
    f"{way}{kind}(first: 100) {{ nodes {{ {_NODE} }} }}" for way in ("input", "output") for kind in _STEP_ASSETS
)
StepAsset = Union[Asset, str]  # a node, or a dataset's name


def _asset_refs(values: Sequence[StepAsset], path: str) -> list[Data]:
    refs: list[Data] = []
    for i, value in enumerate([values] if isinstance(values, (str, Asset)) else values):
        if isinstance(value, Asset):
            refs.append({"id": value.id})
        elif isinstance(value, str):
            refs.append({"dataset": value})
        else:
            raise BadInput(f"{path}[{i}]: an Asset, or a dataset's name")
    return refs


def _parent(value: LoggedStep | Ref | None) -> str | None:
    return value.id if isinstance(value, LoggedStep) else _id(value)


def _step(node: Data) -> LoggedStep:
    def linked(way: str) -> tuple[Asset, ...]:
        return tuple(_asset(n) for kind in _STEP_ASSETS for n in node[f"{way}{kind}"]["nodes"])

    parent = next((node[k]["id"] for k in ("parent", "job", "run") if node.get(k)), None)
    return LoggedStep(
        id=node["id"],
        name=node["name"],
        phase=node["phase"].lower(),
        state=node["state"].lower(),
        started_at=node["startedAt"],
        ended_at=node["endedAt"],
        inputs=linked("input"),
        outputs=linked("output"),
        parent=parent,
        attributes=node.get("attributes") or {},
    )


def log_step(
    name: str,
    phase: str,
    *,
    state: str | None = None,
    started_at: dt.datetime | None = None,
    ended_at: dt.datetime | None = None,
    parent: LoggedStep | Ref | None = None,
    inputs: Sequence[StepAsset] = (),
    outputs: Sequence[StepAsset] = (),
    tags: Sequence[str] = (),
    attributes: Mapping[str, Any] | None = None,
) -> Steps[LoggedStep]:
    values = {
        "name": name,
        "phase": phase.upper(),
        "state": state.upper() if state else None,
        "startedAt": _time(started_at),
        "endedAt": _time(ended_at),
        "parentId": _parent(parent),
        "inputs": _asset_refs(inputs, "inputs"),
        "outputs": _asset_refs(outputs, "outputs"),
        "tags": _tags(tags),
        "attributes": _object(attributes, "attributes"),
    }
    data = yield _mutation("logStep", f"step {{ {_STEP} }}", values)
    return _step(data["logStep"]["step"])


def update_step(
    step: LoggedStep | Ref,
    *,
    state: str | None = None,
    ended_at: dt.datetime | None = None,
    inputs: Sequence[StepAsset] = (),
    outputs: Sequence[StepAsset] = (),
    attributes: Mapping[str, Any] | None = None,
) -> Steps[LoggedStep]:
    values = {
        "stepId": _parent(step),
        "state": state.upper() if state else None,
        "endedAt": _time(ended_at),
        "inputs": _asset_refs(inputs, "inputs"),
        "outputs": _asset_refs(outputs, "outputs"),
        "attributes": _object(attributes, "attributes"),
    }
    data = yield _mutation("updateStep", f"step {{ {_STEP} }}", values)
    return _step(data["updateStep"]["step"])


# -- metric history ---------------------------------------------------------------------------

MAX_POINTS = 10_000  # points per logMetrics request: the gateway's limit


def _points(points: Sequence[Mapping[str, Any]]) -> list[Data]:
    given: list[Data] = []
    for i, point in enumerate(points):
        where = f"metrics[{i}]"
        if not isinstance(point, Mapping) or "key" not in point or "value" not in point:
            raise BadInput(f"{where}: a mapping with key and value (and step, timestamp when known)")
        unknown = sorted(set(point) - {"key", "value", "step", "timestamp"})
        if unknown:
            raise BadInput(f"{where}: no field {unknown[0]!r}")
        check_finite(point["value"], f"{where}.value")
        stamp = point.get("timestamp")
        given.append(
            {
                "key": point["key"],
                "value": point["value"],
                "step": point.get("step"),
                "timestamp": _time(stamp) if isinstance(stamp, dt.datetime) else stamp,
            }
        )
    return given


def log_metrics(run: Ref, points: Sequence[Mapping[str, Any]]) -> Steps[int]:
    """Appends points to a run's metric history, MAX_POINTS a request (each request is
    atomic; a retry of one writes nothing twice). Answers how many were appended."""
    given = _points(points)
    if not given:
        raise BadInput("metrics: give at least one point")
    written = 0
    for start in range(0, len(given), MAX_POINTS):
        data = yield _mutation("logMetrics", "points", {"runId": _id(run), "metrics": given[start : start + MAX_POINTS]})
        written += data["logMetrics"]["points"]
    return written


def log_series(
    run: Ref, key: str, values: Sequence[float], *, steps: Sequence[int] | None, timestamp: dt.datetime | None
) -> Steps[int]:
    """Appends one key's values (at ``steps``, one per value) to a run's metric history,
    MAX_POINTS a request, each a series: far cheaper for the gateway than a point each."""
    values = list(values)
    check_finite(values, "values")
    if not values:
        raise BadInput("values: give at least one value")
    if steps is not None and len(steps) != len(values):
        raise BadInput(f"steps: one step per value ({len(values)})")
    written = 0
    for start in range(0, len(values), MAX_POINTS):
        chunk: Data = {"key": key, "values": values[start : start + MAX_POINTS], "timestamp": _time(timestamp)}
        if steps is not None:
            chunk["steps"] = list(steps[start : start + MAX_POINTS])
        data = yield _mutation("logMetrics", "points", {"runId": _id(run), "series": [chunk]})
        written += data["logMetrics"]["points"]
    return written


def _point(node: Data) -> MetricPoint:
    return MetricPoint(node["key"], node["value"], node["step"], node["timestamp"])


def metric_history(run: Ref, key: str, *, max_points: int | None) -> Steps[list[MetricPoint]]:
    """A metric's whole history in order, page by page; or, with ``max_points``, at most
    that many points, downsampled by the gateway (the first and the last kept)."""
    if max_points is not None:
        data = yield _request(
            "query($id: ID!, $key: String!, $most: Int) { node(id: $id) { ... on Run {"
            " metricCurve(key: $key, maxPoints: $most) { key value step timestamp } } } }",
            {"id": _id(run), "key": key, "most": max_points},
        )
        return [_point(p) for p in (data["node"] or {}).get("metricCurve", [])]
    found: list[MetricPoint] = []
    after = None
    while True:
        data = yield _request(
            "query($id: ID!, $key: String!, $after: String) { node(id: $id) { ... on Run {"
            " metricHistory(key: $key, first: 1000, after: $after) { points { key value step timestamp }"
            " hasNextPage endCursor } } } }",
            {"id": _id(run), "key": key, "after": after},
        )
        page = (data["node"] or {}).get("metricHistory")
        if page is None:
            return found
        found += [_point(p) for p in page["points"]]
        if not page["hasNextPage"]:
            return found
        after = page["endCursor"]


# Subscriptions (``_subscription.subscribe``): each event's field, with its cursor.
RUNS_LOGGED = (
    f"subscription($model: ID!, $after: String) {{ runLogged(model: $model, after: $after) {{ cursor at runs {{ {_NODE} }} }} }}"
)
SERVING_PERF_LOGGED = (
    "subscription($deployment: ID!, $after: String) {"
    f" servingPerfLogged(deployment: $deployment, after: $after) {{ cursor at servingPerf {{ {_NODE} }} }} }}"
)


def logged(event: Data, nodes: str) -> Logged:
    return Logged(cursor=event["cursor"], at=event["at"], nodes=tuple(_asset(n) for n in event[nodes]))

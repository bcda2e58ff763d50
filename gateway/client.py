"""The Python client pipeline steps import to record what they used and produced.

It needs aiohttp and the standard library only (not the gateway's server stack). Its
vocabulary follows Arangopipe's. ``AsyncClient`` is the asyncio client; ``Client`` is
a synchronous facade for scripts and notebooks; ``Client.run`` records one training run
around a block of code, failure included.

    from metagate.gateway.client import Client

    with Client("http://127.0.0.1:8000", token="mg_...") as mg:
        project = mg.create_project("housing")
        ...

Every mutation is sent with an idempotency key; a transient failure (a lost connection,
a timeout, a 502/503/504, an UNAVAILABLE store) is retried with the same key, so a retry
never records anything twice.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import threading
import traceback
import uuid
from collections.abc import Coroutine, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp

T = TypeVar("T")


class MetagateClientError(Exception):
    """Base of the client's errors; ``code`` is the gateway's extensions.code."""

    code = "INTERNAL"

    def __init__(self, message: str, *, code: str | None = None, request_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.code
        self.request_id = request_id


class BadInput(MetagateClientError):
    code = "BAD_USER_INPUT"


class NotFound(MetagateClientError):
    code = "NOT_FOUND"


class Conflict(MetagateClientError):
    code = "CONFLICT"


class Unauthenticated(MetagateClientError):
    code = "UNAUTHENTICATED"


class Forbidden(MetagateClientError):
    code = "FORBIDDEN"


class Unavailable(MetagateClientError):
    """The gateway or its store could not be reached, after the retries."""

    code = "UNAVAILABLE"


class DeadlineExceeded(MetagateClientError):
    code = "DEADLINE_EXCEEDED"


_ERRORS = {cls.code: cls for cls in (BadInput, NotFound, Conflict, Unauthenticated, Forbidden, Unavailable, DeadlineExceeded)}
_TRANSIENT_CODES = {"UNAVAILABLE", "DEADLINE_EXCEEDED"}
_TRANSIENT_STATUS = {502, 503, 504}


@dataclass(frozen=True)
class Asset:
    """A node of the pipeline graph as the gateway returned it."""

    id: str
    kind: str
    name: str | None
    created: bool = False
    tags: tuple[str, ...] = ()
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LoggedRun:
    run: Asset
    model_params: Asset
    dev_perf: Asset
    created: bool


@dataclass(frozen=True)
class LineageEntry:
    asset: Asset
    depth: int
    direction: str


@dataclass(frozen=True)
class Lineage:
    root: Asset
    nodes: list[LineageEntry]
    edges: list[tuple[str, str, str]]  # (kind, from id, to id)
    truncated: bool


_NODE = "id kind name tags attributes"
_KINDS = {
    "project": "PROJECT",
    "dataset": "DATASET",
    "featureset": "FEATURESET",
    "run": "RUN",
    "model": "MODEL",
    "modelparams": "MODELPARAMS",
    "devperf": "DEVPERF",
    "deployment": "DEPLOYMENT",
    "servingperf": "SERVINGPERF",
}
_MAX_BATCH = 500  # runs per logRuns request, under the gateway's default limit of 1,000


def _asset(node: dict[str, Any], created: bool = False) -> Asset:
    return Asset(
        id=node["id"],
        kind=node["kind"].lower(),
        name=node.get("name"),
        created=created,
        tags=tuple(node.get("tags") or ()),
        attributes=node.get("attributes") or {},
    )


def _time(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.isoformat()


def _id(value: Asset | str) -> str:
    return value.id if isinstance(value, Asset) else value


class AsyncClient:
    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        timeout: float = 30.0,
        retries: int = 4,
        backoff: float = 0.2,
    ) -> None:
        self.endpoint = url.rstrip("/") + ("" if url.rstrip("/").endswith("/graphql") else "/graphql")
        self.token = token
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.retries = retries
        self.backoff = backoff
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            headers = {"authorization": f"Bearer {self.token}"} if self.token else {}
            self._session = aiohttp.ClientSession(headers=headers, timeout=self.timeout)
        return self._session

    async def execute(self, document: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """Sends one GraphQL document; retries transient failures; raises typed errors."""
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self._send(document, variables or {})
            except (TimeoutError, aiohttp.ClientConnectionError, _Transient) as error:
                if attempt > self.retries:
                    if isinstance(error, MetagateClientError):
                        final = _ERRORS.get(error.code, Unavailable)
                        raise final(error.message, code=error.code, request_id=error.request_id) from error
                    raise Unavailable(f"the gateway at {self.endpoint} cannot be reached: {error!r}") from error
                await asyncio.sleep(random.uniform(0, self.backoff * 2 ** (attempt - 1)))

    async def _send(self, document: str, variables: dict[str, Any]) -> dict[str, Any]:
        async with self._http().post(self.endpoint, json={"query": document, "variables": variables}) as response:
            request_id = response.headers.get("x-request-id")
            if response.status in _TRANSIENT_STATUS:
                raise _Transient(f"the gateway answered {response.status}", code="UNAVAILABLE", request_id=request_id)
            if response.status == 413:
                raise BadInput("the request is larger than the gateway accepts", request_id=request_id)
            body = await response.json(content_type=None)
        errors = body.get("errors") or []
        if errors:
            first = errors[0]
            code = (first.get("extensions") or {}).get("code", "INTERNAL")
            if code in _TRANSIENT_CODES:
                raise _Transient(first["message"], code=code, request_id=request_id)
            raise _ERRORS.get(code, MetagateClientError)(first["message"], code=code, request_id=request_id)
        return body["data"]

    async def _mutate(self, field_name: str, input_type: str, selection: str, values: dict[str, Any]) -> Any:
        values = {k: v for k, v in values.items() if v is not None}
        # One key for all the attempts of this call: a retry is answered, not recorded again.
        values.setdefault("idempotencyKey", uuid.uuid4().hex)
        document = f"mutation($input: {input_type}!) {{ {field_name}(input: $input) {{ {selection} }} }}"
        return (await self.execute(document, {"input": values}))[field_name]

    async def create_project(self, name: str, *, tags: Sequence[str] = (), attributes: dict[str, Any] | None = None) -> Asset:
        r = await self._mutate(
            "createProject",
            "CreateProjectInput",
            f"project {{ {_NODE} }} created",
            {"name": name, "tags": list(tags), "attributes": attributes},
        )
        return _asset(r["project"], r["created"])

    async def register_dataset(self, name: str, *, tags: Sequence[str] = (), attributes: dict[str, Any] | None = None) -> Asset:
        r = await self._mutate(
            "registerDataset",
            "RegisterDatasetInput",
            f"dataset {{ {_NODE} }} created",
            {"name": name, "tags": list(tags), "attributes": attributes},
        )
        return _asset(r["dataset"], r["created"])

    async def register_featureset(
        self, name: str, dataset: Asset | str, *, tags: Sequence[str] = (), attributes: dict[str, Any] | None = None
    ) -> Asset:
        r = await self._mutate(
            "registerFeatureset",
            "RegisterFeaturesetInput",
            f"featureset {{ {_NODE} }} created",
            {"name": name, "datasetId": _id(dataset), "tags": list(tags), "attributes": attributes},
        )
        return _asset(r["featureset"], r["created"])

    async def register_model(
        self, name: str, project: Asset | str, *, tags: Sequence[str] = (), attributes: dict[str, Any] | None = None
    ) -> Asset:
        r = await self._mutate(
            "registerModel",
            "RegisterModelInput",
            f"model {{ {_NODE} }} created",
            {"name": name, "projectId": _id(project), "tags": list(tags), "attributes": attributes},
        )
        return _asset(r["model"], r["created"])

    @staticmethod
    def _run_input(
        model: Asset | str,
        dataset: Asset | str,
        featureset: Asset | str,
        params: dict[str, Any],
        metrics: dict[str, float],
        name: str | None,
        tag: str | None,
        deployment_tag: str | None,
        status: str,
        start_time: dt.datetime | None,
        end_time: dt.datetime | None,
        tags: Sequence[str],
        attributes: dict[str, Any] | None,
    ) -> dict[str, Any]:
        return {
            "modelId": _id(model),
            "datasetId": _id(dataset),
            "featuresetId": _id(featureset),
            "params": params,
            "metrics": metrics,
            "name": name,
            "tag": tag,
            "deploymentTag": deployment_tag,
            "status": status,
            "startTime": _time(start_time),
            "endTime": _time(end_time),
            "tags": list(tags),
            "attributes": attributes,
        }

    async def log_run(
        self,
        *,
        model: Asset | str,
        dataset: Asset | str,
        featureset: Asset | str,
        params: dict[str, Any] | None = None,
        metrics: dict[str, float] | None = None,
        name: str | None = None,
        tag: str | None = None,
        deployment_tag: str | None = None,
        status: str = "COMPLETED",
        start_time: dt.datetime | None = None,
        end_time: dt.datetime | None = None,
        tags: Sequence[str] = (),
        attributes: dict[str, Any] | None = None,
    ) -> LoggedRun:
        values = self._run_input(
            model,
            dataset,
            featureset,
            params or {},
            metrics or {},
            name,
            tag,
            deployment_tag,
            status,
            start_time,
            end_time,
            tags,
            attributes,
        )
        r = await self._mutate(
            "logRun", "LogRunInput", f"run {{ {_NODE} }} modelParams {{ {_NODE} }} devPerf {{ {_NODE} }} created", values
        )
        return LoggedRun(_asset(r["run"], r["created"]), _asset(r["modelParams"]), _asset(r["devPerf"]), r["created"])

    async def log_runs(self, runs: Sequence[dict[str, Any]]) -> list[LoggedRun]:
        """Many runs in few requests (`logRuns`, up to 500 runs each); each run takes
        log_run's keyword arguments. Each request is one atomic write: its runs are all
        logged or, on an error, none of them (earlier requests stand)."""
        logged: list[LoggedRun] = []
        defaults = {
            "params": {},
            "metrics": {},
            "name": None,
            "tag": None,
            "deployment_tag": None,
            "status": "COMPLETED",
            "start_time": None,
            "end_time": None,
            "tags": (),
            "attributes": None,
        }
        for start in range(0, len(runs), _MAX_BATCH):
            values = [
                {k: v for k, v in self._run_input(**{**defaults, **run}).items() if v is not None}
                for run in runs[start : start + _MAX_BATCH]
            ]
            data = await self.execute(
                "mutation($input: LogRunsInput!) { logRuns(input: $input) { runs {"
                f" run {{ {_NODE} }} modelParams {{ {_NODE} }} devPerf {{ {_NODE} }} created }} }} }}",
                {"input": {"runs": values, "idempotencyKey": uuid.uuid4().hex}},
            )
            logged += [
                LoggedRun(_asset(r["run"], r["created"]), _asset(r["modelParams"]), _asset(r["devPerf"]), r["created"])
                for r in data["logRuns"]["runs"]
            ]
        return logged

    async def register_deployment(
        self,
        name: str | None = None,
        *,
        deployment_tag: str | None = None,
        model: Asset | str | None = None,
        featureset: Asset | str | None = None,
        model_params: Asset | str | None = None,
        tag: str | None = None,
        tags: Sequence[str] = (),
        attributes: dict[str, Any] | None = None,
    ) -> Asset:
        r = await self._mutate(
            "registerDeployment",
            "RegisterDeploymentInput",
            f"deployment {{ {_NODE} }} created",
            {
                "name": name,
                "deploymentTag": deployment_tag,
                "modelId": _id(model) if model else None,
                "featuresetId": _id(featureset) if featureset else None,
                "modelParamsId": _id(model_params) if model_params else None,
                "tag": tag,
                "tags": list(tags),
                "attributes": attributes,
            },
        )
        return _asset(r["deployment"], r["created"])

    async def log_serving_perf(
        self,
        *,
        period_start: dt.datetime,
        period_end: dt.datetime,
        metrics: dict[str, float],
        deployment: Asset | str | None = None,
        deployment_tag: str | None = None,
        tags: Sequence[str] = (),
        attributes: dict[str, Any] | None = None,
    ) -> Asset:
        r = await self._mutate(
            "logServingPerf",
            "LogServingPerfInput",
            f"servingPerf {{ {_NODE} }}",
            {
                "periodStart": _time(period_start),
                "periodEnd": _time(period_end),
                "metrics": metrics,
                "deploymentId": _id(deployment) if deployment else None,
                "deploymentTag": deployment_tag,
                "tags": list(tags),
                "attributes": attributes,
            },
        )
        return _asset(r["servingPerf"], True)

    async def _lookup(self, field_name: str, name: str, extra: str = "", **variables: Any) -> Asset | None:
        declared = "".join(f", ${k}: ID" for k in variables)
        passed = "".join(f", {k}: ${k}" for k in variables)
        data = await self.execute(
            f"query($name: String!{declared}) {{ {field_name}(name: $name{passed}) {{ {_NODE} {extra} }} }}",
            {"name": name, **variables},
        )
        node = data[field_name]
        return _asset(node) if node else None

    async def lookup_dataset(self, name: str) -> Asset | None:
        return await self._lookup("dataset", name)

    async def lookup_featureset(self, name: str) -> Asset | None:
        return await self._lookup("featureset", name)

    async def lookup_model(self, name: str, project: Asset | str | None = None) -> Asset | None:
        if project is None:
            return await self._lookup("model", name)
        return await self._lookup("model", name, projectId=_id(project))

    async def lookup_project(self, name: str) -> Asset | None:
        return await self._lookup("project", name)

    async def find(self, kind: str | None, attribute: str, value: Any, *, first: int = 100) -> list[Asset]:
        """Nodes (of ``kind``, or of any kind) whose attribute equals ``value``;
        ``attribute="deployment_tag"`` finds by deployment tag, as Arangopipe does."""
        kinds = [_KINDS[kind.lower()]] if kind else None
        if attribute in ("deployment_tag", "deploymentTag"):
            arguments, variables = "deploymentTag: $value", {"value": value}
            declared = "$value: String!"
        else:
            arguments, variables = "attribute: {key: $key, value: $value}", {"key": attribute, "value": value}
            declared = "$key: String!, $value: JSON"
        data = await self.execute(
            f"query({declared}, $kinds: [NodeKind!], $first: Int) {{ search({arguments}, kinds: $kinds,"
            f" first: $first) {{ nodes {{ {_NODE} }} }} }}",
            {**variables, "kinds": kinds, "first": first},
        )
        return [_asset(n) for n in data["search"]["nodes"]]

    async def lineage(
        self, node: Asset | str, direction: str = "UPSTREAM", depth: int | None = None, *, limit: int | None = None
    ) -> Lineage:
        data = await self.execute(
            "query($id: ID!, $d: LineageDirection!, $depth: Int, $limit: Int) {"
            " lineage(id: $id, direction: $d, depth: $depth, limit: $limit) {"
            f" root {{ {_NODE} }} nodes {{ depth direction node {{ {_NODE} }} }} edges {{ kind from to }} truncated }} }}",
            {"id": _id(node), "d": direction.upper(), "depth": depth, "limit": limit},
        )
        result = data["lineage"]
        return Lineage(
            root=_asset(result["root"]),
            nodes=[LineageEntry(_asset(n["node"]), n["depth"], n["direction"].lower()) for n in result["nodes"]],
            edges=[(e["kind"].lower(), e["from"], e["to"]) for e in result["edges"]],
            truncated=result["truncated"],
        )


class _Transient(MetagateClientError):
    code = "UNAVAILABLE"


class Client:
    """The synchronous facade: the same methods, run on a private event loop thread."""

    def __init__(self, url: str, token: str | None = None, **options: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="metagate-client", daemon=True)
        self._thread.start()
        self.aio = AsyncClient(url, token, **options)

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        if self._loop.is_running():
            self._call(self.aio.close())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
            self._loop.close()

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.aio, name)
        if not asyncio.iscoroutinefunction(method):
            return method

        def call(*args: Any, **kwargs: Any) -> Any:
            return self._call(method(*args, **kwargs))

        return call

    @contextmanager
    def run(
        self,
        *,
        project: str,
        model: str,
        dataset: str,
        featureset: str,
        name: str | None = None,
        tag: str | None = None,
        deployment_tag: str | None = None,
    ) -> Iterator[RunRecorder]:
        """Records one training run around the block: its start and end time, the params
        and metrics it logs, and COMPLETED, or FAILED (with the error) when it raises.
        The project, model, dataset and featureset are registered if they are new."""
        # Creating a project needs the admin role: a writer's project already exists.
        project_asset = self.lookup_project(project) or self.create_project(project)
        model_asset = self.register_model(model, project_asset)
        dataset_asset = self.register_dataset(dataset)
        featureset_asset = self.register_featureset(featureset, dataset_asset)
        recorder = RunRecorder()
        started = dt.datetime.now(dt.UTC)
        status, attributes = "COMPLETED", {}
        try:
            yield recorder
        except BaseException as error:
            status = "FAILED"
            attributes = {"error": "".join(traceback.format_exception_only(type(error), error)).strip()}
            raise
        finally:
            recorder.logged = self.log_run(
                model=model_asset,
                dataset=dataset_asset,
                featureset=featureset_asset,
                params=recorder.params,
                metrics=recorder.metrics,
                name=name,
                tag=tag,
                deployment_tag=deployment_tag,
                status=status,
                start_time=started,
                end_time=dt.datetime.now(dt.UTC),
                attributes=attributes or None,
            )


@dataclass
class RunRecorder:
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    logged: LoggedRun | None = None

    def log_params(self, params: dict[str, Any] | None = None, **more: Any) -> None:
        self.params.update(params or {}, **more)

    def log_perf(self, metrics: dict[str, float] | None = None, **more: float) -> None:
        self.metrics.update(metrics or {}, **more)

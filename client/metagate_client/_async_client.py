"""``AsyncClient``: the asyncio client, for pipeline steps that run in an event loop."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any, TypeVar

import httpx

from metagate_client import _operations as ops
from metagate_client._exceptions import DeadlineExceeded, Unavailable
from metagate_client._models import Asset, Job, Lineage, Link, Logged, LoggedRun, LoggedStep, MetricPoint, ModelVersion, Move
from metagate_client._operations import Call, Data, Ref, Request, StepAsset, Steps
from metagate_client._run import RunRecorder, start_run
from metagate_client._step import StepRecorder, finish_pipeline, start_pipeline
from metagate_client._subscription import subscribe
from metagate_client._transport import Endpoint

T = TypeVar("T")


class AsyncClient:
    """Records and reads a Metagate gateway's pipeline graph, with ``await``; the same
    methods as ``Client``.

    ``url`` is the gateway's address (``/graphql`` is added unless it ends so); without
    it, the ``METAGATE_URL`` environment variable, and without that
    ``http://127.0.0.1:8000``. ``token`` is an API token (``mg_...``); without it,
    ``METAGATE_TOKEN``, and without that none. Every mutation carries an idempotency key,
    and a transient failure (no connection, a lost answer, a timeout, 502/503/504,
    UNAVAILABLE, DEADLINE_EXCEEDED) is retried ``retries`` times with jittered backoff
    from ``backoff`` seconds, under the same key: a retry never records twice. Every
    failure is a ``MetagateError``.
    """

    def __init__(
        self, url: str | None = None, token: str | None = None, *, timeout: float = 30.0, retries: int = 4, backoff: float = 0.2
    ) -> None:
        self._endpoint = Endpoint(url, token, timeout=timeout, retries=retries, backoff=backoff)
        self._http = httpx.AsyncClient(headers=self._endpoint.headers, timeout=timeout)

    @property
    def url(self) -> str:
        """The GraphQL endpoint this client sends to."""
        return self._endpoint.url

    def __repr__(self) -> str:
        return f"<AsyncClient {self.url}>"

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Closes the connections; the client cannot be used afterwards."""
        await self._http.aclose()

    async def create_project(self, name: str, *, tags: Sequence[str] = (), attributes: Mapping[str, Any] | None = None) -> Asset:
        """The project named ``name``, created unless it exists (needs the admin role)."""
        return await self._call(ops.create_project(name, tags=tags, attributes=attributes))

    async def declare_node_kind(
        self, name: str, *, description: str | None = None, schema: Mapping[str, Any] | None = None
    ) -> bool:
        """Declares a node kind (an admin's token): its nodes' attributes meet ``schema``, a
        JSON Schema. True when declared now, False when the same declaration was there."""
        return await self._call(ops.declare_node_kind(name, description=description, schema=schema))

    async def declare_edge_kind(
        self, name: str, from_kind: str, to_kind: str, *, upstream: str | None, description: str | None = None
    ) -> bool:
        """Declares an edge kind from ``from_kind`` to ``to_kind`` (built-in kinds such as
        "dataset", or declared ones), ``upstream`` the end the other was derived from
        ("from" or "to"; None: grouping only, not lineage)."""
        return await self._call(ops.declare_edge_kind(name, from_kind, to_kind, upstream=upstream, description=description))

    async def log_custom_node(
        self,
        kind: str,
        name: str,
        *,
        links: Sequence[Link] = (),
        tags: Sequence[str] = (),
        attributes: Mapping[str, Any] | None = None,
    ) -> Asset:
        """The node of the declared ``kind`` named ``name``, logged unless it exists, with
        its ``links`` (those it lacks are added)."""
        return await self._call(ops.log_custom_node(kind, name, links=links, tags=tags, attributes=attributes))

    async def link_nodes(self, edge_kind: str, source: Ref, target: Ref) -> bool:
        """Links ``source`` to ``target`` by a declared edge kind; True when the edge is new."""
        return await self._call(ops.link_nodes(edge_kind, source, target))

    async def register_dataset(
        self, name: str, *, tags: Sequence[str] = (), attributes: Mapping[str, Any] | None = None
    ) -> Asset:
        """The dataset named ``name``, registered unless it exists."""
        return await self._call(ops.register_dataset(name, tags=tags, attributes=attributes))

    async def register_featureset(
        self, name: str, dataset: Ref, *, tags: Sequence[str] = (), attributes: Mapping[str, Any] | None = None
    ) -> Asset:
        """The featureset named ``name``, derived from ``dataset``, registered unless it exists."""
        return await self._call(ops.register_featureset(name, dataset, tags=tags, attributes=attributes))

    async def register_model(
        self,
        name: str,
        project: Ref,
        *,
        tags: Sequence[str] = (),
        attributes: Mapping[str, Any] | None = None,
        task: str | None = None,
        framework: str | None = None,
        default_hardware: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> Asset:
        """The model named ``name`` in ``project``, registered unless it exists. A model is
        a variation of its project: its ``task``, ``framework`` and ``default_hardware``
        (``{"serving": {"instance_type": ..., "cpu": ..., "memory_gb": ..., "gpu": ...,
        "gpu_type": ..., "count": ..., "extras": {...}}, "training": {...}}``)."""
        return await self._call(
            ops.register_model(
                name,
                project,
                tags=tags,
                attributes=attributes,
                task=task,
                framework=framework,
                default_hardware=default_hardware,
            )
        )

    async def register_model_version(
        self,
        model: Ref,
        run: Ref,
        source: str,
        *,
        signature: Mapping[str, Any] | None = None,
        description: str | None = None,
        status: str | None = None,
        tags: Sequence[str] = (),
        attributes: Mapping[str, Any] | None = None,
    ) -> ModelVersion:
        """The next version of ``model`` (1, 2, 3, ...), from ``run`` (a run of that model)
        and the saved model at ``source``; the same run and source again answer the
        version they registered (``created`` False)."""
        return await self._call(
            ops.register_model_version(
                model,
                run,
                source,
                signature=signature,
                description=description,
                status=status,
                tags=tags,
                attributes=attributes,
            )
        )

    async def model_version(self, model: Ref, *, version: int | None = None, alias: str | None = None) -> ModelVersion | None:
        """A version of ``model`` by number or by alias ("champion"); None when there is none."""
        return await self._call(ops.model_version(model, version=version, alias=alias))

    async def set_alias(self, model: Ref, alias: str, version: int, *, reason: str | None = None) -> Move:
        """Points ``alias`` of ``model`` at its version numbered ``version``."""
        return await self._call(ops.set_alias(model, alias, version, reason=reason))

    async def serve_version(
        self, deployment: Ref, *, version: int | None = None, alias: str | None = None, reason: str | None = None
    ) -> Move:
        """Points ``deployment`` at a version of its model, by number or by alias (needs the
        deployer or admin role)."""
        return await self._call(ops.serve_version(deployment, version=version, alias=alias, reason=reason))

    async def rollback(self, deployment: Ref, *, reason: str, version: int | None = None, alias: str | None = None) -> Move:
        """Moves ``deployment`` back to a version it served before, keeping ``reason``."""
        return await self._call(ops.serve_version(deployment, version=version, alias=alias, reason=reason, rollback=True))

    async def set_traffic(self, project: Ref, weights: Sequence[tuple[Ref, int]], *, reason: str | None = None) -> dict[str, int]:
        """Shares ``project``'s traffic between its live deployments: (deployment, percent)
        pairs summing to 100. Answers the weights by deployment id."""
        return await self._call(ops.set_traffic(project, weights, reason=reason))

    async def create_job(
        self,
        project: Ref,
        type: str,
        *,
        model: Ref | None = None,
        deployment: Ref | None = None,
        spec: Mapping[str, Any] | None = None,
        env: Mapping[str, str] | None = None,
        image: str | None = None,
        model_path: str | None = None,
        hardware: Mapping[str, Any] | None = None,
    ) -> Job:
        """A PENDING "train" job of ``model`` or "serve" job of ``deployment``, with the
        snapshot it runs from (a secret's env value is a ``secret:<name>`` reference)."""
        return await self._call(
            ops.create_job(
                project,
                type,
                model=model,
                deployment=deployment,
                spec=spec,
                env=env,
                image=image,
                model_path=model_path,
                hardware=hardware,
            )
        )

    async def replay_job(self, job: Ref | Job) -> Job:
        """A new PENDING job with exactly ``job``'s snapshot; ``job`` is not changed."""
        return await self._call(ops.replay_job(job))

    async def update_job_status(self, job: Ref | Job, status: str, *, run: Ref | None = None, message: str | None = None) -> Job:
        """Reports a job's status (running, succeeded, failed, cancelled); a train job that
        succeeded names the ``run`` it produced."""
        return await self._call(ops.update_job_status(job, status, run=run, message=message))

    async def jobs(
        self, *, status: str | None = None, type: str | None = None, project: Ref | None = None, first: int = 100
    ) -> list[Job]:
        """Jobs oldest first, e.g. ``jobs(status="pending")``: the work an executor takes."""
        return await self._call(ops.jobs(status=status, type=type, project=project, first=first))

    async def log_run(
        self,
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
    ) -> LoggedRun:
        """Logs one training run of ``model`` on ``dataset`` and ``featureset``, with its
        params and metrics; ``deployment_tag`` marks it for ``register_deployment``.
        Naive times are taken as UTC."""
        return await self._call(
            ops.log_run(
                model=model,
                dataset=dataset,
                featureset=featureset,
                params=params,
                metrics=metrics,
                name=name,
                tag=tag,
                deployment_tag=deployment_tag,
                status=status,
                start_time=start_time,
                end_time=end_time,
                tags=tags,
                attributes=attributes,
            )
        )

    async def log_runs(self, runs: Sequence[Mapping[str, Any]]) -> list[LoggedRun]:
        """Logs many runs (each a mapping of ``log_run``'s keyword arguments) in requests
        of up to 500. Each request is atomic: all its runs are logged, or on an error
        none of them (those of earlier requests stand). All runs are checked first."""
        return await self._call(ops.log_runs(runs))

    async def register_deployment(
        self,
        name: str | None = None,
        *,
        deployment_tag: str | None = None,
        model: Ref | None = None,
        featureset: Ref | None = None,
        model_params: Ref | None = None,
        tag: str | None = None,
        tags: Sequence[str] = (),
        attributes: Mapping[str, Any] | None = None,
    ) -> Asset:
        """A deployment of the run carrying ``deployment_tag``, or of the ``model``,
        ``featureset`` and ``model_params`` given."""
        return await self._call(
            ops.register_deployment(
                name,
                deployment_tag=deployment_tag,
                model=model,
                featureset=featureset,
                model_params=model_params,
                tag=tag,
                tags=tags,
                attributes=attributes,
            )
        )

    async def log_serving_perf(
        self,
        *,
        period_start: dt.datetime,
        period_end: dt.datetime,
        metrics: Mapping[str, float],
        deployment: Ref | None = None,
        deployment_tag: str | None = None,
        tags: Sequence[str] = (),
        attributes: Mapping[str, Any] | None = None,
    ) -> Asset:
        """Logs a deployment's serving metrics for a period (naive times are UTC)."""
        return await self._call(
            ops.log_serving_perf(
                period_start=period_start,
                period_end=period_end,
                metrics=metrics,
                deployment=deployment,
                deployment_tag=deployment_tag,
                tags=tags,
                attributes=attributes,
            )
        )

    async def lookup_project(self, name: str) -> Asset | None:
        """The project named ``name``, or None."""
        return await self._call(ops.lookup("project", name))

    async def lookup_dataset(self, name: str) -> Asset | None:
        """The dataset named ``name``, or None."""
        return await self._call(ops.lookup("dataset", name))

    async def lookup_featureset(self, name: str) -> Asset | None:
        """The featureset named ``name``, or None."""
        return await self._call(ops.lookup("featureset", name))

    async def lookup_model(self, name: str, project: Ref | None = None) -> Asset | None:
        """The model named ``name`` (in ``project``, when several projects have one), or None."""
        return await self._call(ops.lookup("model", name, project))

    async def find(self, kind: str | None, attribute: str, value: Any, *, first: int = 100) -> list[Asset]:
        """Up to ``first`` nodes of ``kind`` (any kind if None) whose attribute equals
        ``value``; ``attribute="deployment_tag"`` finds by deployment tag."""
        return await self._call(ops.find(kind, attribute, value, first=first))

    async def lineage(
        self,
        node: Ref,
        direction: str = "upstream",
        depth: int | None = None,
        *,
        limit: int | None = None,
        as_of: dt.datetime | None = None,
    ) -> Lineage:
        """What ``node`` was derived from ("upstream"), what was derived from it
        ("downstream"), or both, up to ``depth`` edges and ``limit`` nodes; with ``as_of``,
        in the graph as it was at that time (a time without a zone is UTC)."""
        return await self._call(ops.lineage(node, direction, depth, limit=limit, as_of=as_of))

    async def runs_logged(self, model: Ref, *, after: str | None = None) -> AsyncIterator[Logged]:
        """The runs logged to ``model`` as they are logged, a change at a time, from after
        the cursor ``after`` (None: from now on), for as long as it is iterated. A lost
        connection (the gateway restarted) is opened again from the last change given,
        retried as calls are: none is missed, none given twice.

            async for change in mg.runs_logged(model):
                print(change.at, [run.name for run in change.nodes])
        """
        variables = {"model": ops._id(model)}
        async for event in subscribe(self._endpoint, ops.RUNS_LOGGED, "runLogged", variables, after):
            yield ops.logged(event, "runs")

    async def serving_perf_logged(self, deployment: Ref, *, after: str | None = None) -> AsyncIterator[Logged]:
        """The serving-performance records logged to ``deployment``, as ``runs_logged``."""
        variables = {"deployment": ops._id(deployment)}
        async for event in subscribe(self._endpoint, ops.SERVING_PERF_LOGGED, "servingPerfLogged", variables, after):
            yield ops.logged(event, "servingPerf")

    async def subscribe(
        self, document: str, field: str, variables: Mapping[str, Any] | None = None, *, after: str | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """Each event of any subscription: ``document`` subscribes to ``field`` (taking
        ``$after: String`` and selecting its ``cursor``), as ``runs_logged`` resumes."""
        async for event in subscribe(self._endpoint, document, field, dict(variables or {}), after):
            yield event

    async def execute(self, document: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The ``data`` of any GraphQL document. It is retried like every call: give a
        mutation an ``idempotencyKey`` so that a retry cannot record it twice."""
        return await self._call(ops.execute(document, variables))

    @asynccontextmanager
    async def run(
        self,
        *,
        project: str,
        model: str,
        dataset: str,
        featureset: str,
        name: str | None = None,
        tag: str | None = None,
        deployment_tag: str | None = None,
    ) -> AsyncIterator[RunRecorder]:
        """Records one training run around an ``async with`` block: its times, what it logs with
        ``log_params`` and ``log_perf``, and COMPLETED, or FAILED with the error when the
        block raises (the error goes on). The project, model, dataset and featureset are
        registered unless they exist; ``logged`` holds the run after the block."""
        recorder = await self._call(
            start_run(
                project=project,
                model=model,
                dataset=dataset,
                featureset=featureset,
                name=name,
                tag=tag,
                deployment_tag=deployment_tag,
            )
        )
        try:
            yield recorder
        except BaseException as error:
            recorder.logged = await self._call(recorder._finish(error))
            raise
        recorder.logged = await self._call(recorder._finish(None))

    @asynccontextmanager
    async def step(
        self,
        name: str,
        phase: str = "other",
        *,
        inputs: Sequence[StepAsset] = (),
        outputs: Sequence[StepAsset] = (),
        parent: LoggedStep | Ref | None = None,
        tags: Sequence[str] = (),
        attributes: Mapping[str, Any] | None = None,
    ) -> AsyncIterator[StepRecorder]:
        """Records one step of a pipeline around a ``with`` block: its times, what it read
        and wrote (``inputs``, ``outputs``, and ``read``/``wrote`` inside the block; a
        ``str`` is a dataset's name, registered when the step writes it new), the
        attributes it logs, and SUCCEEDED, or FAILED with the error when the block raises
        (the error goes on). ``phase``: fetch, clean, prepare, train, evaluate, validate,
        deploy, inference, consume or other. ``parent``: the pipeline run (from
        ``pipeline``), job or run it belongs to. ``logged`` holds the step after the block,
        recorded with all its edges in one write."""
        recorder = StepRecorder(name, phase, inputs=inputs, outputs=outputs, parent=parent, tags=tags, attributes=attributes)
        try:
            yield recorder
        except BaseException as error:
            recorder.logged = await self._call(recorder._finish(error))
            raise
        recorder.logged = await self._call(recorder._finish(None))

    @asynccontextmanager
    async def pipeline(
        self, name: str, *, parent: Ref | None = None, tags: Sequence[str] = (), attributes: Mapping[str, Any] | None = None
    ) -> AsyncIterator[LoggedStep]:
        """A pipeline run around a ``with`` block: RUNNING from the start of the block,
        SUCCEEDED at its end, or FAILED with the error when it raises (the error goes on).
        Give what it yields as the ``parent`` of the block's steps."""
        pipeline = await self._call(start_pipeline(name, parent=parent, tags=tags, attributes=attributes))
        try:
            yield pipeline
        except BaseException as error:
            await self._call(finish_pipeline(pipeline, error))
            raise
        await self._call(finish_pipeline(pipeline, None))

    async def log_step(
        self,
        name: str,
        phase: str = "other",
        *,
        state: str | None = None,
        started_at: dt.datetime | None = None,
        ended_at: dt.datetime | None = None,
        parent: LoggedStep | Ref | None = None,
        inputs: Sequence[StepAsset] = (),
        outputs: Sequence[StepAsset] = (),
        tags: Sequence[str] = (),
        attributes: Mapping[str, Any] | None = None,
    ) -> LoggedStep:
        """Records a step in one write (``step`` does so around a block). ``state`` defaults
        to succeeded; a running one is moved on with ``update_step``."""
        return await self._call(
            ops.log_step(
                name,
                phase,
                state=state,
                started_at=started_at,
                ended_at=ended_at,
                parent=parent,
                inputs=inputs,
                outputs=outputs,
                tags=tags,
                attributes=attributes,
            )
        )

    async def update_step(
        self,
        step: LoggedStep | Ref,
        *,
        state: str | None = None,
        ended_at: dt.datetime | None = None,
        inputs: Sequence[StepAsset] = (),
        outputs: Sequence[StepAsset] = (),
        attributes: Mapping[str, Any] | None = None,
    ) -> LoggedStep:
        """Moves a step on (running -> succeeded, failed or cancelled) with what it read and
        wrote since, and attributes merged into its own."""
        return await self._call(
            ops.update_step(step, state=state, ended_at=ended_at, inputs=inputs, outputs=outputs, attributes=attributes)
        )

    async def log_metrics(self, run: Ref, points: Sequence[Mapping[str, Any]]) -> int:
        """Appends points (mappings of key, value, and step and timestamp when known) to a
        run's metric history, 10,000 a request; answers how many were appended. Each key's
        latest point becomes its value in the run's dev performance."""
        return await self._call(ops.log_metrics(run, points))

    async def log_series(
        self,
        run: Ref,
        key: str,
        values: Sequence[float],
        *,
        steps: Sequence[int] | None = None,
        timestamp: dt.datetime | None = None,
    ) -> int:
        """Appends one key's values at ``steps`` (one per value; 0 when not given), logged
        at ``timestamp`` (now), as series of 10,000 a request: a training loop's buffer,
        far cheaper to send than ``log_metrics``'s point each. Answers how many."""
        return await self._call(ops.log_series(run, key, values, steps=steps, timestamp=timestamp))

    async def metric_history(self, run: Ref, key: str, *, max_points: int | None = None) -> list[MetricPoint]:
        """A metric's points over training, in order: all of them, or at most ``max_points``
        downsampled by the gateway (the first and the last kept)."""
        return await self._call(ops.metric_history(run, key, max_points=max_points))

    async def _call(self, steps: Steps[T]) -> T:
        call = Call(steps, self.url)
        request = call.start()
        while request is not None:
            request = call.send(await self._send(request))
        return call.result

    async def _send(self, request: Request) -> Data:
        attempt = 0
        while True:
            attempt += 1
            try:
                with self._endpoint.exchange():
                    response = await self._http.post(self.url, content=request.body)
                return self._endpoint.read(response)
            except (Unavailable, DeadlineExceeded) as error:
                await asyncio.sleep(self._endpoint.pause(error, attempt))

"""The root Mutation. Each field is one atomic write."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import strawberry
from strawberry.utils.str_converters import to_camel_case

from metagate.resolvers import hub, registry, validate
from metagate.resolvers.ids import decode_id
from metagate.resolvers.registry import Registered, RunLogged, Then
from metagate.schema.context import Context, Info
from metagate.schema.deletion import DeletionMutation
from metagate.schema.hub import HUB_WRITES, HubMutation
from metagate.schema.inputs import (
    AddTagsInput,
    CreateProjectInput,
    LogRunInput,
    LogRunsInput,
    LogServingPerfInput,
    RegisterDatasetInput,
    RegisterDeploymentInput,
    RegisterFeaturesetInput,
    RegisterModelInput,
    UpdateAttributesInput,
    hardware_values,
)
from metagate.schema.kinds import KIND_WRITES, KindMutation
from metagate.schema.metrics import METRIC_WRITES, MetricMutation
from metagate.schema.steps import STEP_WRITES, StepMutation
from metagate.schema.types import (
    Dataset,
    Deployment,
    DevPerf,
    Featureset,
    Model,
    ModelParams,
    NodeType,
    Project,
    Run,
    ServingPerf,
    wrap,
)
from metagate.store.errors import BadUserInput
from metagate.store.model import Kind, Node


def _key(ctx: Context, key: str | None) -> str | None:
    """An idempotency key, in the namespace of the caller's token."""
    if key is None:
        return None
    key = validate.name(key, field="idempotencyKey")
    principal = ctx.principal
    return f"{principal.token_id if principal and principal.token_id else 'local'}:{key}"


def _opt_id(value: strawberry.ID | None, kind: Kind, field: str) -> str | None:
    return decode_id(value, kind, field=field) if value is not None else None


@strawberry.type
class CreateProjectPayload:
    project: Project
    created: bool = strawberry.field(description="False when the name existed: nothing was written.")


@strawberry.type
class RegisterDatasetPayload:
    dataset: Dataset
    created: bool


@strawberry.type
class RegisterFeaturesetPayload:
    featureset: Featureset
    created: bool


@strawberry.type
class RegisterModelPayload:
    model: Model
    created: bool


@strawberry.type
class LogRunPayload:
    run: Run
    model_params: ModelParams | None
    dev_perf: DevPerf | None
    created: bool = strawberry.field(
        description="False when the model had a run of this name with the same content: nothing was written."
    )


@strawberry.type
class LogRunsPayload:
    runs: list[LogRunPayload] = strawberry.field(description="In the order of the input's runs.")


def _run_values(run: dict[str, Any], at: str) -> dict[str, Any]:
    """registry.log_run's keyword arguments from a LogRunInput as GraphQL names it."""
    status = run.get("status")
    return {
        "model_id": decode_id(run["modelId"], Kind.MODEL, field=f"{at}modelId"),
        "dataset_id": decode_id(run["datasetId"], Kind.DATASET, field=f"{at}datasetId"),
        "featureset_id": decode_id(run["featuresetId"], Kind.FEATURESET, field=f"{at}featuresetId"),
        "params": run.get("params"),
        "metrics": run.get("metrics"),
        "name": run.get("name"),
        "tag": run.get("tag"),
        "deployment_tag": run.get("deploymentTag"),
        "status": None if status is None else getattr(status, "value", status),
        "start_time": run.get("startTime"),
        "end_time": run.get("endTime"),
        "tags": run.get("tags"),
        "attributes": run.get("attributes"),
    }


async def _log_runs(ctx: Context, runs: list[dict[str, Any]], key: str | None, then: Then | None = None) -> list[RunLogged]:
    arguments = []
    for i, run in enumerate(runs):
        if run.get("idempotencyKey") is not None:
            raise BadUserInput(
                f"runs[{i}].idempotencyKey: set the key on the batch, not on its runs", field=f"runs[{i}].idempotencyKey"
            )
        arguments.append(_run_values(run, f"runs[{i}]."))
    return await registry.log_runs(
        ctx.store,
        arguments,
        max_runs=ctx.limits.max_batch_runs,
        allowed_projects=ctx.allowed_projects,
        idempotency_key=_key(ctx, key),
        then=then,
    )


async def resolve_log_runs(_root: Any, info: Any, input: dict[str, Any]) -> LogRunsPayload:
    """`logRuns` straight from graphql-core's coerced arguments. strawberry's conversion of
    the input into LogRunInput objects resolves each field's type anew for every run,
    which took about half of a 500-run request; graphql-core has checked and coerced the
    values already (ids, JSON, DateTime, enums), so this resolver takes them as they are.
    ``build_schema`` installs it in place of strawberry's resolver of the same field."""
    logged = await _log_runs(info.context, input["runs"], input.get("idempotencyKey"))
    info.context.loaders.clear()
    return LogRunsPayload(runs=[_run_payload(r) for r in logged])


def _run_payload(r: RunLogged) -> LogRunPayload:
    return LogRunPayload(
        run=wrap(r.run),  # type: ignore[arg-type]
        model_params=wrap(r.model_params) if r.model_params else None,  # type: ignore[arg-type]
        dev_perf=wrap(r.dev_perf) if r.dev_perf else None,  # type: ignore[arg-type]
        created=r.created,
    )


@strawberry.type
class RegisterDeploymentPayload:
    deployment: Deployment
    created: bool


@strawberry.type
class LogServingPerfPayload:
    serving_perf: ServingPerf
    created: bool = strawberry.field(
        description="False when the deployment had this period with the same content: nothing was written."
    )


@strawberry.type
class NodePayload:
    node: NodeType


# -- the writes, as the resolvers below and the compiled path (schema.compiled) call them --


def _named(register: Callable[..., Awaitable[Registered]]) -> Callable[..., Awaitable[Registered]]:
    """The write of a kind registered by name alone (projects, datasets)."""

    async def write(ctx: Context, input: CreateProjectInput | RegisterDatasetInput, then: Then | None = None) -> Registered:
        return await register(
            ctx.store,
            name=input.name,
            tags=input.tags,
            attributes=input.attributes,
            idempotency_key=_key(ctx, input.idempotency_key),
            then=then,
        )

    return write


_create_project = _named(registry.create_project)
_register_dataset = _named(registry.register_dataset)


async def _register_featureset(ctx: Context, input: RegisterFeaturesetInput, then: Then | None = None) -> Registered:
    return await registry.register_featureset(
        ctx.store,
        name=input.name,
        dataset_id=decode_id(input.dataset_id, Kind.DATASET, field="datasetId"),
        tags=input.tags,
        attributes=input.attributes,
        idempotency_key=_key(ctx, input.idempotency_key),
        then=then,
    )


async def _register_model(ctx: Context, input: RegisterModelInput, then: Then | None = None) -> Registered:
    return await registry.register_model(
        ctx.store,
        name=input.name,
        project_id=decode_id(input.project_id, Kind.PROJECT, field="projectId"),
        tags=input.tags,
        attributes=input.attributes,
        variation=hub.variation(input.task, input.framework, hardware_values(input.default_hardware)) or None,
        allowed_projects=ctx.allowed_projects,
        idempotency_key=_key(ctx, input.idempotency_key),
        then=then,
    )


async def _log_run(ctx: Context, input: LogRunInput, then: Then | None = None) -> RunLogged:
    """logRun as strawberry's resolver gets it: the input as GraphQL names its fields."""
    return await _log_run_input(ctx, {to_camel_case(k): v for k, v in vars(input).items()}, then)


async def _register_deployment(ctx: Context, input: RegisterDeploymentInput, then: Then | None = None) -> Registered:
    return await registry.register_deployment(
        ctx.store,
        name=input.name,
        deployment_tag=input.deployment_tag,
        model_id=_opt_id(input.model_id, Kind.MODEL, "modelId"),
        featureset_id=_opt_id(input.featureset_id, Kind.FEATURESET, "featuresetId"),
        model_params_id=_opt_id(input.model_params_id, Kind.MODELPARAMS, "modelParamsId"),
        model_version_id=_opt_id(input.model_version_id, Kind.MODELVERSION, "modelVersionId"),
        tag=input.tag,
        tags=input.tags,
        attributes=input.attributes,
        actor=ctx.principal.token_id if ctx.principal else None,
        idempotency_key=_key(ctx, input.idempotency_key),
        then=then,
    )


async def _log_serving_perf(ctx: Context, input: LogServingPerfInput, then: Then | None = None) -> Registered:
    return await registry.log_serving_perf(
        ctx.store,
        period_start=input.period_start,
        period_end=input.period_end,
        metrics=input.metrics,
        deployment_id=_opt_id(input.deployment_id, Kind.DEPLOYMENT, "deploymentId"),
        deployment_tag=input.deployment_tag,
        tags=input.tags,
        attributes=input.attributes,
        allowed_projects=ctx.allowed_projects,
        idempotency_key=_key(ctx, input.idempotency_key),
        then=then,
    )


async def _update_attributes(ctx: Context, input: UpdateAttributesInput, then: Then | None = None) -> Node:
    return await registry.update_attributes(
        ctx.store,
        node_id=decode_id(input.id),
        attributes=input.attributes,
        replace=input.replace,
        allowed_projects=ctx.allowed_projects,
        idempotency_key=_key(ctx, input.idempotency_key),
        then=then,
    )


async def _add_tags(ctx: Context, input: AddTagsInput, then: Then | None = None) -> Node:
    return await registry.add_tags(
        ctx.store,
        node_id=decode_id(input.id),
        tags=input.tags,
        allowed_projects=ctx.allowed_projects,
        idempotency_key=_key(ctx, input.idempotency_key),
        then=then,
    )


async def _log_run_input(ctx: Context, input: dict[str, Any], then: Then | None = None) -> RunLogged:
    """logRun from graphql-core's coerced input, as logRuns takes its runs (the compiled
    path: strawberry's conversion into LogRunInput, only to be taken apart again, was a
    sixth of a logRun's time in the gateway)."""
    return await registry.log_run(
        ctx.store,
        **_run_values(input, ""),
        allowed_projects=ctx.allowed_projects,
        idempotency_key=_key(ctx, input.get("idempotencyKey")),
        then=then,
    )


async def _log_runs_input(ctx: Context, input: dict[str, Any], then: Then | None = None) -> list[RunLogged]:
    return await _log_runs(ctx, input["runs"], input.get("idempotencyKey"), then)


def _registered(field: str) -> Callable[[Registered], dict[str, Any]]:
    return lambda result: {field: result.node.id, "created": result.created}


def _run_logged(r: RunLogged) -> dict[str, Any]:
    return {
        "run": r.run.id,
        "modelParams": r.model_params.id if r.model_params else None,
        "devPerf": r.dev_perf.id if r.dev_perf else None,
        "created": r.created,
    }


@dataclass(frozen=True)
class Write:
    """A mutation field as the compiled path runs it: ``write`` takes the context, the
    field's ``input`` argument (strawberry's input object; graphql-core's coerced value
    when ``raw_input``) and a ``then`` hook; ``values`` are what the payload's fields take
    from the write's result (node ids, None, ``created``; a list of such for lists)."""

    write: Callable[[Context, Any, Then | None], Awaitable[Any]]
    values: Callable[[Any], dict[str, Any]]
    raw_input: bool = False


WRITES: dict[str, Write] = {
    "createProject": Write(_create_project, _registered("project")),
    "registerDataset": Write(_register_dataset, _registered("dataset")),
    "registerFeatureset": Write(_register_featureset, _registered("featureset")),
    "registerModel": Write(_register_model, _registered("model")),
    "logRun": Write(_log_run_input, _run_logged, raw_input=True),
    "logRuns": Write(_log_runs_input, lambda runs: {"runs": [_run_logged(r) for r in runs]}, raw_input=True),
    "registerDeployment": Write(_register_deployment, _registered("deployment")),
    "logServingPerf": Write(_log_serving_perf, _registered("servingPerf")),
    "updateAttributes": Write(_update_attributes, lambda node: {"node": node.id}),
    "addTags": Write(_add_tags, lambda node: {"node": node.id}),
    **{name: Write(write, values) for name, (write, values) in (HUB_WRITES | STEP_WRITES | KIND_WRITES).items()},
    **{name: Write(write, values, raw_input=True) for name, (write, values) in METRIC_WRITES.items()},
}


@strawberry.type
class Mutation(HubMutation, StepMutation, MetricMutation, KindMutation, DeletionMutation):
    @strawberry.mutation
    async def create_project(self, info: Info, input: CreateProjectInput) -> CreateProjectPayload:
        r = await _create_project(info.context, input)
        info.context.loaders.clear()
        return CreateProjectPayload(project=wrap(r.node), created=r.created)  # type: ignore[arg-type]

    @strawberry.mutation
    async def register_dataset(self, info: Info, input: RegisterDatasetInput) -> RegisterDatasetPayload:
        r = await _register_dataset(info.context, input)
        info.context.loaders.clear()
        return RegisterDatasetPayload(dataset=wrap(r.node), created=r.created)  # type: ignore[arg-type]

    @strawberry.mutation
    async def register_featureset(self, info: Info, input: RegisterFeaturesetInput) -> RegisterFeaturesetPayload:
        r = await _register_featureset(info.context, input)
        info.context.loaders.clear()
        return RegisterFeaturesetPayload(featureset=wrap(r.node), created=r.created)  # type: ignore[arg-type]

    @strawberry.mutation
    async def register_model(self, info: Info, input: RegisterModelInput) -> RegisterModelPayload:
        r = await _register_model(info.context, input)
        info.context.loaders.clear()
        return RegisterModelPayload(model=wrap(r.node), created=r.created)  # type: ignore[arg-type]

    @strawberry.mutation(
        description="Logs a training run with its model params and dev performance in one write. Logging a run name"
        " the model already has returns the stored run with created: false when everything the input states agrees"
        " with it, and is a CONFLICT naming each field that differs otherwise (see LogRunInput); nothing is"
        " written either way."
    )
    async def log_run(self, info: Info, input: LogRunInput) -> LogRunPayload:
        r = await _log_run(info.context, input)
        info.context.loaders.clear()
        return _run_payload(r)

    @strawberry.mutation(
        description="Logs many runs in one transaction: all of them, or on any error none. Each run behaves as"
        " in logRun: a stored name with the same content answers the stored run (created: false), other content"
        " is a CONFLICT naming the run and its fields (runs[3].metrics.rmse). A name repeated within the batch is"
        " one run: the first entry logs it, a later one with the same content answers it with created: false,"
        " one with other content is a CONFLICT at the later index. Idempotency keys go on the batch, not on its runs."
    )
    async def log_runs(self, info: Info, input: LogRunsInput) -> LogRunsPayload:
        runs = [{to_camel_case(k): v for k, v in vars(run).items()} for run in input.runs]
        logged = await _log_runs(info.context, runs, input.idempotency_key)
        info.context.loaders.clear()
        return LogRunsPayload(runs=[_run_payload(r) for r in logged])

    @strawberry.mutation
    async def register_deployment(self, info: Info, input: RegisterDeploymentInput) -> RegisterDeploymentPayload:
        r = await _register_deployment(info.context, input)
        info.context.loaders.clear()
        return RegisterDeploymentPayload(deployment=wrap(r.node), created=r.created)  # type: ignore[arg-type]

    @strawberry.mutation(
        description="Logs a deployment's serving performance for a period. A period is logged once per deployment:"
        " again with the same content it returns the stored record with created: false, with other content it is"
        " a CONFLICT naming each field that differs (metrics.rmse, tags, attributes); nothing is written either way."
    )
    async def log_serving_perf(self, info: Info, input: LogServingPerfInput) -> LogServingPerfPayload:
        r = await _log_serving_perf(info.context, input)
        info.context.loaders.clear()
        return LogServingPerfPayload(serving_perf=wrap(r.node), created=r.created)  # type: ignore[arg-type]

    @strawberry.mutation(description="Merges top-level keys into a node's attributes (or replaces them).")
    async def update_attributes(self, info: Info, input: UpdateAttributesInput) -> NodePayload:
        node = await _update_attributes(info.context, input)
        info.context.loaders.clear()
        return NodePayload(node=wrap(node))

    @strawberry.mutation
    async def add_tags(self, info: Info, input: AddTagsInput) -> NodePayload:
        node = await _add_tags(info.context, input)
        info.context.loaders.clear()
        return NodePayload(node=wrap(node))

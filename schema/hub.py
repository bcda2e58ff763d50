"""The information hub's mutations and their inputs: model variations, versions and
aliases, the version a deployment serves, a project's status and traffic weights."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.scalars import JSON

from metagate.resolvers import hub, jobs, queries
from metagate.resolvers.ids import decode_id
from metagate.resolvers.registry import Moved, Registered, Then
from metagate.schema.context import Context, Info
from metagate.schema.inputs import DefaultHardwareInput, HardwareSpecInput, hardware_values, spec_values
from metagate.schema.types import (
    ENUMS,
    Connection,
    Deployment,
    Job,
    Model,
    ModelVersion,
    Project,
    connection,
    model_version_of,
    wrap,
)
from metagate.schema.where import ModelVersionWhere, to_where
from metagate.store.model import Kind
from metagate.store.port import AllOf, Compare, Op, Subject

ProjectStage = ENUMS["ProjectStage"]
ModelVersionStatus = ENUMS["ModelVersionStatus"]
JobType = ENUMS["JobType"]
JobState = ENUMS["JobState"]
_KEY_HELP = "A retry with the same key writes nothing and answers with what the first call wrote."


def _key(ctx: Context, key: str | None) -> str | None:
    from metagate.schema.mutation import _key as namespaced

    return namespaced(ctx, key)


def _actor(ctx: Context) -> str | None:
    return ctx.principal.token_id if ctx.principal else None


@strawberry.input(description="Sets what is given of a model's variation.")
class UpdateModelInput:
    id: strawberry.ID
    task: str | None = None
    framework: str | None = None
    default_hardware: DefaultHardwareInput | None = None
    idempotency_key: str | None = strawberry.field(default=None, description=_KEY_HELP)


@strawberry.input(
    description="A new version of a model, from the run that produced it and the saved model's URI. The same run"
    " and source again answer the version they registered, with created: false."
)
class RegisterModelVersionInput:
    model_id: strawberry.ID
    run_id: strawberry.ID
    source: str
    signature: JSON | None = None
    description: str | None = None
    registration: ModelVersionStatus | None = None  # type: ignore[valid-type]
    tags: list[str] | None = None
    attributes: JSON | None = None
    idempotency_key: str | None = strawberry.field(default=None, description=_KEY_HELP)


@strawberry.input(description="Points an alias of a model (champion, fallback, ...) at one of its versions.")
class SetModelAliasInput:
    model_id: strawberry.ID
    alias: str
    version: int
    reason: str | None = None
    idempotency_key: str | None = strawberry.field(default=None, description=_KEY_HELP)


@strawberry.input(description="The version of its model a deployment serves: by number, or the one an alias points at.")
class ServeModelVersionInput:
    deployment_id: strawberry.ID
    version: int | None = None
    alias: str | None = None
    reason: str | None = None
    idempotency_key: str | None = strawberry.field(default=None, description=_KEY_HELP)


@strawberry.input(description="Moves a deployment back to a version it served before; the reason is kept with the move.")
class RollbackDeploymentInput:
    deployment_id: strawberry.ID
    reason: str
    version: int | None = None
    alias: str | None = None
    idempotency_key: str | None = strawberry.field(default=None, description=_KEY_HELP)


@strawberry.input
class TrafficWeightInput:
    deployment_id: strawberry.ID
    weight: int = strawberry.field(description="Percent, 0 to 100.")


@strawberry.input(
    description="How a project's traffic is shared between its live deployments: the weights sum to 100; a live"
    " deployment left out takes 0."
)
class SetTrafficWeightsInput:
    project_id: strawberry.ID
    weights: list[TrafficWeightInput]
    reason: str | None = None
    idempotency_key: str | None = strawberry.field(default=None, description=_KEY_HELP)


@strawberry.input
class SetProjectStageInput:
    project_id: strawberry.ID
    stage: ProjectStage  # type: ignore[valid-type]
    idempotency_key: str | None = strawberry.field(default=None, description=_KEY_HELP)


@strawberry.input(description="Marks a deployment RETIRED (its lifecycle): it takes no traffic and serves no new version.")
class RetireDeploymentInput:
    deployment_id: strawberry.ID
    idempotency_key: str | None = strawberry.field(default=None, description=_KEY_HELP)


@strawberry.input(
    description="A job of a project and the snapshot it runs from (spec, env, image, modelPath, hardware), kept"
    " frozen so that the job can be replayed exactly. A TRAIN job names the model it trains, a SERVE job the"
    " deployment it serves. An env variable whose name says it is a secret (HF_TOKEN, DB_PASSWORD, OPENAI_API_KEY, ...)"
    " takes a secret:<name> reference, never the secret."
)
class CreateJobInput:
    project_id: strawberry.ID
    type: JobType  # type: ignore[valid-type]
    model_id: strawberry.ID | None = None
    deployment_id: strawberry.ID | None = None
    spec: JSON | None = None
    env: JSON | None = None
    image: str | None = None
    model_path: str | None = None
    hardware: HardwareSpecInput | None = None
    tags: list[str] | None = None
    attributes: JSON | None = None
    idempotency_key: str | None = strawberry.field(default=None, description=_KEY_HELP)


@strawberry.input(description="A new PENDING job with exactly the snapshot of another; that job is not changed.")
class ReplayJobInput:
    job_id: strawberry.ID
    idempotency_key: str | None = strawberry.field(default=None, description=_KEY_HELP)


@strawberry.input(
    description="An executor's report of a job's status (Job.state): PENDING -> RUNNING -> SUCCEEDED or FAILED, or"
    " CANCELLED before the end. A TRAIN job that SUCCEEDED names the run it produced."
)
class UpdateJobStatusInput:
    job_id: strawberry.ID
    status: JobState  # type: ignore[valid-type]
    run_id: strawberry.ID | None = None
    message: str | None = None
    idempotency_key: str | None = strawberry.field(default=None, description=_KEY_HELP)


@strawberry.type
class JobPayload:
    job: Job


@strawberry.type
class ModelPayload:
    model: Model


@strawberry.type
class RegisterModelVersionPayload:
    model_version: ModelVersion
    created: bool = strawberry.field(description="False when this run and source had registered it: nothing was written.")


@strawberry.type
class SetModelAliasPayload:
    model: Model
    model_version: ModelVersion
    previous: ModelVersion | None = strawberry.field(description="The version the alias pointed at before.")
    moved: bool = strawberry.field(description="False when it pointed there already: nothing was written.")


@strawberry.type
class ServeModelVersionPayload:
    deployment: Deployment
    model_version: ModelVersion
    previous: ModelVersion | None = strawberry.field(description="The version it served before.")
    moved: bool = strawberry.field(description="False when it served that version already: nothing was written.")


@strawberry.type
class ProjectPayload:
    project: Project


@strawberry.type
class DeploymentPayload:
    deployment: Deployment


def _id(value: strawberry.ID, kind: Kind, field: str) -> str:
    return decode_id(value, kind, field=field)


def _enum_value(value: Any) -> Any:
    return getattr(value, "value", value)


async def _update_model(ctx: Context, input: UpdateModelInput, then: Then | None = None) -> Any:
    return await hub.update_model(
        ctx.store,
        model_id=_id(input.id, Kind.MODEL, "id"),
        task=input.task,
        framework=input.framework,
        default_hardware_=hardware_values(input.default_hardware),
        allowed_projects=ctx.allowed_projects,
        idempotency_key=_key(ctx, input.idempotency_key),
        then=then,
    )


async def _register_model_version(ctx: Context, input: RegisterModelVersionInput, then: Then | None = None) -> Registered:
    return await hub.register_model_version(
        ctx.store,
        model_id=_id(input.model_id, Kind.MODEL, "modelId"),
        run_id=_id(input.run_id, Kind.RUN, "runId"),
        source_=input.source,
        signature=input.signature,
        description=input.description,
        status=_enum_value(input.registration),
        tags=input.tags,
        attributes=input.attributes,
        allowed_projects=ctx.allowed_projects,
        idempotency_key=_key(ctx, input.idempotency_key),
        then=then,
    )


async def _set_model_alias(ctx: Context, input: SetModelAliasInput, then: Then | None = None) -> Moved:
    return await hub.set_model_alias(
        ctx.store,
        model_id=_id(input.model_id, Kind.MODEL, "modelId"),
        alias_name=input.alias,
        version=input.version,
        reason_=input.reason,
        actor=_actor(ctx),
        allowed_projects=ctx.allowed_projects,
        idempotency_key=_key(ctx, input.idempotency_key),
        then=then,
    )


async def _serve(
    ctx: Context, input: ServeModelVersionInput | RollbackDeploymentInput, rollback: bool, then: Then | None
) -> Moved:
    return await hub.serve_version(
        ctx.store,
        deployment_id=_id(input.deployment_id, Kind.DEPLOYMENT, "deploymentId"),
        version=input.version,
        alias_name=input.alias,
        reason_=input.reason,
        rollback=rollback,
        actor=_actor(ctx),
        allowed_projects=ctx.allowed_projects,
        idempotency_key=_key(ctx, input.idempotency_key),
        then=then,
    )


async def _serve_model_version(ctx: Context, input: ServeModelVersionInput, then: Then | None = None) -> Moved:
    return await _serve(ctx, input, False, then)


async def _rollback_deployment(ctx: Context, input: RollbackDeploymentInput, then: Then | None = None) -> Moved:
    return await _serve(ctx, input, True, then)


async def _set_traffic_weights(ctx: Context, input: SetTrafficWeightsInput, then: Then | None = None) -> Any:
    return await hub.set_traffic_weights(
        ctx.store,
        project_id=_id(input.project_id, Kind.PROJECT, "projectId"),
        weights=[
            (_id(w.deployment_id, Kind.DEPLOYMENT, f"weights[{i}].deploymentId"), w.weight) for i, w in enumerate(input.weights)
        ],
        reason_=input.reason,
        actor=_actor(ctx),
        allowed_projects=ctx.allowed_projects,
        idempotency_key=_key(ctx, input.idempotency_key),
        then=then,
    )


async def _set_project_stage(ctx: Context, input: SetProjectStageInput, then: Then | None = None) -> Any:
    return await hub.set_project_stage(
        ctx.store,
        project_id=_id(input.project_id, Kind.PROJECT, "projectId"),
        stage=_enum_value(input.stage),
        idempotency_key=_key(ctx, input.idempotency_key),
        then=then,
    )


async def _retire_deployment(ctx: Context, input: RetireDeploymentInput, then: Then | None = None) -> Any:
    return await hub.retire_deployment(
        ctx.store,
        deployment_id=_id(input.deployment_id, Kind.DEPLOYMENT, "deploymentId"),
        actor=_actor(ctx),
        allowed_projects=ctx.allowed_projects,
        idempotency_key=_key(ctx, input.idempotency_key),
        then=then,
    )


async def _create_job(ctx: Context, input: CreateJobInput, then: Then | None = None) -> Any:
    return await jobs.create_job(
        ctx.store,
        project_id=_id(input.project_id, Kind.PROJECT, "projectId"),
        type_=_enum_value(input.type),
        spec=input.spec,
        env_=input.env,
        image=input.image,
        model_path=input.model_path,
        hardware_=spec_values(input.hardware),
        model_id=_id(input.model_id, Kind.MODEL, "modelId") if input.model_id else None,
        deployment_id=_id(input.deployment_id, Kind.DEPLOYMENT, "deploymentId") if input.deployment_id else None,
        tags=input.tags,
        attributes=input.attributes,
        actor=_actor(ctx),
        allowed_projects=ctx.allowed_projects,
        idempotency_key=_key(ctx, input.idempotency_key),
        then=then,
    )


async def _replay_job(ctx: Context, input: ReplayJobInput, then: Then | None = None) -> Any:
    return await jobs.replay_job(
        ctx.store,
        job_id=_id(input.job_id, Kind.JOB, "jobId"),
        actor=_actor(ctx),
        allowed_projects=ctx.allowed_projects,
        idempotency_key=_key(ctx, input.idempotency_key),
        then=then,
    )


async def _update_job_status(ctx: Context, input: UpdateJobStatusInput, then: Then | None = None) -> Any:
    return await jobs.update_job_status(
        ctx.store,
        job_id=_id(input.job_id, Kind.JOB, "jobId"),
        status=_enum_value(input.status),
        run_id=_id(input.run_id, Kind.RUN, "runId") if input.run_id else None,
        message=input.message,
        actor=_actor(ctx),
        allowed_projects=ctx.allowed_projects,
        idempotency_key=_key(ctx, input.idempotency_key),
        then=then,
    )


def _moved(field: str) -> Any:
    return lambda m: {
        field: m.node.id,
        "modelVersion": m.version.id,
        "previous": m.previous.id if m.previous else None,
        "moved": m.moved,
    }


# The writes as the compiled path runs them (schema.mutation.WRITES takes these in).
HUB_WRITES: dict[str, tuple[Any, Any]] = {
    "updateModel": (_update_model, lambda node: {"model": node.id}),
    "registerModelVersion": (_register_model_version, lambda r: {"modelVersion": r.node.id, "created": r.created}),
    "setModelAlias": (_set_model_alias, _moved("model")),
    "serveModelVersion": (_serve_model_version, _moved("deployment")),
    "rollbackDeployment": (_rollback_deployment, _moved("deployment")),
    "setTrafficWeights": (_set_traffic_weights, lambda node: {"project": node.id}),
    "setProjectStage": (_set_project_stage, lambda node: {"project": node.id}),
    "retireDeployment": (_retire_deployment, lambda node: {"deployment": node.id}),
    "createJob": (_create_job, lambda node: {"job": node.id}),
    "replayJob": (_replay_job, lambda node: {"job": node.id}),
    "updateJobStatus": (_update_job_status, lambda node: {"job": node.id}),
}


def _node(node: Any) -> Any:
    return wrap(node)


def _version_or_none(node: Any) -> Any:
    return wrap(node) if node is not None else None


@strawberry.type
class HubMutation:
    @strawberry.mutation(description="Sets what is given of a model's variation: task, framework, default hardware.")
    async def update_model(self, info: Info, input: UpdateModelInput) -> ModelPayload:
        node = await _update_model(info.context, input)
        info.context.loaders.clear()
        return ModelPayload(model=_node(node))

    @strawberry.mutation(
        description="Registers the next version of a model (1, 2, 3, ...; a number is never given twice) from the"
        " run that produced it; lineage passes through it to that run."
    )
    async def register_model_version(self, info: Info, input: RegisterModelVersionInput) -> RegisterModelVersionPayload:
        r = await _register_model_version(info.context, input)
        info.context.loaders.clear()
        return RegisterModelVersionPayload(model_version=_node(r.node), created=r.created)

    @strawberry.mutation(description="Moves an alias of a model to one of its versions; the move is kept in aliasHistory.")
    async def set_model_alias(self, info: Info, input: SetModelAliasInput) -> SetModelAliasPayload:
        m = await _set_model_alias(info.context, input)
        info.context.loaders.clear()
        return SetModelAliasPayload(
            model=_node(m.node), model_version=_node(m.version), previous=_version_or_none(m.previous), moved=m.moved
        )

    @strawberry.mutation(
        description="Points a deployment at a version of its model; the move is kept in versionHistory. Needs the"
        " deployer or admin role."
    )
    async def serve_model_version(self, info: Info, input: ServeModelVersionInput) -> ServeModelVersionPayload:
        m = await _serve_model_version(info.context, input)
        info.context.loaders.clear()
        return _serve_payload(m)

    @strawberry.mutation(
        description="Moves a deployment back to a version it served before, keeping why. Needs the deployer or admin role."
    )
    async def rollback_deployment(self, info: Info, input: RollbackDeploymentInput) -> ServeModelVersionPayload:
        m = await _rollback_deployment(info.context, input)
        info.context.loaders.clear()
        return _serve_payload(m)

    @strawberry.mutation(
        description="Sets how a project's traffic is shared between its live deployments, atomically; the change is"
        " kept in trafficHistory. Needs the deployer or admin role."
    )
    async def set_traffic_weights(self, info: Info, input: SetTrafficWeightsInput) -> ProjectPayload:
        node = await _set_traffic_weights(info.context, input)
        info.context.loaders.clear()
        return ProjectPayload(project=_node(node))

    @strawberry.mutation(description="Moves a project through its lifecycle (its stage). Needs the admin role.")
    async def set_project_stage(self, info: Info, input: SetProjectStageInput) -> ProjectPayload:
        node = await _set_project_stage(info.context, input)
        info.context.loaders.clear()
        return ProjectPayload(project=_node(node))

    @strawberry.mutation(description="Retires a deployment that carries no traffic. Needs the deployer or admin role.")
    async def retire_deployment(self, info: Info, input: RetireDeploymentInput) -> DeploymentPayload:
        node = await _retire_deployment(info.context, input)
        info.context.loaders.clear()
        return DeploymentPayload(deployment=_node(node))

    @strawberry.mutation(description="Records a PENDING train or serve job with the frozen snapshot it runs from.")
    async def create_job(self, info: Info, input: CreateJobInput) -> JobPayload:
        node = await _create_job(info.context, input)
        info.context.loaders.clear()
        return JobPayload(job=_node(node))

    @strawberry.mutation(description="Replays a job: a new PENDING job with exactly its snapshot, linked to it (replayOf).")
    async def replay_job(self, info: Info, input: ReplayJobInput) -> JobPayload:
        node = await _replay_job(info.context, input)
        info.context.loaders.clear()
        return JobPayload(job=_node(node))

    @strawberry.mutation(description="An executor reports a job's status; each change is kept in statusHistory.")
    async def update_job_status(self, info: Info, input: UpdateJobStatusInput) -> JobPayload:
        node = await _update_job_status(info.context, input)
        info.context.loaders.clear()
        return JobPayload(job=_node(node))


def _serve_payload(m: Moved) -> ServeModelVersionPayload:
    return ServeModelVersionPayload(
        deployment=_node(m.node), model_version=_node(m.version), previous=_version_or_none(m.previous), moved=m.moved
    )


@strawberry.type
class HubQuery:
    @strawberry.field(description="A version of a model by number or by alias (champion, ...); null when there is none.")
    async def model_version(
        self, info: Info, model_id: strawberry.ID, version: int | None = None, alias: str | None = None
    ) -> ModelVersion | None:
        model = await info.context.loaders.nodes.load(_id(model_id, Kind.MODEL, "modelId"))
        if model is None or model.kind is not Kind.MODEL:
            return None
        return await model_version_of(wrap(model), info, version, alias)

    @strawberry.field(
        description="The model zoo: production-ready model versions (their model's champion, or served by a live"
        ' deployment), newest first, e.g. where {model: {task: {eq: "ranking"}}, run: {devPerf: {metric:'
        ' {name: "ndcg", gt: 0.7}}}}. Each answers its source, signature, model (task, framework), run (dev'
        " metrics, lineage) and deployments (serving metrics)."
    )
    async def model_zoo(
        self, info: Info, where: ModelVersionWhere | None = None, first: int | None = None, after: str | None = None
    ) -> Connection[ModelVersion]:
        args = zoo_args(where, first, after)
        return connection(await queries.list_nodes(info.context.store, info.context.limits, args))

    @strawberry.field(
        description="Jobs, oldest first: an executor asks for jobs(status: PENDING) and reports with updateJobStatus."
        " Optionally of one type and one project."
    )
    async def jobs(
        self,
        info: Info,
        status: JobState | None = None,  # type: ignore[valid-type]
        type: JobType | None = None,  # type: ignore[valid-type]
        project_id: strawberry.ID | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Job]:
        args = jobs_args(status, type, project_id, first, after)
        return connection(await queries.list_nodes(info.context.store, info.context.limits, args))


def zoo_args(where: Any, first: int | None, after: str | None) -> Any:
    """The list ``modelZoo(...)`` reads: the LISTED versions that match ``where``, newest first."""
    listed = Compare(Subject.CHOICE, Op.EQ, "LISTED", key="zoo", default="UNLISTED")
    given = to_where(Kind.MODELVERSION, where) if where is not None else None
    return queries.ListArgs(
        kinds=(Kind.MODELVERSION,), first=first, after=after, where=AllOf((listed, given)) if given else listed
    )


def jobs_args(status: Any, type_: Any, project_id: strawberry.ID | None, first: int | None, after: str | None) -> Any:
    """The list ``jobs(...)`` reads: oldest first, status and type as compared in the store."""
    tests = [
        Compare(Subject.CHOICE, Op.EQ, _enum_value(value), key=key, default=default)
        for key, value, default in (("status", status, "PENDING"), ("type", type_, None))
        if value is not None
    ]
    return queries.ListArgs(
        kinds=(Kind.JOB,),
        filter=queries.Filter(scope=_id(project_id, Kind.PROJECT, "projectId") if project_id else None),
        order=queries.Order(descending=False),
        first=first,
        after=after,
        where=(tests[0] if len(tests) == 1 else AllOf(tuple(tests))) if tests else None,
    )

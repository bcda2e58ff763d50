"""The root Mutation. Each field is one atomic write."""

from __future__ import annotations

import strawberry

from resolvers import registry, validate
from resolvers.ids import decode_id
from schema.context import Info
from schema.inputs import (
    AddTagsInput,
    CreateProjectInput,
    LogRunInput,
    LogServingPerfInput,
    RegisterDatasetInput,
    RegisterDeploymentInput,
    RegisterFeaturesetInput,
    RegisterModelInput,
    UpdateAttributesInput,
)
from schema.types import (
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
from store.model import Kind


def _key(info: Info, key: str | None) -> str | None:
    """An idempotency key, in the namespace of the caller's token."""
    if key is None:
        return None
    key = validate.name(key, field="idempotencyKey")
    principal = info.context.principal
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
    created: bool


@strawberry.type
class RegisterDeploymentPayload:
    deployment: Deployment
    created: bool


@strawberry.type
class LogServingPerfPayload:
    serving_perf: ServingPerf


@strawberry.type
class NodePayload:
    node: NodeType


@strawberry.type
class Mutation:
    @strawberry.mutation
    async def create_project(self, info: Info, input: CreateProjectInput) -> CreateProjectPayload:
        r = await registry.create_project(
            info.context.store, name=input.name, tags=input.tags, attributes=input.attributes,
            idempotency_key=_key(info, input.idempotency_key),
        )
        info.context.loaders.clear()
        return CreateProjectPayload(project=wrap(r.node), created=r.created)  # type: ignore[arg-type]

    @strawberry.mutation
    async def register_dataset(self, info: Info, input: RegisterDatasetInput) -> RegisterDatasetPayload:
        r = await registry.register_dataset(
            info.context.store, name=input.name, tags=input.tags, attributes=input.attributes,
            idempotency_key=_key(info, input.idempotency_key),
        )
        info.context.loaders.clear()
        return RegisterDatasetPayload(dataset=wrap(r.node), created=r.created)  # type: ignore[arg-type]

    @strawberry.mutation
    async def register_featureset(
        self, info: Info, input: RegisterFeaturesetInput
    ) -> RegisterFeaturesetPayload:
        r = await registry.register_featureset(
            info.context.store,
            name=input.name,
            dataset_id=decode_id(input.dataset_id, Kind.DATASET, field="datasetId"),
            tags=input.tags,
            attributes=input.attributes,
            idempotency_key=_key(info, input.idempotency_key),
        )
        info.context.loaders.clear()
        return RegisterFeaturesetPayload(featureset=wrap(r.node), created=r.created)  # type: ignore[arg-type]

    @strawberry.mutation
    async def register_model(self, info: Info, input: RegisterModelInput) -> RegisterModelPayload:
        r = await registry.register_model(
            info.context.store,
            name=input.name,
            project_id=decode_id(input.project_id, Kind.PROJECT, field="projectId"),
            tags=input.tags,
            attributes=input.attributes,
            allowed_projects=info.context.allowed_projects,
            idempotency_key=_key(info, input.idempotency_key),
        )
        info.context.loaders.clear()
        return RegisterModelPayload(model=wrap(r.node), created=r.created)  # type: ignore[arg-type]

    @strawberry.mutation
    async def log_run(self, info: Info, input: LogRunInput) -> LogRunPayload:
        r = await registry.log_run(
            info.context.store,
            model_id=decode_id(input.model_id, Kind.MODEL, field="modelId"),
            dataset_id=decode_id(input.dataset_id, Kind.DATASET, field="datasetId"),
            featureset_id=decode_id(input.featureset_id, Kind.FEATURESET, field="featuresetId"),
            params=input.params,
            metrics=input.metrics,
            name=input.name,
            tag=input.tag,
            deployment_tag=input.deployment_tag,
            status=input.status.value,
            start_time=input.start_time,
            end_time=input.end_time,
            tags=input.tags,
            attributes=input.attributes,
            allowed_projects=info.context.allowed_projects,
            idempotency_key=_key(info, input.idempotency_key),
        )
        info.context.loaders.clear()
        return LogRunPayload(
            run=wrap(r.run),  # type: ignore[arg-type]
            model_params=wrap(r.model_params) if r.model_params else None,  # type: ignore[arg-type]
            dev_perf=wrap(r.dev_perf) if r.dev_perf else None,  # type: ignore[arg-type]
            created=r.created,
        )

    @strawberry.mutation
    async def register_deployment(
        self, info: Info, input: RegisterDeploymentInput
    ) -> RegisterDeploymentPayload:
        r = await registry.register_deployment(
            info.context.store,
            name=input.name,
            deployment_tag=input.deployment_tag,
            model_id=_opt_id(input.model_id, Kind.MODEL, "modelId"),
            featureset_id=_opt_id(input.featureset_id, Kind.FEATURESET, "featuresetId"),
            model_params_id=_opt_id(input.model_params_id, Kind.MODELPARAMS, "modelParamsId"),
            tag=input.tag,
            tags=input.tags,
            attributes=input.attributes,
            idempotency_key=_key(info, input.idempotency_key),
        )
        info.context.loaders.clear()
        return RegisterDeploymentPayload(deployment=wrap(r.node), created=r.created)  # type: ignore[arg-type]

    @strawberry.mutation
    async def log_serving_perf(self, info: Info, input: LogServingPerfInput) -> LogServingPerfPayload:
        node = await registry.log_serving_perf(
            info.context.store,
            period_start=input.period_start,
            period_end=input.period_end,
            metrics=input.metrics,
            deployment_id=_opt_id(input.deployment_id, Kind.DEPLOYMENT, "deploymentId"),
            deployment_tag=input.deployment_tag,
            tags=input.tags,
            attributes=input.attributes,
            allowed_projects=info.context.allowed_projects,
            idempotency_key=_key(info, input.idempotency_key),
        )
        info.context.loaders.clear()
        return LogServingPerfPayload(serving_perf=wrap(node))  # type: ignore[arg-type]

    @strawberry.mutation(description="Merges top-level keys into a node's attributes (or replaces them).")
    async def update_attributes(self, info: Info, input: UpdateAttributesInput) -> NodePayload:
        node = await registry.update_attributes(
            info.context.store,
            node_id=decode_id(input.id),
            attributes=input.attributes,
            replace=input.replace,
            allowed_projects=info.context.allowed_projects,
            idempotency_key=_key(info, input.idempotency_key),
        )
        info.context.loaders.clear()
        return NodePayload(node=wrap(node))

    @strawberry.mutation
    async def add_tags(self, info: Info, input: AddTagsInput) -> NodePayload:
        node = await registry.add_tags(
            info.context.store,
            node_id=decode_id(input.id),
            tags=input.tags,
            allowed_projects=info.context.allowed_projects,
            idempotency_key=_key(info, input.idempotency_key),
        )
        info.context.loaders.clear()
        return NodePayload(node=wrap(node))

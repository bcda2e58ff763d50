"""Input types: filters, orderings and mutation inputs."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

import strawberry
from strawberry.scalars import JSON

from metagate.resolvers import queries
from metagate.resolvers.ids import decode_id
from metagate.schema.types import RunStatus
from metagate.store.model import Kind
from metagate.store.port import MetricFilter, OrderField


@strawberry.enum
class OrderDirection(enum.Enum):
    ASC = "asc"
    DESC = "desc"


@strawberry.enum
class NodeOrderField(enum.Enum):
    CREATED_AT = "created_at"
    NAME = "name"


@strawberry.enum
class RunOrderField(enum.Enum):
    CREATED_AT = "created_at"
    NAME = "name"
    METRIC = "metric"


@strawberry.input(description="Matches nodes whose attribute `key` equals `value` (a JSON scalar).")
class AttributeInput:
    key: str
    value: JSON | None = None


@strawberry.input(description="Bounds on a development-performance metric, e.g. rmse < 0.5.")
class MetricFilterInput:
    name: str
    lt: float | None = None
    lte: float | None = None
    gt: float | None = None
    gte: float | None = None


@strawberry.input
class NodeFilter:
    name: str | None = None
    name_contains: str | None = None
    tag: str | None = None
    attribute: AttributeInput | None = None
    created_after: dt.datetime | None = strawberry.field(default=None, description="Inclusive.")
    created_before: dt.datetime | None = strawberry.field(default=None, description="Exclusive.")

    def to_filter(self) -> queries.Filter:
        return queries.Filter(
            name=self.name,
            name_contains=self.name_contains,
            tag=self.tag,
            attribute_key=self.attribute.key if self.attribute else None,
            attribute_value=self.attribute.value if self.attribute else None,
            has_attribute=self.attribute is not None,
            created_after=self.created_after,
            created_before=self.created_before,
        )


@strawberry.input
class ModelFilter(NodeFilter):
    project_id: strawberry.ID | None = None
    deployment_tag: str | None = strawberry.field(
        default=None, description="Models trained by the run that carries this deployment tag."
    )

    def to_filter(self) -> queries.Filter:
        f = super().to_filter()
        if self.project_id is not None:
            f.scope = decode_id(self.project_id, Kind.PROJECT, field="projectId")
        f.deployment_tag = self.deployment_tag
        return f


@strawberry.input
class RunFilter(NodeFilter):
    model_id: strawberry.ID | None = None
    deployment_tag: str | None = None
    metric: MetricFilterInput | None = None

    def to_filter(self) -> queries.Filter:
        f = super().to_filter()
        if self.model_id is not None:
            f.scope = decode_id(self.model_id, Kind.MODEL, field="modelId")
        f.deployment_tag = self.deployment_tag
        if self.metric is not None:
            m = self.metric
            f.metric = MetricFilter(m.name, lt=m.lt, lte=m.lte, gt=m.gt, gte=m.gte)
        return f


@strawberry.input
class DeploymentFilter(NodeFilter):
    deployment_tag: str | None = strawberry.field(
        default=None, description="The deployment's own tag (its run's deployment tag)."
    )

    def to_filter(self) -> queries.Filter:
        f = super().to_filter()
        f.deployment_tag = self.deployment_tag
        return f


@strawberry.input
class NodeOrder:
    field: NodeOrderField = NodeOrderField.CREATED_AT
    direction: OrderDirection = OrderDirection.DESC

    def to_order(self) -> queries.Order:
        return queries.Order(OrderField(self.field.value), self.direction is OrderDirection.DESC)


@strawberry.input(description="Order runs; METRIC orders by the dev-perf metric named in `metric`.")
class RunOrder:
    field: RunOrderField = RunOrderField.CREATED_AT
    direction: OrderDirection = OrderDirection.DESC
    metric: str | None = None

    def to_order(self) -> queries.Order:
        return queries.Order(OrderField(self.field.value), self.direction is OrderDirection.DESC, self.metric)


@strawberry.input
class CreateProjectInput:
    name: str
    tags: list[str] | None = None
    attributes: JSON | None = None
    idempotency_key: str | None = strawberry.field(
        default=None, description="A retry with the same key writes nothing and answers with what the first call wrote."
    )


@strawberry.input
class RegisterDatasetInput:
    name: str
    tags: list[str] | None = None
    attributes: JSON | None = None
    idempotency_key: str | None = strawberry.field(
        default=None, description="A retry with the same key writes nothing and answers with what the first call wrote."
    )


@strawberry.input
class RegisterFeaturesetInput:
    name: str
    dataset_id: strawberry.ID = strawberry.field(description="The dataset it was derived from.")
    tags: list[str] | None = None
    attributes: JSON | None = None
    idempotency_key: str | None = strawberry.field(
        default=None, description="A retry with the same key writes nothing and answers with what the first call wrote."
    )


@strawberry.input(description="Hardware to run on; every field optional.")
class HardwareSpecInput:
    instance_type: str | None = None
    cpu: float | None = None
    memory_gb: float | None = None
    gpu: int | None = None
    gpu_type: str | None = None
    count: int | None = None
    extras: JSON | None = None


@strawberry.input(description="The hardware a model is served and trained on by default.")
class DefaultHardwareInput:
    serving: HardwareSpecInput | None = None
    training: HardwareSpecInput | None = None


def spec_values(h: HardwareSpecInput | None) -> dict[str, Any] | None:
    """A hardware spec as ``hub.hardware`` checks it (camelCase keys)."""
    if h is None:
        return None
    return {
        "instanceType": h.instance_type,
        "cpu": h.cpu,
        "memoryGb": h.memory_gb,
        "gpu": h.gpu,
        "gpuType": h.gpu_type,
        "count": h.count,
        "extras": h.extras,
    }


def hardware_values(given: DefaultHardwareInput | None) -> dict[str, Any] | None:
    """The input as ``hub.default_hardware`` checks it."""
    if given is None:
        return None
    return {"serving": spec_values(given.serving), "training": spec_values(given.training)}


@strawberry.input
class RegisterModelInput:
    name: str
    project_id: strawberry.ID
    tags: list[str] | None = None
    attributes: JSON | None = None
    task: str | None = strawberry.field(default=None, description="What the model does: classification, ranking, ...")
    framework: str | None = strawberry.field(default=None, description="What it is built with: scikit-learn, PyTorch, ...")
    default_hardware: DefaultHardwareInput | None = None
    idempotency_key: str | None = strawberry.field(
        default=None, description="A retry with the same key writes nothing and answers with what the first call wrote."
    )


@strawberry.input(
    description="One training run with its model params and dev performance. Run names are unique per model:"
    " a name the model already has returns the stored run, its params and perf with created: false when every"
    " field this input states agrees with them, and is a CONFLICT naming each field that differs"
    " (params.max_depth, metrics.rmse, datasetId, ...) otherwise; nothing is written either way. Compared, when"
    " stated: params and metrics key by key and attributes as JSON values (1 equals 1.0), datasetId,"
    " featuresetId, deploymentTag, tag, status, startTime and endTime as instants, tags as a set. A field left"
    " out or null is not compared."
)
class LogRunInput:
    model_id: strawberry.ID
    dataset_id: strawberry.ID
    featureset_id: strawberry.ID
    name: str | None = strawberry.field(
        default=None, description="Unique per model; a run logged without one is named by its generated key."
    )
    tag: str | None = None
    deployment_tag: str | None = None
    status: RunStatus | None = strawberry.field(default=None, description="COMPLETED when a new run leaves it out.")
    start_time: dt.datetime | None = None
    end_time: dt.datetime | None = None
    params: JSON | None = strawberry.field(default=None, description="Hyper-parameters (object).")
    metrics: JSON | None = strawberry.field(default=None, description="Metric name -> number.")
    tags: list[str] | None = None
    attributes: JSON | None = None
    idempotency_key: str | None = strawberry.field(
        default=None, description="A retry with the same key writes nothing and answers with what the first call wrote."
    )


@strawberry.input(
    description="Runs to log in one transaction. A name repeated within the batch for the same model is one run:"
    " its later entries are compared with the first as a re-log is with a stored run."
)
class LogRunsInput:
    runs: list[LogRunInput]
    idempotency_key: str | None = strawberry.field(
        default=None, description="A retry with the same key writes nothing and answers with what the first call wrote."
    )


@strawberry.input(
    description="From the run that carries `deploymentTag`, or from explicit modelId, featuresetId and modelParamsId."
)
class RegisterDeploymentInput:
    name: str | None = None
    deployment_tag: str | None = None
    model_id: strawberry.ID | None = None
    featureset_id: strawberry.ID | None = None
    model_params_id: strawberry.ID | None = None
    model_version_id: strawberry.ID | None = strawberry.field(
        default=None, description="The version of the deployment's model it serves from the start."
    )
    tag: str | None = None
    tags: list[str] | None = None
    attributes: JSON | None = None
    idempotency_key: str | None = strawberry.field(
        default=None, description="A retry with the same key writes nothing and answers with what the first call wrote."
    )


@strawberry.input(
    description="A serving period and its metrics, by deploymentId or deploymentTag. A deployment's period"
    " (periodStart, periodEnd, as instants) is logged once: logging it again returns the stored record with"
    " created: false when the metrics, and the tags and attributes where given, agree with it (metrics key by"
    " key and attributes as JSON values, tags as a set), and is a CONFLICT naming each field that differs"
    " (metrics.rmse, tags, attributes) otherwise; nothing is written either way."
)
class LogServingPerfInput:
    period_start: dt.datetime
    period_end: dt.datetime
    metrics: JSON = strawberry.field(description="Metric name -> number.")
    deployment_id: strawberry.ID | None = None
    deployment_tag: str | None = None
    tags: list[str] | None = None
    attributes: JSON | None = None
    idempotency_key: str | None = strawberry.field(
        default=None, description="A retry with the same key writes nothing and answers with what the first call wrote."
    )


@strawberry.input
class UpdateAttributesInput:
    id: strawberry.ID
    attributes: JSON
    replace: bool = strawberry.field(default=False, description="Replace the whole object instead of merging its top-level keys.")
    idempotency_key: str | None = strawberry.field(
        default=None, description="A retry with the same key writes nothing and answers with what the first call wrote."
    )


@strawberry.input
class AddTagsInput:
    id: strawberry.ID
    tags: list[str]
    idempotency_key: str | None = strawberry.field(
        default=None, description="A retry with the same key writes nothing and answers with what the first call wrote."
    )

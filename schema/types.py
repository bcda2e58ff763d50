"""The node types of the data dictionary, their typed navigation along every edge kind
in both directions, and Relay connections. No I/O here: navigation asks the
resolvers, which batch through the request's loaders."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any, Generic, TypeVar, cast

import strawberry
from strawberry.scalars import JSON

from metagate.resolvers import queries
from metagate.resolvers.ids import encode_id
from metagate.schema.context import Info
from metagate.store.model import EDGE_KINDS, Direction, Kind, Node, Step, parse_time

# strawberry.enum registers the GraphQL enum on the class itself: fields annotated
# with Kind and Direction are served as NodeKind and LineageDirection.
strawberry.enum(Kind, name="NodeKind", description="The kinds of node in the data dictionary.")
strawberry.enum(
    Direction,
    name="LineageDirection",
    description="UPSTREAM: what a node was derived from. DOWNSTREAM: what was derived from it.",
)

# Made from the data dictionary at import time (the functional API returns a class).
EdgeKindEnum = strawberry.enum(
    cast(type[enum.Enum], enum.Enum("EdgeKind", {name.upper(): name for name in EDGE_KINDS})),
    name="EdgeKind",
    description="The kinds of edge in the data dictionary, named from_to.",
)

T = TypeVar("T")


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type(description="A page of a list, newest first unless ordered otherwise.")
class Connection(Generic[T]):
    edges: list[Edge[T]]
    nodes: list[T]
    page_info: PageInfo


def connection(page: queries.PageOut) -> Connection[Any]:
    edges = [Edge(cursor=cursor, node=wrap(node)) for node, cursor in page.items]
    return Connection(
        edges=edges,
        nodes=[e.node for e in edges],
        page_info=PageInfo(
            has_next_page=page.has_next,
            has_previous_page=page.has_previous,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )


def _time(value: object) -> dt.datetime | None:
    return parse_time(value) if isinstance(value, str) else None


@strawberry.interface(name="Node", description="Every node of the pipeline graph.")
class NodeType:
    record: strawberry.Private[Node]

    @strawberry.field(description="Global id: pass it to node(id) or to mutations.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id(self.record.id))

    @strawberry.field
    def kind(self) -> Kind:
        return self.record.kind

    @strawberry.field(description="Null for kinds without a name (params, perf records).")
    def name(self) -> str | None:
        return self.record.name

    @strawberry.field
    def created_at(self) -> dt.datetime:
        return parse_time(self.record.created_at)

    @strawberry.field
    def tags(self) -> list[str]:
        return list(self.record.tags)

    @strawberry.field(description="Free-form JSON object.")
    def attributes(self) -> JSON:
        return JSON(self.record.attributes)


async def _one(info: Info, node: Node, edge_kind: str, step: Step) -> NodeType | None:
    found = await queries.neighbor(info.context.loaders, node.id, edge_kind, step)
    return wrap(found) if found is not None else None


async def _many(info: Info, node: Node, edge_kind: str, step: Step, first: int | None, after: str | None) -> Connection[Any]:
    ctx = info.context
    page = await queries.neighbor_page(ctx.loaders, ctx.limits, node.id, edge_kind, step, first, after)
    return connection(page)


@strawberry.type
class Project(NodeType):
    @strawberry.field
    async def models(self, info: Info, first: int | None = None, after: str | None = None) -> Connection[Model]:
        return await _many(info, self.record, "project_model", Step.OUT, first, after)


@strawberry.type
class Dataset(NodeType):
    @strawberry.field(description="Featuresets derived from this dataset.")
    async def featuresets(self, info: Info, first: int | None = None, after: str | None = None) -> Connection[Featureset]:
        return await _many(info, self.record, "featureset_dataset", Step.IN, first, after)

    @strawberry.field(description="Runs that used this dataset.")
    async def runs(self, info: Info, first: int | None = None, after: str | None = None) -> Connection[Run]:
        return await _many(info, self.record, "run_dataset", Step.IN, first, after)


@strawberry.type
class Featureset(NodeType):
    @strawberry.field(description="The dataset this featureset was derived from.")
    async def dataset(self, info: Info) -> Dataset | None:
        return await _one(info, self.record, "featureset_dataset", Step.OUT)  # type: ignore[return-value]

    @strawberry.field
    async def runs(self, info: Info, first: int | None = None, after: str | None = None) -> Connection[Run]:
        return await _many(info, self.record, "run_featureset", Step.IN, first, after)

    @strawberry.field
    async def deployments(self, info: Info, first: int | None = None, after: str | None = None) -> Connection[Deployment]:
        return await _many(info, self.record, "deployment_featureset", Step.IN, first, after)


@strawberry.enum
class RunStatus(enum.Enum):
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


@strawberry.type
class Run(NodeType):
    @strawberry.field
    def status(self) -> RunStatus | None:
        value = self.record.fields.get("status")
        return RunStatus(value) if value else None

    @strawberry.field
    def start_time(self) -> dt.datetime | None:
        return _time(self.record.fields.get("startTime"))

    @strawberry.field
    def end_time(self) -> dt.datetime | None:
        return _time(self.record.fields.get("endTime"))

    @strawberry.field
    def tag(self) -> str | None:
        return self.record.fields.get("tag")

    @strawberry.field(description="The tag a deployment is registered from.")
    def deployment_tag(self) -> str | None:
        return self.record.fields.get("deploymentTag")

    @strawberry.field
    async def dataset(self, info: Info) -> Dataset | None:
        return await _one(info, self.record, "run_dataset", Step.OUT)  # type: ignore[return-value]

    @strawberry.field
    async def featureset(self, info: Info) -> Featureset | None:
        return await _one(info, self.record, "run_featureset", Step.OUT)  # type: ignore[return-value]

    @strawberry.field
    async def model_params(self, info: Info) -> ModelParams | None:
        return await _one(info, self.record, "run_modelparams", Step.OUT)  # type: ignore[return-value]

    @strawberry.field
    async def dev_perf(self, info: Info) -> DevPerf | None:
        return await _one(info, self.record, "run_devperf", Step.OUT)  # type: ignore[return-value]

    @strawberry.field(description="The model this run trained.")
    async def model(self, info: Info) -> Model | None:
        return await _one(info, self.record, "run_model", Step.OUT)  # type: ignore[return-value]


@strawberry.type
class Model(NodeType):
    @strawberry.field
    async def project(self, info: Info) -> Project | None:
        return await _one(info, self.record, "project_model", Step.IN)  # type: ignore[return-value]

    @strawberry.field(description="Runs that trained this model, newest first.")
    async def runs(self, info: Info, first: int | None = None, after: str | None = None) -> Connection[Run]:
        return await _many(info, self.record, "run_model", Step.IN, first, after)

    @strawberry.field
    async def deployments(self, info: Info, first: int | None = None, after: str | None = None) -> Connection[Deployment]:
        return await _many(info, self.record, "deployment_model", Step.IN, first, after)


@strawberry.type
class ModelParams(NodeType):
    @strawberry.field(description="The hyper-parameters, as logged.")
    def params(self) -> JSON:
        return JSON(self.record.fields.get("params", {}))

    @strawberry.field
    async def run(self, info: Info) -> Run | None:
        return await _one(info, self.record, "run_modelparams", Step.IN)  # type: ignore[return-value]

    @strawberry.field
    async def deployments(self, info: Info, first: int | None = None, after: str | None = None) -> Connection[Deployment]:
        return await _many(info, self.record, "deployment_modelparams", Step.IN, first, after)


@strawberry.type
class DevPerf(NodeType):
    @strawberry.field(description="Development-performance metrics: name -> number.")
    def metrics(self) -> JSON:
        return JSON(self.record.fields.get("metrics", {}))

    @strawberry.field
    def metric(self, name: str) -> float | None:
        value = self.record.fields.get("metrics", {}).get(name)
        return float(value) if value is not None else None

    @strawberry.field
    async def run(self, info: Info) -> Run | None:
        return await _one(info, self.record, "run_devperf", Step.IN)  # type: ignore[return-value]


@strawberry.type
class Deployment(NodeType):
    @strawberry.field
    def tag(self) -> str | None:
        return self.record.fields.get("tag")

    @strawberry.field
    async def model(self, info: Info) -> Model | None:
        return await _one(info, self.record, "deployment_model", Step.OUT)  # type: ignore[return-value]

    @strawberry.field
    async def featureset(self, info: Info) -> Featureset | None:
        return await _one(info, self.record, "deployment_featureset", Step.OUT)  # type: ignore[return-value]

    @strawberry.field
    async def model_params(self, info: Info) -> ModelParams | None:
        return await _one(info, self.record, "deployment_modelparams", Step.OUT)  # type: ignore[return-value]

    @strawberry.field(description="Serving-performance records, newest first.")
    async def serving_perf(self, info: Info, first: int | None = None, after: str | None = None) -> Connection[ServingPerf]:
        return await _many(info, self.record, "deployment_servingperf", Step.OUT, first, after)


@strawberry.type
class ServingPerf(NodeType):
    @strawberry.field
    def period_start(self) -> dt.datetime | None:
        return _time(self.record.fields.get("periodStart"))

    @strawberry.field
    def period_end(self) -> dt.datetime | None:
        return _time(self.record.fields.get("periodEnd"))

    @strawberry.field
    def metrics(self) -> JSON:
        return JSON(self.record.fields.get("metrics", {}))

    @strawberry.field
    async def deployment(self, info: Info) -> Deployment | None:
        return await _one(info, self.record, "deployment_servingperf", Step.IN)  # type: ignore[return-value]


TYPES: dict[Kind, type[NodeType]] = {
    Kind.PROJECT: Project,
    Kind.DATASET: Dataset,
    Kind.FEATURESET: Featureset,
    Kind.RUN: Run,
    Kind.MODEL: Model,
    Kind.MODELPARAMS: ModelParams,
    Kind.DEVPERF: DevPerf,
    Kind.DEPLOYMENT: Deployment,
    Kind.SERVINGPERF: ServingPerf,
}


def wrap(node: Node) -> NodeType:
    return TYPES[node.kind](record=node)


@strawberry.type
class LineageNode:
    node: NodeType
    depth: int = strawberry.field(description="Edges between this node and the start.")
    direction: Direction


@strawberry.type
class LineageEdge:
    id: strawberry.ID
    kind: enum.Enum = strawberry.field(graphql_type=EdgeKindEnum)
    from_id: strawberry.ID = strawberry.field(name="from")
    to_id: strawberry.ID = strawberry.field(name="to")
    created_at: dt.datetime


@strawberry.type
class Lineage:
    root: NodeType
    nodes: list[LineageNode]
    edges: list[LineageEdge]
    truncated: bool = strawberry.field(description="True when the node limit or the server's depth limit cut the walk short.")


def lineage(result: queries.Lineage) -> Lineage:
    return Lineage(
        root=wrap(result.root),
        nodes=[LineageNode(node=wrap(n.node), depth=n.depth, direction=n.direction) for n in result.result.nodes],
        edges=[
            LineageEdge(
                id=strawberry.ID(encode_id(e.id)),
                kind=EdgeKindEnum(e.kind),
                from_id=strawberry.ID(encode_id(e.from_id)),
                to_id=strawberry.ID(encode_id(e.to_id)),
                created_at=parse_time(e.created_at),
            )
            for e in result.result.edges
        ],
        truncated=result.truncated,
    )


@strawberry.type
class ProjectSummary:
    project: Project
    models: int
    runs: int
    datasets: int
    featuresets: int
    deployments: int

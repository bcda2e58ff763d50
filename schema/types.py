"""The node types of the data dictionary, their typed navigation along every edge kind
in both directions, and Relay connections. No I/O here: navigation asks the
resolvers, which batch through the request's loaders."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar, assert_never, cast

import strawberry
from strawberry.scalars import JSON
from strawberry.types.base import get_object_definition
from strawberry.utils.str_converters import to_camel_case

from metagate.resolvers import queries
from metagate.resolvers.ids import encode_id
from metagate.schema.context import Info
from metagate.store.model import (
    EDGE_KINDS,
    KINDS,
    Direction,
    Kind,
    KindSpec,
    Navigation,
    Node,
    Step,
    TypedField,
    ValueType,
    parse_time,
)
from metagate.store.plan import typed_value

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


@strawberry.enum
class RunStatus(enum.Enum):
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


# The GraphQL enums of the data dictionary's ENUM fields, by name, made once each.
ENUMS: dict[str, type[enum.Enum]] = {}


def field_enum(f: TypedField) -> type[enum.Enum]:
    assert f.enum is not None and f.choices, f"{f.graphql}: an ENUM field names its enum and choices"
    made = ENUMS.get(f.enum)
    if made is None:
        made = ENUMS[f.enum] = strawberry.enum(cast(type[enum.Enum], enum.Enum(f.enum, {c: c for c in f.choices})))
    elif tuple(m.value for m in made) != f.choices:
        raise ValueError(f"enum {f.enum} is declared with two sets of values")
    return made


def _typed_resolver(f: TypedField) -> Callable[..., object]:
    """The resolver of a typed field kept under ``key``: typed_value's answer, as the
    Python value of the field's GraphQL type (the return annotation strawberry reads)."""
    key, type_ = f.key, f.type

    def text(self: NodeType) -> str | None:
        value: str | None = typed_value(type_, self.record.fields.get(key))
        return value

    def time(self: NodeType) -> dt.datetime | None:
        stored = self.record.fields.get(key)
        # typed_value answers the API's text of a stored text (None otherwise); the
        # DateTime scalar serializes a datetime.
        return parse_time(cast(str, stored)) if typed_value(type_, stored) is not None else None

    def json(self: NodeType) -> JSON:
        return JSON(typed_value(type_, self.record.fields.get(key)))

    def run_status(self: NodeType) -> RunStatus | None:
        value = typed_value(type_, self.record.fields.get(key))
        return RunStatus(value) if value is not None else None

    def metric(self: NodeType, name: str) -> float | None:
        metrics = typed_value(ValueType.JSON, self.record.fields.get(key))
        value: float | None = typed_value(type_, metrics.get(name))
        return value

    def integer(self: NodeType) -> int | None:
        value = self.record.fields.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def choice(self: NodeType) -> Any:
        value = typed_value(type_, self.record.fields.get(key), f.default)
        return enum_type(value) if value is not None else None

    match type_:
        case ValueType.TEXT:
            return text
        case ValueType.TIME:
            return time
        case ValueType.JSON:
            return json
        case ValueType.RUN_STATUS:
            return run_status
        case ValueType.METRIC:
            return metric
        case ValueType.INT:
            return integer
        case ValueType.ENUM:
            enum_type = field_enum(f)
            choice.__annotations__["return"] = enum_type if f.default is not None else enum_type | None
            return choice
    assert_never(type_)


def _navigation_resolver(nav: Navigation) -> Callable[..., object]:
    """The resolver of a navigation field, its return annotation naming the target's type
    as a string: strawberry resolves it in this module's globals when the schema is built,
    by when every type below is there (types refer to each other: Run -> Model -> Run)."""
    edge_kind, step, target = nav.edge_kind, nav.step, KINDS[nav.target].graphql
    if nav.many:

        async def many(self: NodeType, info: Info, first: int | None = None, after: str | None = None) -> Connection[Any]:
            return await _many(info, self.record, edge_kind, step, first, after)

        many.__annotations__["return"] = f"Connection[{target}]"
        return many

    async def one(self: NodeType, info: Info) -> NodeType | None:
        return await _one(info, self.record, edge_kind, step)

    one.__annotations__["return"] = f"{target} | None"
    return one


# The Node interface's field names: a kind's own field of one of these names would replace it.
_NODE_FIELDS = frozenset(
    f.graphql_name or to_camel_case(f.python_name) for f in get_object_definition(NodeType, strict=True).fields
)


def _node_type(spec: KindSpec) -> type[NodeType]:
    """The GraphQL type of a kind: the Node fields, then its typed fields and its
    navigation, in the data dictionary's order."""
    resolvers = [(f.graphql, f.description, _typed_resolver(f)) for f in spec.fields]
    resolvers += [(n.graphql, n.description, _navigation_resolver(n)) for n in spec.navigation]
    namespace: dict[str, Any] = {"__module__": __name__, "__qualname__": spec.graphql, "__annotations__": {}}
    for name, description, resolver in resolvers:
        if name in namespace or name in _NODE_FIELDS:
            raise ValueError(f"{spec.graphql}.{name}: the type has a field of that name already")
        resolver.__qualname__ = f"{spec.graphql}.{name}"
        namespace[name] = strawberry.field(resolver=resolver, name=name, description=description)
    return strawberry.type(type(spec.graphql, (NodeType,), namespace))


if TYPE_CHECKING:
    # For the type checker, the classes made below from KINDS under their GraphQL names.
    class Project(NodeType): ...

    class Dataset(NodeType): ...

    class Featureset(NodeType): ...

    class Run(NodeType): ...

    class Model(NodeType): ...

    class ModelParams(NodeType): ...

    class DevPerf(NodeType): ...

    class Deployment(NodeType): ...

    class ServingPerf(NodeType): ...

    class ModelVersion(NodeType): ...


TYPES: dict[Kind, type[NodeType]] = {kind: _node_type(spec) for kind, spec in KINDS.items()}
# Module globals under their GraphQL names: the navigation fields' return annotations
# resolve here, and the other modules import them (Run, Model, ...).
globals().update({cls.__name__: cls for cls in TYPES.values()})


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

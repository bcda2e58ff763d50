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

from metagate.resolvers import hub, queries, validate
from metagate.resolvers.ids import decode_cursor, encode_cursor, encode_id
from metagate.schema.context import Info
from metagate.store import port
from metagate.store.errors import BadUserInput
from metagate.store.model import (
    CUSTOM_EDGE_PREFIX,
    EDGE_KINDS,
    KINDS,
    Direction,
    Kind,
    KindSpec,
    Navigation,
    Node,
    TypedField,
    ValueType,
    parse_time,
)
from metagate.store.model import Step as Way
from metagate.store.plan import typed_value
from metagate.store.port import HistoryEntry, HistoryQuery, NeighborRequest

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
    cast(type[enum.Enum], enum.Enum("EdgeKind", {**{name.upper(): name for name in EDGE_KINDS}, "CUSTOM": "custom"})),
    name="EdgeKind",
    description="The kinds of edge in the data dictionary, named from_to; CUSTOM: of a declared edge kind.",
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

    @strawberry.field(
        description="When deleteNode deleted it (null: it is live). A deleted node is left out of lists, search,"
        " navigation and lineage unless they are asked to includeDeleted; restoreNode brings it back."
    )
    def deleted_at(self) -> dt.datetime | None:
        return parse_time(self.record.deleted_at) if self.record.deleted_at is not None else None

    @strawberry.field(description="The reason given to deleteNode, if any.")
    def deleted_reason(self) -> str | None:
        return self.record.deleted_reason

    @strawberry.field
    def tags(self) -> list[str]:
        return list(self.record.tags)

    @strawberry.field(description="Free-form JSON object.")
    def attributes(self) -> JSON:
        return JSON(self.record.attributes)


async def _one(info: Info, node: Node, edge_kind: str, step: Way) -> NodeType | None:
    found = await queries.neighbor(
        info.context.loaders, node.id, edge_kind, step, from_deleted=node.deleted_at is not None, as_of=node.as_of
    )
    return wrap(found) if found is not None else None


async def _many(info: Info, node: Node, edge_kind: str, step: Way, first: int | None, after: str | None) -> Connection[Any]:
    ctx = info.context
    page = await queries.neighbor_page(
        ctx.loaders,
        ctx.limits,
        node.id,
        edge_kind,
        step,
        first,
        after,
        from_deleted=node.deleted_at is not None,
        as_of=node.as_of,
    )
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
    resolvers += _EXTRA.get(spec.kind, [])
    namespace: dict[str, Any] = {"__module__": __name__, "__qualname__": spec.graphql, "__annotations__": {}}
    for name, description, resolver in resolvers:
        if name in namespace or name in _NODE_FIELDS:
            raise ValueError(f"{spec.graphql}.{name}: the type has a field of that name already")
        resolver.__qualname__ = f"{spec.graphql}.{name}"
        namespace[name] = strawberry.field(resolver=resolver, name=name, description=description)
    return strawberry.type(type(spec.graphql, (NodeType,), namespace))


# -- the information hub's fields: answered by the executor, from a node's fields and the
# store's history (the planner plans no field outside the data dictionary) --------------


@strawberry.type(description="Hardware a model runs on by default.")
class HardwareSpec:
    instance_type: str | None
    cpu: float | None
    memory_gb: float | None
    gpu: int | None
    gpu_type: str | None
    count: int | None = strawberry.field(description="How many machines (replicas, workers).")
    extras: JSON = strawberry.field(description="Anything else, free-form.")


@strawberry.type
class DefaultHardware:
    serving: HardwareSpec | None
    training: HardwareSpec | None


def _hardware(stored: Any) -> HardwareSpec | None:
    if not isinstance(stored, dict):
        return None
    return HardwareSpec(
        instance_type=stored.get("instanceType"),
        cpu=stored.get("cpu"),
        memory_gb=stored.get("memoryGb"),
        gpu=stored.get("gpu"),
        gpu_type=stored.get("gpuType"),
        count=stored.get("count"),
        extras=JSON(stored.get("extras") or {}),
    )


async def _load(info: Info, node_id: Any) -> NodeType | None:
    if not isinstance(node_id, str):
        return None
    found = await info.context.loaders.nodes.load(node_id)
    return wrap(found) if found is not None else None


@strawberry.type(description="An alias of a model and the version it points at.")
class ModelAlias:
    alias: str
    version_id: strawberry.Private[str]

    @strawberry.field
    async def model_version(self, info: Info) -> ModelVersion | None:
        return await _load(info, self.version_id)  # type: ignore[return-value]


@strawberry.type(description="One move: where it moved, when, why and by which token.")
class Move:
    entry: strawberry.Private[HistoryEntry]

    @strawberry.field(description="1 for the first move of this subject and topic, then 2, 3, ...")
    def seq(self) -> int:
        return self.entry.seq

    @strawberry.field
    def at(self) -> dt.datetime:
        return parse_time(self.entry.at)

    @strawberry.field
    def reason(self) -> str | None:
        return self.entry.reason

    @strawberry.field(description="The id of the API token that made the move (null: a local caller).")
    def actor(self) -> str | None:
        return self.entry.actor


@strawberry.type(description="A move of a model's alias, or of the version a deployment serves.")
class VersionMove(Move):
    @strawberry.field(description="The version it moved to.")
    async def model_version(self, info: Info) -> ModelVersion | None:
        return await _load(info, (self.entry.value or {}).get("version"))  # type: ignore[return-value]

    @strawberry.field(description="True when the move was a rollback.")
    def rollback(self) -> bool:
        return bool((self.entry.value or {}).get("rollback"))

    @strawberry.field(description="The alias the version was chosen by, if it was.")
    def alias(self) -> str | None:
        return (self.entry.value or {}).get("alias")


@strawberry.type(description="A deployment's share of its project's traffic.")
class TrafficWeight:
    deployment_id: strawberry.Private[str]
    weight: int = strawberry.field(description="Percent, 0 to 100.")

    @strawberry.field
    async def deployment(self, info: Info) -> Deployment | None:
        return await _load(info, self.deployment_id)  # type: ignore[return-value]


def _weights(stored: Any) -> list[TrafficWeight]:
    return [TrafficWeight(deployment_id=t["deployment"], weight=t["weight"]) for t in stored or []]


@strawberry.type(description="A change of a project's traffic weights.")
class TrafficChange(Move):
    @strawberry.field
    def weights(self) -> list[TrafficWeight]:
        return _weights(self.entry.value)


@strawberry.type(description="A live deployment of the project: its traffic and its latest serving performance.")
class DeploymentServing:
    deployment: Deployment
    weight: int = strawberry.field(description="Its traffic weight (0 when the weights leave it out).")
    latest: ServingPerf | None = strawberry.field(description="Its newest serving-performance record.")
    age_seconds: float | None = strawberry.field(
        description="Seconds from the end of that record's period to now: how old what is known of it is."
    )


def _history_args(info: Info, first: int | None, before: int | None) -> tuple[int, int | None]:
    limits = info.context.limits
    return validate.page_size(first, default=limits.default_page, maximum=limits.max_page), before


async def _history(info: Info, subject: str, topic: str, first: int, before: int | None, at: str | None) -> list[HistoryEntry]:
    return await info.context.loaders.history.load(HistoryQuery(subject, topic, first, before, at))


def _instant(at: dt.datetime) -> str:
    return validate.time(at, field="at") or ""


async def _model_default_hardware(self: NodeType) -> DefaultHardware:
    stored = self.record.fields.get("defaultHardware") or {}
    return DefaultHardware(serving=_hardware(stored.get("serving")), training=_hardware(stored.get("training")))


async def _model_aliases(self: NodeType) -> list[ModelAlias]:
    aliases = self.record.fields.get("aliases") or {}
    return [ModelAlias(alias=name, version_id=version) for name, version in sorted(aliases.items())]


async def _model_alias_history(
    self: NodeType, info: Info, alias: str, first: int | None = None, before: int | None = None
) -> list[VersionMove]:
    size, cursor = _history_args(info, first, before)
    entries = await _history(info, self.record.id, hub.alias_topic(hub.alias(alias)), size, cursor, None)
    return [VersionMove(entry=e) for e in entries]


async def _model_alias_at(self: NodeType, info: Info, alias: str, at: dt.datetime) -> ModelVersion | None:
    entries = await _history(info, self.record.id, hub.alias_topic(hub.alias(alias)), 1, None, _instant(at))
    return await _load(info, entries[0].value.get("version")) if entries else None  # type: ignore[return-value]


async def model_version_of(
    self: NodeType, info: Info, version: int | None = None, alias: str | None = None
) -> ModelVersion | None:
    if (version is None) == (alias is None):
        raise BadUserInput("give exactly one of version and alias", field="version")
    if alias is not None:
        return await _load(info, (self.record.fields.get("aliases") or {}).get(hub.alias(alias)))  # type: ignore[return-value]
    found = await queries.by_name(info.context.store, Kind.MODELVERSION, str(version), self.record.id)
    return wrap(found) if found is not None else None  # type: ignore[return-value]


async def _version_aliases(self: NodeType, info: Info) -> list[str]:
    model = await info.context.loaders.nodes.load(self.record.scope) if self.record.scope else None
    aliases = (model.fields.get("aliases") or {}) if model is not None else {}
    return sorted(name for name, version in aliases.items() if version == self.record.id)


async def _deployment_version_history(
    self: NodeType, info: Info, first: int | None = None, before: int | None = None
) -> list[VersionMove]:
    size, cursor = _history_args(info, first, before)
    return [VersionMove(entry=e) for e in await _history(info, self.record.id, hub.SERVED, size, cursor, None)]


async def _deployment_version_at(self: NodeType, info: Info, at: dt.datetime) -> ModelVersion | None:
    entries = await _history(info, self.record.id, hub.SERVED, 1, None, _instant(at))
    return await _load(info, entries[0].value.get("version")) if entries else None  # type: ignore[return-value]


async def _project_traffic(self: NodeType) -> list[TrafficWeight]:
    return _weights(self.record.fields.get("traffic"))


async def _project_traffic_history(
    self: NodeType, info: Info, first: int | None = None, before: int | None = None
) -> list[TrafficChange]:
    size, cursor = _history_args(info, first, before)
    return [TrafficChange(entry=e) for e in await _history(info, self.record.id, hub.TRAFFIC, size, cursor, None)]


async def _project_traffic_at(self: NodeType, info: Info, at: dt.datetime) -> list[TrafficWeight]:
    entries = await _history(info, self.record.id, hub.TRAFFIC, 1, None, _instant(at))
    return _weights(entries[0].value) if entries else []


async def _project_serving_status(self: NodeType, info: Info) -> list[DeploymentServing]:
    loaders, most = info.context.loaders, info.context.limits.max_page
    models = await loaders.neighbors.load(NeighborRequest(self.record.id, "project_model", Way.OUT, most))
    pages = await loaders.neighbors.load_many([NeighborRequest(m.id, "deployment_model", Way.IN, most) for m, _ in models.items])
    live = [d for page in pages for d, _ in page.items if d.fields.get("status") != "RETIRED"][:most]
    latest = await loaders.neighbors.load_many([NeighborRequest(d.id, "deployment_servingperf", Way.OUT, 1) for d in live])
    weights = {t["deployment"]: t["weight"] for t in self.record.fields.get("traffic") or []}
    now = dt.datetime.now(dt.UTC)
    out = []
    for deployment, page in zip(live, latest):
        perf = page.items[0][0] if page.items else None
        end = perf.fields.get("periodEnd") if perf is not None else None
        out.append(
            DeploymentServing(
                deployment=wrap(deployment),  # type: ignore[arg-type]
                weight=weights.get(deployment.id, 0),
                latest=wrap(perf) if perf is not None else None,  # type: ignore[arg-type]
                age_seconds=(now - parse_time(end)).total_seconds() if isinstance(end, str) else None,
            )
        )
    return out


@strawberry.type(description="One point of a run's metric history.")
class MetricPoint:
    key: str
    value: float
    step: int = strawberry.field(description="The training step it was logged at (0 when none was given).")
    stamp: strawberry.Private[str]  # the stored text, read as a time only when asked for

    @strawberry.field
    def timestamp(self) -> dt.datetime:
        return parse_time(self.stamp)


@strawberry.type(description="A page of a run's metric history, in step, then timestamp, then logging order.")
class MetricHistory:
    points: list[MetricPoint]
    has_next_page: bool
    end_cursor: str | None


@strawberry.type(
    description="A metric's downsampled points as columns (the i-th step, value and timestamp are one point): what a"
    " chart draws, answered without an object per point."
)
class MetricSeries:
    key: str
    steps: list[int]
    values: list[float]
    stamps: strawberry.Private[list[str]]  # the stored texts, read as times only when asked for

    @strawberry.field
    def timestamps(self) -> list[dt.datetime]:
        return [parse_time(t) for t in self.stamps]


MAX_CURVE_POINTS = 10_000


def _point(p: port.MetricPoint) -> MetricPoint:
    return MetricPoint(key=p.key, value=p.value, step=p.step, stamp=p.timestamp)


def _point_cursor(p: port.MetricPoint) -> str:
    # The point, and its position then: where the next page's read starts.
    return encode_cursor((p.step, f"{p.timestamp} {p.id} {p.seq}"))


def _after_point(after: str | None) -> tuple[tuple[int, str, str], int] | None:
    key = decode_cursor(after)
    if key is None:
        return None
    step, parts = key[0], key[1].split(" ")
    if not isinstance(step, int) or len(parts) != 3 or not parts[2].isdigit():
        raise BadUserInput("after: not a cursor returned by this gateway", field="after")
    return (step, parts[0], parts[1]), int(parts[2])


async def _run_metric_history(
    self: NodeType, info: Info, key: str, first: int | None = None, after: str | None = None
) -> MetricHistory:
    limits = info.context.limits
    size = validate.page_size(first, default=limits.default_page, maximum=MAX_CURVE_POINTS)
    cursor = _after_point(after)
    query = port.MetricHistoryQuery(
        self.record.id,
        validate.metric_name(key, field="key"),
        size + 1,
        cursor[0] if cursor else None,
        after_seq=cursor[1] if cursor else -1,
    )
    points = await info.context.loaders.metric_history.load(query)
    shown = points[:size]
    return MetricHistory(
        points=[_point(p) for p in shown],
        has_next_page=len(points) > size,
        end_cursor=_point_cursor(shown[-1]) if shown else None,
    )


async def _run_metric_curve(self: NodeType, info: Info, key: str, max_points: int | None = 500) -> list[MetricPoint]:
    return [_point(p) for p in await _curve(self, info, key, max_points)]


async def _curve(self: NodeType, info: Info, key: str, max_points: int | None) -> list[port.MetricPoint]:
    most = 500 if max_points is None else max_points
    if not 1 <= most <= MAX_CURVE_POINTS:
        raise BadUserInput(f"maxPoints must be between 1 and {MAX_CURVE_POINTS}", field="maxPoints")
    query = port.MetricHistoryQuery(self.record.id, validate.metric_name(key, field="key"), 0, most=most)
    return await info.context.loaders.metric_history.load(query)


async def _run_metric_series(self: NodeType, info: Info, key: str, max_points: int | None = 500) -> MetricSeries:
    points = await _curve(self, info, key, max_points)
    return MetricSeries(
        key=key,
        steps=[p.step for p in points],
        values=[p.value for p in points],
        stamps=[p.timestamp for p in points],
    )


@strawberry.type(description="A change of a job's status.")
class StatusChange(Move):
    @strawberry.field
    def status(self) -> str:
        return str((self.entry.value or {}).get("status"))


async def _job_hardware(self: NodeType) -> HardwareSpec | None:
    return _hardware(self.record.fields.get("hardware"))


async def _job_status_history(
    self: NodeType, info: Info, first: int | None = None, before: int | None = None
) -> list[StatusChange]:
    size, cursor = _history_args(info, first, before)
    return [StatusChange(entry=e) for e in await _history(info, self.record.id, "status", size, cursor, None)]


def _extra(name: str, resolver: Callable[..., object], description: str) -> tuple[str, str, Callable[..., object]]:
    return name, description, resolver


_EXTRA: dict[Kind, list[tuple[str, str, Callable[..., object]]]] = {
    Kind.PROJECT: [
        _extra("traffic", _project_traffic, "How its traffic is shared between its live deployments now."),
        _extra("trafficHistory", _project_traffic_history, "Every change of its traffic weights, newest first."),
        _extra("trafficAt", _project_traffic_at, "The traffic weights at an instant (none: not set by then)."),
        _extra("servingStatus", _project_serving_status, "Each live deployment's traffic and latest serving performance."),
    ],
    Kind.MODEL: [
        _extra("defaultHardware", _model_default_hardware, "The hardware it is served and trained on by default."),
        _extra("aliases", _model_aliases, "Its aliases (champion, fallback, ...) and the versions they point at."),
        _extra("aliasHistory", _model_alias_history, "Every move of one of its aliases, newest first."),
        _extra("aliasAt", _model_alias_at, "The version an alias pointed at, at an instant."),
        _extra("modelVersion", model_version_of, "One of its versions, by number or by alias; null when there is none."),
    ],
    Kind.MODELVERSION: [
        _extra("aliasNames", _version_aliases, "The aliases of its model that point at it."),
    ],
    Kind.RUN: [
        _extra("metricHistory", _run_metric_history, "A metric's points over training, a page at a time."),
        _extra(
            "metricCurve",
            _run_metric_curve,
            "A metric's points over training, downsampled by row to at most maxPoints (the first and last kept);"
            " ask it of several runs at once (nodes(ids:)) to overlay their curves.",
        ),
        _extra("metricSeries", _run_metric_series, "metricCurve's points as columns, cheaper to answer and to draw."),
    ],
    Kind.JOB: [
        _extra("hardware", _job_hardware, "The hardware it runs on."),
        _extra("statusHistory", _job_status_history, "Every change of its status with its time, newest first."),
    ],
    Kind.DEPLOYMENT: [
        _extra("versionHistory", _deployment_version_history, "Every move of the version it serves, newest first."),
        _extra("modelVersionAt", _deployment_version_at, "The version it served at an instant (null: none by then)."),
    ],
}


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

    class Job(NodeType): ...

    class Step(NodeType): ...

    class CustomNode(NodeType): ...


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
    custom_kind: str | None = strawberry.field(description="The declared edge kind of a CUSTOM edge; else null.")
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
                kind=EdgeKindEnum("custom" if e.kind.startswith(CUSTOM_EDGE_PREFIX) else e.kind),
                custom_kind=e.kind.removeprefix(CUSTOM_EDGE_PREFIX) if e.kind.startswith(CUSTOM_EDGE_PREFIX) else None,
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

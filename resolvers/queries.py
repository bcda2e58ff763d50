"""What the queries do: look-ups, filtered lists, search, lineage, summaries, and the
per-request loaders that batch nested navigation into one store call per level."""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from strawberry.dataloader import DataLoader

from metagate.resolvers import validate
from metagate.resolvers.ids import decode_cursor, encode_cursor
from metagate.store.errors import BadUserInput, NotFound
from metagate.store.model import Direction, Kind, Node, Step
from metagate.store.port import (
    AttributeEquals,
    HistoryEntry,
    HistoryQuery,
    LineageQuery,
    LineageResult,
    ListQuery,
    MetricFilter,
    MetricHistoryQuery,
    MetricPoint,
    NameKey,
    NeighborRequest,
    OrderField,
    Page,
    ProjectCounts,
    SortKey,
    Store,
    Where,
)


@dataclass(frozen=True)
class Limits:
    default_page: int = 20
    max_page: int = 100
    max_ids: int = 100
    default_lineage_depth: int = 10
    max_lineage_depth: int = 50
    default_lineage_nodes: int = 1000
    max_lineage_nodes: int = 10000
    max_query_depth: int = 15
    max_query_tokens: int = 5000
    max_aliases: int = 30
    max_query_cost: int = 20000
    max_batch_runs: int = 1000
    max_body_bytes: int = 1024 * 1024
    max_response_bytes: int = 16 * 1024 * 1024
    deadline_seconds: float = 10.0

    def __post_init__(self) -> None:
        # A default never exceeds the maximum it is a default within.
        object.__setattr__(self, "default_page", min(self.default_page, self.max_page))
        object.__setattr__(self, "default_lineage_depth", min(self.default_lineage_depth, self.max_lineage_depth))
        object.__setattr__(self, "default_lineage_nodes", min(self.default_lineage_nodes, self.max_lineage_nodes))


class Loaders:
    """Built per request. Every ``load`` made while one level of a query resolves is
    sent to the store as one batched call."""

    def __init__(self, store: Store) -> None:
        # By id: deleted nodes too (they answer with their deletedAt).
        self.nodes: DataLoader[str, Node | None] = DataLoader(load_fn=functools.partial(store.get_nodes, deleted=True))
        self.neighbors: DataLoader[NeighborRequest, Page] = DataLoader(load_fn=store.neighbors)
        self._store = store

    @functools.cached_property
    def history(self) -> DataLoader[HistoryQuery, list[HistoryEntry]]:
        # Made when a history field is asked for: most requests never read one.
        return DataLoader(load_fn=self._store.history)

    @functools.cached_property
    def metric_history(self) -> DataLoader[MetricHistoryQuery, list[MetricPoint]]:
        # One store call for every run's history a level of the query asks for.
        return DataLoader(load_fn=self._store.metric_history)

    def clear(self) -> None:
        """Forgets what was read: after a write, later fields must see it."""
        self.nodes.clear_all()
        self.neighbors.clear_all()
        for made in ("history", "metric_history"):
            if made in self.__dict__:
                getattr(self, made).clear_all()


@dataclass
class PageOut:
    """A page with opaque cursors, ready for a connection."""

    items: list[tuple[Node, str]]
    has_next: bool
    has_previous: bool = False


def page_out(page: Page, *, after: str | None) -> PageOut:
    return PageOut(
        items=[(node, encode_cursor(key)) for node, key in page.items],
        has_next=page.has_next,
        has_previous=after is not None,
    )


async def neighbor(
    loaders: Loaders, node_id: str, edge_kind: str, step: Step, *, from_deleted: bool = False, as_of: str | None = None
) -> Node | None:
    page = await loaders.neighbors.load(NeighborRequest(node_id, edge_kind, step, 1, from_deleted=from_deleted, as_of=as_of))
    return page.items[0][0] if page.items else None


async def neighbor_page(
    loaders: Loaders,
    limits: Limits,
    node_id: str,
    edge_kind: str,
    step: Step,
    first: int | None,
    after: str | None,
    *,
    from_deleted: bool = False,
    as_of: str | None = None,
) -> PageOut:
    size, cursor = neighbor_page_args(limits, first, after)
    page = await loaders.neighbors.load(NeighborRequest(node_id, edge_kind, step, size, cursor, from_deleted, as_of))
    return page_out(page, after=after)


def neighbor_page_args(limits: Limits, first: int | None, after: str | None) -> tuple[int, SortKey | None]:
    """The size and cursor of a page of neighbours; BAD_USER_INPUT when either is wrong."""
    size = validate.page_size(first, default=limits.default_page, maximum=limits.max_page)
    cursor = decode_cursor(after)
    if cursor is not None and not isinstance(cursor[0], str):
        raise BadUserInput("after: not a cursor of this list", field="after")
    return size, cursor


async def get_node(loaders: Loaders, node_id: str) -> Node:
    node = await loaders.nodes.load(node_id)
    if node is None:
        raise NotFound("id: no node with this id", field="id")
    return node


async def get_node_at(store: Store, node_id: str, as_of: str | None) -> Node:
    """The node as it was at ``as_of`` (deleted then or not); NOT_FOUND when there was none
    then. Without a time, ``get_node``'s answer."""
    [node] = await store.get_nodes([node_id], deleted=True, as_of=as_of)
    if node is None:
        raise NotFound("id: no node with this id at that time" if as_of else "id: no node with this id", field="id")
    return node


async def get_nodes(loaders: Loaders, limits: Limits, node_ids: Sequence[str]) -> list[Node | None]:
    if len(node_ids) > limits.max_ids:
        raise BadUserInput(f"ids: at most {limits.max_ids} ids", field="ids")
    return list(await loaders.nodes.load_many(node_ids))


async def by_name(store: Store, kind: Kind, name: str, scope: str | None = None) -> Node | None:
    name = validate.name(name)
    [found] = await store.find_named([NameKey(kind, name, scope)])
    if len(found) > 1:
        raise BadUserInput(
            f"{len(found)} {kind.value}s are named {name!r}; give the scope to choose one",
            field="name",
        )
    return found[0] if found else None


@dataclass
class Filter:
    """The filters a list or search accepts; each is optional and they combine with AND."""

    name: str | None = None
    name_contains: str | None = None
    tag: str | None = None
    attribute_key: str | None = None
    attribute_value: Any = None
    has_attribute: bool = False
    created_after: dt.datetime | None = None
    created_before: dt.datetime | None = None
    scope: str | None = None
    deployment_tag: str | None = None
    metric: MetricFilter | None = None


@dataclass
class Order:
    field: OrderField = OrderField.CREATED_AT
    descending: bool = True
    metric: str | None = None


@dataclass
class ListArgs:
    kinds: tuple[Kind, ...]
    filter: Filter = field(default_factory=Filter)
    order: Order = field(default_factory=Order)
    first: int | None = None
    after: str | None = None
    where: Where | None = None
    include_deleted: bool = False


def list_query(limits: Limits, args: ListArgs) -> ListQuery:
    """The store's query for a list or search; BAD_USER_INPUT when an argument is wrong."""
    f, o = args.filter, args.order
    only_runs = set(args.kinds) <= {Kind.RUN}
    if (f.metric is not None or o.field is OrderField.METRIC) and not only_runs:
        raise BadUserInput("metric filters and ordering apply to runs only", field="metric")
    if o.field is OrderField.METRIC and not (o.metric or f.metric):
        raise BadUserInput("orderBy METRIC needs the metric's name", field="orderBy")
    if f.metric is not None:
        validate.metric_name(f.metric.name)
    if o.metric is not None:
        validate.metric_name(o.metric, field="orderBy")
    attribute = None
    if f.has_attribute:
        if f.attribute_key is None:
            raise BadUserInput("attribute: give its key", field="attribute")
        if isinstance(f.attribute_value, (dict, list)):
            raise BadUserInput("attribute: compare with a string, number, boolean or null", field="attribute")
        if isinstance(f.attribute_value, float) and not math.isfinite(f.attribute_value):
            raise BadUserInput("attribute: compare with a finite number (not NaN or Infinity)", field="attribute")
        if isinstance(f.attribute_value, int) and not validate.fits_int64(f.attribute_value):
            raise BadUserInput(f"attribute: {validate.INT64_RANGE}", field="attribute")
        attribute = AttributeEquals(f.attribute_key, f.attribute_value)
    return ListQuery(
        kinds=args.kinds,
        name=validate.name(f.name) if f.name is not None else None,
        name_contains=validate.text_in_names(f.name_contains, field="nameContains"),
        scope=f.scope,
        tag=f.tag,
        attribute=attribute,
        created_after=validate.time(f.created_after, field="createdAfter"),
        created_before=validate.time(f.created_before, field="createdBefore"),
        deployment_tag=f.deployment_tag,
        metric=f.metric,
        where=args.where,
        order_by=o.field,
        order_metric=o.metric,
        descending=o.descending,
        first=validate.page_size(args.first, default=limits.default_page, maximum=limits.max_page),
        after=decode_cursor(args.after),
        include_deleted=args.include_deleted,
    )


async def list_nodes(store: Store, limits: Limits, args: ListArgs) -> PageOut:
    return page_out(await store.list_nodes(list_query(limits, args)), after=args.after)


@dataclass
class Lineage:
    root: Node
    result: LineageResult
    truncated: bool


def lineage_query(
    limits: Limits,
    *,
    node_id: str,
    direction: Direction,
    depth: int | None,
    kinds: Sequence[Kind] | None,
    limit: int | None,
    include_deleted: bool = False,
    as_of: dt.datetime | None = None,
) -> tuple[LineageQuery, bool]:
    """The store's walk, and whether the server's depth limit cut the depth asked for."""
    depth = limits.default_lineage_depth if depth is None else depth
    if depth < 1:
        raise BadUserInput("depth must be at least 1", field="depth")
    limit = limits.default_lineage_nodes if limit is None else limit
    if limit < 1 or limit > limits.max_lineage_nodes:
        raise BadUserInput(f"limit must be between 1 and {limits.max_lineage_nodes}", field="limit")
    query = LineageQuery(
        start=node_id,
        direction=direction,
        depth=min(depth, limits.max_lineage_depth),
        limit=limit,
        kinds=tuple(kinds) if kinds is not None else None,
        include_deleted=include_deleted,
        as_of=validate.time(as_of, field="asOf"),
    )
    return query, depth > limits.max_lineage_depth


async def lineage(store: Store, loaders: Loaders, query: LineageQuery, depth_cut: bool) -> Lineage:
    """The walk ``lineage_query`` made, from a start node that must exist."""
    root = await get_node(loaders, query.start) if query.as_of is None else await get_node_at(store, query.start, query.as_of)
    result = await store.lineage(query)
    return Lineage(root=root, result=result, truncated=result.truncated or depth_cut)


async def project_counts(store: Store, loaders: Loaders, project_id: str) -> tuple[Node, ProjectCounts]:
    project = await get_node(loaders, project_id)
    return project, await store.project_counts(project.id)

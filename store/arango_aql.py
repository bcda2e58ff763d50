"""The AQL of the ArangoDB adapter, as pure functions: each returns the query text and its
bind variables. The text is assembled only from constants and generated placeholder
names (``@n0``, ``@@c0``); every value, collection name included, is a bind variable.
Traversal direction keywords (OUTBOUND/INBOUND), which AQL does not accept as bind
variables, come from the layout mapping, never from input."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from metagate.store import arango_layout as layout
from metagate.store.changes import PARTS, Action, ChangeQuery
from metagate.store.errors import BadUserInput
from metagate.store.model import CUSTOM_EDGE_PREFIX, EDGE_KINDS, Direction, Edge, JSONObject, Kind, Node, Step, steps_toward
from metagate.store.port import (
    AllOf,
    AnyOf,
    Compare,
    HistoryQuery,
    ListQuery,
    MetricHistoryQuery,
    NameKey,
    NeighborRequest,
    NotOf,
    Op,
    OrderField,
    Related,
    ServingPeriod,
    SortKey,
    Subject,
    Where,
    contains_pattern,
)

Bind = dict[str, Any]


@dataclass
class Query:
    text: str
    bind: Bind = field(default_factory=dict)
    # The execution nodes of the query's initial plan, estimated high (a compiled
    # plan's: ``arango_compile.execution_nodes``); None where not estimated.
    nodes: int | None = None


class Binder:
    """Hands out placeholder names for values. ``share``: one placeholder per collection,
    however often the text names it (a compiled plan names the same few many times)."""

    def __init__(self, *, share: bool = False) -> None:
        self.bind: Bind = {}
        self._collections: dict[str, str] | None = {} if share else None
        self._constants: dict[tuple[str, str], str] = {}

    def value(self, value: Any, prefix: str = "v") -> str:
        name = f"{prefix}{len(self.bind)}"
        self.bind[name] = value
        return f"@{name}"

    def const(self, value: Any) -> str:
        """One placeholder per distinct value: for the data dictionary's constants (kind
        names, type names, response keys) that a query repeats."""
        key = (type(value).__name__, repr(value))
        if key not in self._constants:
            self._constants[key] = self.value(value)
        return self._constants[key]

    def collection(self, name: str) -> str:
        if self._collections is not None and name in self._collections:
            return self._collections[name]
        placeholder = f"c{len(self.bind)}"
        self.bind[f"@{placeholder}"] = name
        if self._collections is not None:
            self._collections[name] = f"@@{placeholder}"
        return f"@@{placeholder}"


# Every query that traverses names the vertex collections it may reach: a cluster (or a
# single server started with --query.require-with) refuses a traversal without them
# (error 1521). Literal names: fixed by the layout, never a value of a request's.
WITH_VERTICES = f"WITH {', '.join(sorted(set(layout.VERTEX_COLLECTIONS.values())))} "


# Soft delete (arango_layout's doc): ``d`` is live, ``e`` a live edge; and the edges a
# walk from the document ``doc`` follows: a live node's live ones, a deleted node's
# hidden ones (all its edges are hidden with it). Arangopipe's documents have neither
# attribute: live. No index serves ``!= true``: a node's edges are read by the edge
# index, and the hidden ones dropped.
LIVE = "d.deletedAt == null"


def live_edge(e: str) -> str:
    return f"{e}.gone != true"


def edge_of(e: str, doc: str) -> str:
    return f"({e}.gone == true) == ({doc}.deletedAt != null)"


def held(doc: str, attribute: str, deleted: bool) -> str:
    """The top-level ``attribute`` of ``doc``; ``deleted``: of a node that may be deleted,
    whose unique values are set aside (``layout.aside_attributes``)."""
    return f"NOT_NULL({doc}.{attribute}, {doc}.deletedAside.{attribute})" if deleted else f"{doc}.{attribute}"


def typed_field(b: Binder, kind: Kind, key: str, doc: str) -> str:
    """The stored value of the typed field ``key`` of ``doc``, a ``kind`` document, as
    ``layout.from_document`` reads it: under ``fields``, or at the top level where the
    layout maps it and holds a value there (set aside while the node is deleted)."""
    value = f"{doc}.fields[{b.const(key)}]"
    try:
        path = b.const(layout.field_path(kind, key))
    except ValueError:
        return value  # not a field the layout keeps at the top level
    return f"NOT_NULL({doc}[{path}], {doc}.deletedAside[{path}], {value})"


def get_nodes(ids: Sequence[str]) -> Query:
    return Query(
        "FOR id IN @ids RETURN DOCUMENT(id)",
        {"ids": [layout.document_id(i) for i in ids]},
    )


def named(b: Binder, key: NameKey, limit: str = "") -> str:
    """``(FOR d ...)``: the documents of ``key``'s kind with its name in its scope (any
    scope when None), oldest first; ``limit``: e.g. `` LIMIT 2``."""
    coll = b.collection(layout.VERTEX_COLLECTIONS[key.kind])
    name = b.value(key.name)
    scope = b.value(key.scope)
    # Documents Arangopipe wrote carry no scope: a global name they hold is scope "",
    # or registering it again would make a second node of that name.
    return (
        f"(FOR d IN {coll} FILTER d.name == {name}"
        f" AND ({scope} == null OR d.scope == {scope} OR ({scope} == '' AND d.scope == null)) AND {LIVE}"
        f" SORT d.createdAt, d._key{limit} RETURN d)"
    )


def find_named(keys: Sequence[NameKey]) -> Query:
    b = Binder()
    return Query(f"RETURN [{', '.join(named(b, key) for key in keys)}]", b.bind)


def find_by_field(kind: Kind, typed_field: str, value: str) -> Query:
    b = Binder()
    coll = b.collection(layout.VERTEX_COLLECTIONS[kind])
    attribute = b.value(layout.field_path(kind, typed_field))
    wanted = b.value(value)
    return Query(
        f"FOR d IN {coll} FILTER d[{attribute}] == {wanted} AND {LIVE} SORT d.createdAt, d._key LIMIT 100 RETURN d",
        b.bind,
    )


def find_serving_perf(periods: Sequence[ServingPeriod]) -> Query:
    """The oldest record of each period, or null. Each subquery binds its own values:
    constants, which the optimizer needs to use the sparse unique index."""
    b = Binder()
    coll = b.collection(layout.VERTEX_COLLECTIONS[Kind.SERVINGPERF])
    parts = []
    for period in periods:
        values = (period.deployment_id, period.start, period.end)
        match = " AND ".join(f"d.{path} == {b.value(v)}" for path, v in zip(layout.SERVING_PERIOD, values))
        parts.append(f"FIRST(FOR d IN {coll} FILTER {match} AND {LIVE} SORT d.createdAt, d._key LIMIT 1 RETURN d)")
    return Query(f"RETURN [{', '.join(parts)}]", b.bind)


def repeated_serving_periods() -> Query:
    """Every serving-perf document but the oldest of its (deployment, period), as
    ``{kept: id of the oldest, doc: the document}``."""
    b = Binder()
    coll = b.collection(layout.VERTEX_COLLECTIONS[Kind.SERVINGPERF])
    paths = [f"d.{path}" for path in layout.SERVING_PERIOD]
    keys = ", ".join(f"k{i} = {path}" for i, path in enumerate(paths))
    return Query(
        f"FOR d IN {coll} FILTER {' AND '.join(f'{path} != null' for path in paths)}"
        f" COLLECT {keys} INTO grouped = d"
        " FILTER LENGTH(grouped) > 1"
        " LET ordered = (FOR g IN grouped SORT g.createdAt, g._key RETURN g)"
        " FOR r IN SLICE(ordered, 1) RETURN {kept: ordered[0]._id, doc: r}",
        b.bind,
    )


def repeated_values(collection: str, fields: Sequence[str], *, sparse: bool, shown: int, most: int) -> Query:
    """The values of the top-level attributes ``fields`` that more than one document of
    ``collection`` holds, at most ``most`` of them (one more comes back when there are
    more), in order, each as ``{value: [...], count, keys: its first ``shown`` keys}``.
    ``sparse``: documents that lack any of the fields are left out, as a sparse index
    leaves them out. Attribute names are bind variables too (``d.@a1``)."""
    if any("." in name for name in fields):
        # A bound attribute name is one attribute, dots and all, not a nested path.
        raise ValueError(f"repeated_values reads top-level attributes only, not {list(fields)}")
    b = Binder()
    coll = b.collection(collection)
    paths = [f"d.{b.value(name, 'a')}" for name in fields]
    present = f" FILTER {' AND '.join(f'{path} != null' for path in paths)}" if sparse else ""
    groups = [f"k{i}" for i in range(len(paths))]
    limit = b.value(most + 1)
    first = b.value(shown)
    return Query(
        f"FOR d IN {coll}{present}"
        f" COLLECT {', '.join(f'{k} = {path}' for k, path in zip(groups, paths))} INTO keys = d._key"
        f" FILTER LENGTH(keys) > 1 SORT {', '.join(groups)} LIMIT {limit}"
        f" RETURN {{value: [{', '.join(groups)}], count: LENGTH(keys), keys: SLICE(SORTED(keys), 0, {first})}}",
        b.bind,
    )


def remove_documents(collection: str, keys: Sequence[str]) -> Query:
    return Query("FOR k IN @keys REMOVE k IN @@c", {"keys": list(keys), "@c": collection})


def remove_edges_to(edge_kind: str, document_ids: Sequence[str]) -> Query:
    """Removes the ``edge_kind`` edges whose logical to-end is one of ``document_ids``."""
    collection = layout.EDGE_COLLECTIONS[edge_kind]
    end = "_from" if collection.reversed else "_to"
    return Query(
        f"FOR vid IN @ids FOR e IN @@c FILTER e.{end} == vid REMOVE e IN @@c",
        {"ids": list(document_ids), "@c": collection.name},
    )


def neighbor_groups(requests: Sequence[NeighborRequest]) -> list[list[int]]:
    """The requests' indexes grouped by (edge collection, physical direction, whether as
    of a time and, as of a time, whether from a deleted node), in the order of their
    first request: the shape of ``neighbors``' answer. As of a time, the requests from a
    deleted node have their own loop, which tests no deletion (``_neighbors_as_of``)."""
    groups: dict[tuple[str, str, bool, bool], list[int]] = {}
    for i, r in enumerate(requests):
        then = r.as_of is not None
        key = (
            layout.EDGE_COLLECTIONS[r.edge_kind].name,
            layout.physical_direction(r.edge_kind, r.step),
            then,
            then and r.from_deleted,
        )
        groups.setdefault(key, []).append(i)
    return list(groups.values())


def after_position(after: SortKey, kind: Kind) -> tuple[str | None, bool]:
    """Where a neighbour page of ``kind`` nodes starts, by the cursor's id: the key to
    compare when the id is one of ``kind``'s (``kind/key``), else (None, whether every
    id of ``kind`` sorts before it). Ids compare as strings by code point (Python's,
    SQLite's), so an id without the ``kind/`` prefix orders every ``kind/...`` the same
    way: as the prefix itself compares with it."""
    prefix = kind.value + "/"
    cursor_id = after[1]
    if cursor_id.startswith(prefix):
        return cursor_id[len(prefix) :], False
    return None, prefix < cursor_id


def _neighbor_request(r: NeighborRequest) -> JSONObject:
    # ``hidden``: along the hidden edges of a deleted node instead of the live ones.
    if r.after is None:
        return {"s": layout.document_id(r.node_id), "at": None, "key": None, "before": False, "hidden": r.from_deleted}
    key, before = after_position(r.after, _neighbor_kind(r))
    return {"s": layout.document_id(r.node_id), "at": r.after[0], "key": key, "before": before, "hidden": r.from_deleted}


def _neighbor_kind(r: NeighborRequest) -> Kind:
    edge = EDGE_KINDS[r.edge_kind]
    return edge.to_kind if r.step is Step.OUT else edge.from_kind


def newest_first(
    v: str, e: str, along: str, t: str, direction: str, start: str, coll: str, unknown: str, limit: str, after: str = ""
) -> str:
    """``FOR v, e IN ... LIMIT limit``, without its RETURN: the nodes at the other end of
    the edges ``e`` of ``coll`` from ``start`` in ``direction`` for which ``along`` holds
    (live edges, or a deleted node's hidden ones), newest first (``t``: the created time,
    then the key, both descending), after the filter ``after`` (see ``after_cursor``).
    The time is the one the node reports (``layout.from_document``: ``createdAt or``
    the epoch); keys are ordered by code point, as SQLite orders ids (TO_HEX: AQL
    orders strings by the server's language)."""
    return (
        f"FOR {v}, {e} IN 1..1 {direction} {start} {coll} FILTER {along} FILTER {v} != null"
        f" LET {t} = ({v}.createdAt || {unknown}){after}"
        f" SORT {t} DESC, TO_HEX({v}._key) DESC LIMIT {limit}"
    )


def key_before(v: str, key: str) -> str:
    """Whether the neighbour ``v``'s key sorts before ``key``, by code point."""
    return f"TO_HEX({v}._key) < TO_HEX({key})"


def after_cursor(t: str, at: str, before: str) -> str:
    """The condition of ``newest_first``'s filter that starts a page after the cursor:
    its time ``at``, and ``before``, whether a neighbour's id sorts before the cursor's
    (see ``after_position``: ``key_before``, or a bound constant)."""
    return f"{t} < {at} OR ({t} == {at} AND {before})"


def neighbors(requests: Sequence[NeighborRequest], groups: list[list[int]] | None = None) -> Query:
    """One round trip for every request: one loop over a bound list of requests per
    (edge collection, direction), so that the plan's size does not grow with the number
    of requests (AQL plans are limited to 4,000 nodes; a subquery per request reached it
    at a few hundred). Each page newest first; a group fetches the largest page any of
    its requests asks for, and the caller cuts each to its own."""
    b = Binder()
    # Documents Arangopipe wrote carry no createdAt: they sort as the epoch, as their
    # nodes report it, so that cursors built from a node page onwards.
    unknown = b.value(layout.UNKNOWN_TIME)
    parts = []
    for group in neighbor_groups(requests) if groups is None else groups:
        first = requests[group[0]]
        if first.as_of is not None:
            parts.append(_neighbors_as_of(b, [requests[i] for i in group], unknown))
            continue
        coll = b.collection(layout.EDGE_COLLECTIONS[first.edge_kind].name)
        direction = layout.physical_direction(first.edge_kind, first.step)
        wanted = b.value([_neighbor_request(requests[i]) for i in group])
        limit = b.value(max(requests[i].first for i in group) + 1)
        # A request without a cursor has none: ``at`` null (as SQLite's neighbours read
        # it); with one, its key, or null and the constant comparison of the ids.
        before = f"(r.key == null ? r.before : {key_before('v', 'r.key')})"
        cut = f" FILTER r.at == null OR {after_cursor('t', 'r.at', before)}"
        walk = newest_first("v", "e", "(e.gone == true) == r.hidden", "t", direction, "r.s", coll, unknown, limit, cut)
        parts.append(f"(FOR r IN {wanted} RETURN ({walk} RETURN v))")
    return Query(f"{WITH_VERTICES}RETURN [{', '.join(parts)}]", b.bind)


def list_nodes(q: ListQuery) -> Query:
    """Candidates from each kind's collection, then one sort and one page. Each result
    is ``{sv, lid, d}``: the sort value, the logical id, the document."""
    b = Binder()
    return Query(WITH_VERTICES + list_rows(b, q), b.bind)


def attributes(doc: str, own: str) -> str:
    """A document's attributes, as ``layout.from_document`` reads them: its
    ``attributes`` object, or, in documents Arangopipe wrote, its top-level fields but
    ``own`` (a bound ``non_attribute_fields``) and those whose name starts with "_"
    (which ATTRIBUTES(doc, true) leaves out: system or not)."""
    return f"(IS_OBJECT({doc}.attributes) ? {doc}.attributes : KEEP({doc}, MINUS(ATTRIBUTES({doc}, true), {own})))"


def list_rows(b: Binder, q: ListQuery) -> str:
    """``list_nodes``' query without its WITH: ``FOR x ... RETURN {sv, lid, d}``."""
    if not q.kinds:
        raise BadUserInput("a list needs at least one kind")
    if q.order_by is OrderField.METRIC and q.metric and q.order_metric not in (None, q.metric.name):
        raise BadUserInput("a list can filter and order by one metric at a time")
    metric_path = None
    metric_name = q.metric.name if q.metric else None
    if q.order_by is OrderField.METRIC:
        metric_name = q.order_metric or metric_name
    order = "DESC" if q.descending else "ASC"
    cmp = "<" if q.descending else ">"
    # Names and ids are ordered by code point, as SQLite orders them (TO_HEX: AQL orders
    # strings by the server's language). A list by creation time keeps the order of
    # (createdAt, _key) that its index (metagate_created_key) reads; Metagate's keys,
    # lowercase hexadecimal, order the same either way.
    by_code_point = q.order_by is not OrderField.CREATED_AT
    ids = _hex if by_code_point else _same
    past = None if q.after is None else _past(b, q.after, q.order_by, cmp, ids)
    page = b.value(q.first + 1)
    subqueries = []
    for kind in q.kinds:
        coll = b.collection(layout.VERTEX_COLLECTIONS[kind])
        prefix = b.value(kind.value + "/")
        filters: list[str] = [] if q.include_deleted else [LIVE]
        if q.name is not None:
            filters.append(f"d.name == {b.value(q.name)}")
        if q.name_contains is not None:
            filters.append(f"d.name != null AND LIKE(d.name, {b.value(contains_pattern(q.name_contains))}, true)")
        if q.order_by is OrderField.NAME:
            filters.append("d.name != null")
        if q.scope is not None:
            filters.append(f"{held('d', 'scope', q.include_deleted)} == {b.value(q.scope)}")
        if q.tag is not None:
            filters.append(f"{b.value(q.tag)} IN d.tags")
        if q.attribute is not None:
            filters.append(_comparison(b, kind, Compare(Subject.ATTRIBUTE, Op.EQ, q.attribute.value, q.attribute.key), "d", 0))
        if q.where is not None:
            filters.append(where_aql(b, kind, q.where, "d"))
        if q.created_after is not None:
            filters.append(f"d.createdAt >= {b.value(q.created_after)}")
        if q.created_before is not None:
            filters.append(f"d.createdAt < {b.value(q.created_before)}")
        if q.deployment_tag is not None:
            tag = b.value(q.deployment_tag) if kind in (Kind.RUN, Kind.DEPLOYMENT, Kind.MODEL) else ""
            if kind is Kind.RUN:
                filters.append(f"{held('d', 'deployment_tag', q.include_deleted)} == {tag}")
            elif kind is Kind.DEPLOYMENT:
                filters.append(f"{held('d', 'tag', q.include_deleted)} == {tag}")
            elif kind is Kind.MODEL:
                # Through live edges, from live runs.
                filters.append(
                    f"LENGTH(FOR r, re IN 1..1 {_hop(b, 'run_model', Step.IN, 'd')} FILTER {live_edge('re')}"
                    f" AND r.deployment_tag == {tag} LIMIT 1 RETURN 1) > 0"
                )
            else:
                filters.append("false")
        metric = "null"
        if metric_name is not None:
            if kind is Kind.RUN:
                # Bound only where used: ArangoDB refuses unused bind parameters.
                metric_path = metric_path or b.value(metric_name)
                perf = _hop(b, "run_devperf", Step.OUT, "d")
                # As the SQLite store takes it: the metric of the run's first dev-perf
                # edge that holds it as a number, one answer however many a run has.
                value = f"p.fields.metrics[{metric_path}]"
                # Along the run's live edges; a deleted run's (in a list of deleted ones
                # too) along its hidden ones.
                metric = (
                    f"FIRST(FOR p, e IN 1..1 {perf} FILTER {edge_of('e', 'd')} AND IS_NUMBER({value})"
                    f" SORT e.createdAt, p._key RETURN {value})"
                )
        # The metric's and the cursor's conditions, the sort and the page go inside each
        # kind's subquery, so that each returns its own first page (read in the order of
        # an index where there is one) and only those pages are merged, instead of every
        # matching document being sorted in memory.
        paged: list[str] = []
        if q.metric is not None or q.order_by is OrderField.METRIC:
            paged.append("IS_NUMBER(m)")
        if q.metric is not None:
            paged += [f"m {op} {b.value(bound)}" for op, bound in q.metric.bounds()]
        value = {OrderField.CREATED_AT: "d.createdAt", OrderField.NAME: "d.name", OrderField.METRIC: "m"}[q.order_by]
        sort = _hex(value) if q.order_by is OrderField.NAME else value
        if past is not None:
            paged.append(past(value, f"CONCAT({prefix}, d._key)"))
        where = "".join(f" FILTER {f}" for f in filters)
        then = "".join(f" FILTER {f}" for f in paged)
        subqueries.append(
            f"(FOR d IN {coll}{where} LET m = {metric}{then} SORT {sort} {order}, {ids('d._key')} {order} LIMIT {page}"
            f" RETURN {{d: d, m: m, lid: CONCAT({prefix}, d._key)}})"
        )
    value = {OrderField.CREATED_AT: "x.d.createdAt", OrderField.NAME: "x.d.name", OrderField.METRIC: "x.m"}[q.order_by]
    sort = _hex(value) if q.order_by is OrderField.NAME else value
    return (
        f"FOR x IN FLATTEN([{', '.join(subqueries)}])"
        f" SORT {sort} {order}, {ids('x.lid')} {order} LIMIT {page}"
        f" RETURN {{sv: {value}, lid: x.lid, d: x.d}}"
    )


def _hex(expr: str) -> str:
    return f"TO_HEX({expr})"


def _same(expr: str) -> str:
    return expr


def _past(b: Binder, after: SortKey, order_by: OrderField, cmp: str, ids: Callable[[str], str]) -> Callable[[str, str], str]:
    """The condition that a row (its sort value and id, as expressions) comes after the
    cursor ``after`` in the list's order (``cmp``); ids compared through ``ids``."""
    value, cursor_id = after
    names = order_by is OrderField.NAME
    if names and not isinstance(value, str):
        # SQLite orders every number before every name and compares no name with null:
        # every row compares the same way (and the id is not read: ArangoDB refuses a
        # bind variable the text does not use).
        same = b.value(value is not None and cmp == ">")
        return lambda sort, row_id: same
    at = b.value(value)
    lid = ids(b.value(cursor_id))

    def past(sort: str, row_id: str) -> str:
        if names:
            sort, bound = _hex(sort), _hex(at)
        else:
            bound = at
        return f"({sort} {cmp} {bound} OR ({sort} == {bound} AND {ids(row_id)} {cmp} {lid}))"

    return past


def _hop(b: Binder, edge_kind: str, step: Step, start: str) -> str:
    """``DIRECTION start @@edges``: one step along a logical edge kind."""
    direction = layout.physical_direction(edge_kind, step)
    return f"{direction} {start} {b.collection(layout.EDGE_COLLECTIONS[edge_kind].name)}"


def traversal(b: Binder, direction: Direction, start: str, steps: Collection[str] | None = None, *, removed: bool = False) -> str:
    """``DIR @start coll, DIR2 coll2, ...`` for one walk, along the edge kinds ``steps``
    (None: every one; the declared and the removed lineage edges go with
    ``CUSTOM_EDGE_PREFIX``, of any kind); ``removed``: along the removed lineage edges
    too (a walk as of a time). The first collection takes the traversal's default
    direction."""
    legs = [
        (c, way)
        for c, way in layout.traversal(direction, removed=removed)
        if steps is None or layout.EDGE_KINDS_BY_COLLECTION.get(c, CUSTOM_EDGE_PREFIX) in steps
    ]
    first_direction = legs[0][1]
    rendered = []
    for i, (collection, way) in enumerate(legs):
        coll = b.collection(collection)
        rendered.append(coll if i == 0 else f"{way} {coll}")
    return f"{first_direction} {start} {', '.join(rendered)}"


def walks(direction: Direction) -> list[Direction]:
    """The walks of a lineage: BOTH is an upstream and a downstream one."""
    return [Direction.UPSTREAM, Direction.DOWNSTREAM] if direction is Direction.BOTH else [direction]


def lineage_walk(
    b: Binder,
    direction: Direction,
    start: str,
    depth: str,
    limit: str,
    collections: str | None,
    kinds: Sequence[Kind] | None,
    hidden: bool = False,
    *,
    as_of: AsOf | None = None,
) -> str:
    """The LETs of a lineage walk from ``start`` (a bound document id), up to ``found``:
    ``{v, depth, dir}`` of every node up to the depth of the (limit + 1)-th. A
    breadth-first traversal per direction walked (uniqueVertices global, so each node
    comes at its least depth), the kinds filter (``collections``: a bound list of vertex
    collections, given with ``kinds``, the same kinds: the traversal leaves out the edge
    collections that cannot lead to one of them) and the limit, pushed into the walk: a
    first traversal per direction stops at the (limit + 1)-th node it keeps and gives
    that node's depth, and the walk that collects the nodes is pruned there, so that its
    cost follows the answer and the last level's frontier, not everything the start
    reaches.

    The walk steps along live edges only (a deleted node's are hidden with it: the walk
    stops short of it), or, ``hidden``, along every edge, through and to deleted nodes.
    The live test is on the path's every edge, a form the optimizer moves into the
    traversal (TraversalConditionFinder: ``p.edges[*].x NONE == v`` becomes a condition
    on each edge, checked as the edge is read): a hidden edge is not stepped along at
    all, so the node at its end is not visited through it, which uniqueVertices global
    would otherwise hold against its live path. A test on ``e`` would be a post-filter:
    the vertex visited, the walk going on past it. No FILTER of these traversals holds
    an OR (the kinds test is left out without a kinds filter): a condition the optimizer
    cannot write as one conjunction is moved into no traversal at all.

    ``as_of``: the walk over the graph as it was then (``port.LineageQuery``), along the
    stored edges (hidden or not) and the removed lineage edges that existed then
    (``existed_on_path``, on the path's every edge, moved into the traversal as the live
    test is), from nodes that existed then and, but ``hidden``, were live then. Those
    tests are of the node alone, the same whichever path reaches it: a PRUNE stops the
    walk at a node that fails them (``absent_or_dead``; at the start too, so that a
    start absent or deleted then has no lineage), and the FILTER leaves it out
    (``present_and_live``, written without OR)."""
    ways = walks(direction)
    options = ' OPTIONS {order: "bfs", uniqueVertices: "global"}'
    lets = []
    stop = ""
    if as_of is None:
        live = "" if hidden else " FILTER p.edges[*].gone NONE == true"
        # The start is no node of its own lineage, even where a loop leads back to it.
        keep = f"{live} FILTER v._id != {start}"
    else:
        if not hidden:
            lets += revived_lets(b, as_of)
        keep = f"{existed_on_path(as_of)} FILTER v._id != {start} AND {present_and_live('v', as_of, hidden)}"
        stop = absent_or_dead("v", as_of, hidden)
    if collections is not None:
        keep += f" AND PARSE_IDENTIFIER(v._id).collection IN {collections}"
    # With a kinds filter, the edge collections that cannot lead to a wanted kind are
    # left out: steps_toward knows the built-in edge kinds, so the walk left so is taken
    # only while no lineage edge kind is declared (``declared``, read here); else every
    # collection is walked. Each form runs in a loop over [1] or [] that says which.
    forms: list[tuple[str, Collection[str] | None]] = [("", None)]
    if kinds is not None:
        useful = steps_toward(kinds)
        lets.append(
            f"LET declared = LENGTH(FOR k IN {b.collection(layout.EDGE_KINDS_COLLECTION)} FILTER k.upstream != null"
            " LIMIT 1 RETURN 1) > 0"
        )
        forms = [("FOR g IN (declared ? [] : [1]) ", "pruned"), ("FOR g IN (declared ? [1] : []) ", None)]

    def steps(walk: Direction, form: Collection[str] | None) -> Collection[str] | None:
        if form is None:
            return None
        return {s.edge.name for s in useful if s.direction is walk} | {CUSTOM_EDGE_PREFIX}

    def each(walk: Direction, body: Callable[[str], str]) -> str:
        """The walk's subquery; with two forms, the union of theirs (one is empty)."""
        removed = as_of is not None
        parts = [
            f"{gate}FOR v, e, p IN 1..{depth} {body(traversal(b, walk, start, steps(walk, form), removed=removed))}"
            for gate, form in forms
        ]
        return f"({parts[0]})" if len(parts) == 1 else f"UNION({', '.join(f'({p})' for p in parts)})"

    prune = f" PRUNE {stop}" if stop else ""
    for i, walk in enumerate(ways):
        first = each(walk, lambda t: f"{t}{prune}{options}{keep} LIMIT {limit}, 1 RETURN LENGTH(p.edges)")
        # FIRST((FOR ...)) is FIRST(FOR ...): the subquery's own parentheses serve.
        lets.append(f"LET c{i} = FIRST{first}" if len(forms) == 1 else f"LET c{i} = FIRST({first})")
    # The union's (limit + 1)-th node is no deeper than any one walk's: MIN skips nulls.
    lets.append(f"LET reach = MIN([{depth}, {', '.join(f'c{i}' for i in range(len(ways)))}])")
    for i, walk in enumerate(ways):
        way: list[str] = []  # the direction's value, bound once, after the first traversal

        def collect(t: str, walk: Direction = walk, way: list[str] = way) -> str:
            way[:] = way or [b.value(walk.value)]
            stops = f"LENGTH(p.edges) >= reach OR {stop}" if stop else "LENGTH(p.edges) >= reach"
            return f"{t} PRUNE {stops}{options}{keep} RETURN {{v: v, depth: LENGTH(p.edges), dir: {way[0]}}}"

        lets.append(f"LET w{i} = {each(walk, collect)}")
    # BFS order within one depth is arbitrary: keep every node up to the depth of the
    # (limit + 1)-th, so that the caller's sort and cut choose as the SQLite adapter does.
    hits = f"UNION({', '.join(f'w{i}' for i in range(len(ways)))}, [])"
    return (
        " ".join(lets)
        + f" LET hits = {hits}"
        + f" LET cut = NTH((FOR h IN hits SORT h.depth RETURN h.depth), {limit})"
        + " LET found = (FOR h IN hits FILTER cut == null OR h.depth <= cut RETURN h)"
    )


def lineage(
    start: str,
    direction: Direction,
    depth: int,
    limit: int,
    kinds: Sequence[Kind] | None,
    hidden: bool = False,
    as_of: str | None = None,
) -> Query:
    """One query: ``lineage_walk`` and the edges that join the nodes it found (live ones,
    or, ``hidden``, hidden ones too). ``as_of``: over the graph as it was then, the edges
    those that existed then (stored or removed since), and each node with what the
    store knows of it then (``node_state``: ``{v, depth, dir, parts, deleted}``)."""
    b = Binder()
    b.bind["start"] = layout.document_id(start)
    b.bind["depth"] = depth
    b.bind["limit"] = limit  # LIMIT @limit, 1 and NTH(..., @limit): the (limit + 1)-th
    collections = None
    if kinds is not None:
        b.bind["collections"] = [layout.VERTEX_COLLECTIONS[k] for k in kinds]
        collections = "@collections"
    then = None
    if as_of is not None:
        b.bind["at"] = as_of
        b.bind["atKey"] = layout.descending_time(as_of)
        then = AsOf("@at", "@atKey")
    walk = lineage_walk(b, direction, "@start", "@depth", "@limit", collections, kinds, hidden, as_of=then)
    if then is None:
        live = "" if hidden else f" FILTER {live_edge('e')}"
    else:
        live = f" FILTER {existed('e', then)}"
    edge_lets = []
    for i, way in enumerate(walks(direction)):
        edge_lets.append(
            f"LET e{i} = (FOR vid IN ids FOR v, e IN 1..1 {traversal(b, way, 'vid', removed=then is not None)}{live}"
            " FILTER v._id IN ids RETURN DISTINCT"
            " {c: PARSE_IDENTIFIER(e._id).collection, d: e})"
        )
    nodes = "found"
    ids = " LET ids = APPEND([@start], found[*].v._id) "
    if then is not None:
        lets, state = node_state(b, "h.v", then.at)
        nodes = f"(FOR h IN found{lets} RETURN {{v: h.v, depth: h.depth, dir: h.dir, {state}}})"
        # The start's own edges only where the walk could step from it (a loop on it).
        ids = (
            f" LET origin = DOCUMENT(@start) LET ids = APPEND((origin != null AND {present_and_live('origin', then, hidden)})"
            " ? [@start] : [], found[*].v._id) "
        )
    text = (
        walk
        + ids
        + " ".join(edge_lets)
        + f" RETURN {{nodes: {nodes}, edges: UNION({', '.join(f'e{i}' for i in range(len(edge_lets)))}, [])}}"
    )
    return Query(WITH_VERTICES + text, b.bind)


# --------------------------------------------------------------------------------------
# Reads as of a time T (port.LineageQuery): the graph as it was then, from the stored
# graph, the deletion spans, the removed edges and the change marks (arango_layout's doc).
# An edge existed at T when it was created at or before it (Arangopipe's, of no known
# time: always) and, kept removed, was removed after it. A node existed at T when it was
# created at or before it (documents are kept until purged); it was deleted at T when
# it is deleted now since T or before (its open span's time is its document's), or a
# span since closed held T (a walk: ``revived``, read once; a neighbour: ``no_span_held``,
# probed); its parts at T are the ``before`` of the first change of each after T, or as
# they are.
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AsOf:
    """The placeholders of a walk as of a time: the time (``at``), its
    ``layout.descending_time`` (``key``), and the variable that holds ``revived`` as an
    object, each id an attribute of its own (``revived_set``: HAS looks one up, where IN
    would scan the list)."""

    at: str
    key: str
    revived_set: str = "revivedSet"


def revived(b: Binder, at: str) -> str:
    """``(FOR ...)``: the document ids of the nodes deleted at ``at`` by a span closed
    since (restored after it), read by the sparse index on restoredAt: restores are few.
    With a node's document (deleted now, since when), what says it was deleted then.
    Read once per walk (a time bound, not a loop variable: the index can serve it)."""
    spans = b.collection(layout.DELETIONS_COLLECTION)
    return f"(FOR s IN {spans} FILTER s.restoredAt > {at} AND s.deletedAt <= {at} RETURN s.node)"


def revived_lets(b: Binder, t: AsOf) -> list[str]:
    """The LETs of a walk as of ``t`` that read ``revived`` once and make it
    ``t.revived_set`` (ZIP keeps one attribute of a repeated key)."""
    return [f"LET revived = {revived(b, t.at)}", f"LET {t.revived_set} = ZIP(revived, revived)"]


def no_span_held(b: Binder, v: str, at: str) -> str:
    """Whether none of the node ``v``'s deletion spans held ``at`` (begun at or before it,
    open or restored after it): a probe of the index on (node, deletedAt) for the one
    node, where ``revived`` would read every span closed after ``at``. The restoredAt
    test is a ternary, so that the sparse index on restoredAt is no candidate."""
    spans = b.collection(layout.DELETIONS_COLLECTION)
    return (
        f"LENGTH(FOR s IN {spans} FILTER s.node == {v}._id AND s.deletedAt <= {at}"
        f" AND (s.restoredAt == null ? true : s.restoredAt > {at}) LIMIT 1 RETURN 1) == 0"
    )


def existed(e: str, t: AsOf) -> str:
    """Whether the edge ``e`` (stored or removed) existed at ``t``. A stored edge has no
    removedKey (null, less than any text); a removed one's is less than ``t.key`` when it
    was removed after ``t``."""
    return f"{e}.createdAt <= {t.at} AND {e}.removedKey < {t.key}"


def existed_on_path(t: AsOf) -> str:
    """``existed`` of the path's every edge, as FILTERs of the form the optimizer moves
    into the traversal (``p.edges[*].x ALL < v``: a condition on each edge read)."""
    return f" FILTER p.edges[*].createdAt ALL <= {t.at} FILTER p.edges[*].removedKey ALL < {t.key}"


def deleted_then(v: str, t: AsOf) -> str:
    """Whether the node ``v`` (a node that existed at ``t``) was deleted then: deleted now,
    since then or before, or by a span since closed (``revived``). No subquery and no
    DOCUMENT: a walk's PRUNE may hold neither (HAS runs where the traversal does: it is
    none of the functions a PRUNE or a condition moved into a traversal may not call)."""
    return f"({v}.deletedAt != null AND {v}.deletedAt <= {t.at}) OR HAS({t.revived_set}, {v}._id)"


def absent_or_dead(v: str, t: AsOf, hidden: bool) -> str:
    """Whether the node ``v`` did not exist at ``t`` or, but ``hidden``, was deleted then:
    a walk's PRUNE."""
    absent = f"{v}.createdAt > {t.at}"
    return absent if hidden else f"{absent} OR {deleted_then(v, t)}"


def present_and_live(v: str, t: AsOf, hidden: bool) -> str:
    """NOT ``absent_or_dead``, written without OR (the ternary is one term): a FILTER the
    optimizer still moves the path's edge tests from."""
    present = f"{v}.createdAt <= {t.at}"
    if hidden:
        return present
    return f"{present} AND ({v}.deletedAt == null ? true : {v}.deletedAt > {t.at}) AND NOT HAS({t.revived_set}, {v}._id)"


def node_state(b: Binder, doc: str, at: str) -> tuple[str, str]:
    """The LETs that read what a node (the document ``doc``) was at ``at``, and the
    attributes that say it: ``parts``, for each of ``changes.PARTS``, ``[value]`` (the
    ``before`` of the first CHANGED mark, in log order, after ``at`` that holds it) or
    null (as it is now); ``deleted``, ``[deletedAt, reason]`` of the deletion that held
    ``at``, or null. Marks by (node, action, at) (``metagate_change_nodes_changed``);
    marks written before they held a time, by their entry's; spans by (node, deletedAt)
    (``metagate_deletions_node``): the last begun at or before ``at``."""
    lets, parts, deleted = node_then(b, doc, at)
    return lets, f"parts: {parts}, deleted: {deleted}"


def node_then(b: Binder, doc: str, at: str, name: str = "as") -> tuple[str, str, str]:
    """``node_state``'s LETs, the variable that holds its ``parts`` and the expression of
    its ``deleted``; ``name``: the prefix of the variables the LETs declare (a query that
    reads nodes within nodes' answers names each its own)."""
    marks = b.collection(layout.CHANGE_NODES_COLLECTION)
    changed = b.value(Action.CHANGED.value)
    entries = b.value(layout.CHANGES_COLLECTION)
    parts = b.value(list(PARTS))
    spans = b.collection(layout.DELETIONS_COLLECTION)
    mark = f"FOR m IN {marks} FILTER m.node == {doc}._id AND m.action == {changed}"
    lets = (
        f" LET {name}_marks = UNION(({mark} AND m.at > {at} RETURN {{seq: m.seq, before: m.before}}),"
        f" ({mark} AND m.at == null FILTER DOCUMENT(CONCAT({entries}, '/', m.seq)).at > {at}"
        " RETURN {seq: m.seq, before: m.before}))"
        f" LET {name}_before = (FOR m IN {name}_marks SORT m.seq RETURN m.before)"
        f" LET {name}_parts = (FOR part IN {parts}"
        f" RETURN FIRST(FOR x IN {name}_before FILTER HAS(x, part) LIMIT 1 RETURN [x[part]]))"
        f" LET {name}_span = FIRST(FOR s IN {spans} FILTER s.node == {doc}._id AND s.deletedAt <= {at}"
        " SORT s.deletedAt DESC LIMIT 1 RETURN s)"
    )
    deleted = (
        f"(({doc}.deletedAt != null AND {doc}.deletedAt <= {at}) ? [{doc}.deletedAt, {doc}.deletedReason]"
        f" : ({name}_span.restoredAt > {at} ? [{name}_span.deletedAt, {name}_span.reason] : null))"
    )
    return lets, f"{name}_parts", deleted


def get_nodes_as_of(ids: Sequence[str], at: str) -> Query:
    """Each node as it was at ``at`` (``node_state``: ``{d, parts, deleted}``), or null
    where there is none or it did not exist yet."""
    b = Binder()
    ids_ = b.value([layout.document_id(i) for i in ids])
    when = b.value(at)
    lets, state = node_state(b, "d", when)
    return Query(
        f"FOR id IN {ids_} LET d = DOCUMENT(id){lets} RETURN (d != null AND d.createdAt <= {when}) ? {{d: d, {state}}} : null",
        b.bind,
    )


def _neighbors_as_of(b: Binder, group: Sequence[NeighborRequest], unknown: str) -> str:
    """``neighbors``' loop for a group of requests as of a time (each its own, ``r.asOf``):
    the far ends of the edges that existed then, stored or removed since; that existed
    then and, but from a deleted node (the group's ``hidden`` requests: every edge it had
    then, so no deletion test), were live then: not deleted now since then or before,
    and no span of theirs held then (``no_span_held``, probed for the candidates past the
    cursor alone); newest first, each as ``node_state`` reads it."""
    first = group[0]
    coll = b.collection(layout.EDGE_COLLECTIONS[first.edge_kind].name)
    direction = layout.physical_direction(first.edge_kind, first.step)
    removed_name, removed_direction = layout.removed_hop(first.edge_kind, first.step)
    removed = b.collection(removed_name)
    kind = b.value(first.edge_kind)
    wanted = b.value([{**_neighbor_request(r), "asOf": r.as_of} for r in group])
    limit = b.value(max(r.first for r in group) + 1)
    stored = f"(FOR n, ne IN 1..1 {direction} r.s {coll} FILTER ne.createdAt <= r.asOf RETURN n)"
    kept = (
        f"(FOR o, oe IN 1..1 {removed_direction} r.s {removed}"
        f" FILTER oe.kind == {kind} AND oe.createdAt <= r.asOf AND oe.removedAt > r.asOf RETURN o)"
    )
    before = f"(r.key == null ? r.before : {key_before('v', 'r.key')})"
    # A subquery is run ahead of the expression that holds it (no lazy OR): the probe is
    # a FILTER of its own, after those that leave candidates out without one.
    live = "" if first.from_deleted else " AND NOT (v.deletedAt != null AND v.deletedAt <= r.asOf)"
    probe = "" if first.from_deleted else f" FILTER {no_span_held(b, 'v', 'r.asOf')}"
    lets, state = node_state(b, "v", "r.asOf")
    return (
        f"(FOR r IN {wanted} RETURN (FOR v IN UNION_DISTINCT({stored}, {kept})"
        f" FILTER v != null AND v.createdAt <= r.asOf{live}"
        f" LET t = (v.createdAt || {unknown}) FILTER r.at == null OR {after_cursor('t', 'r.at', before)}{probe}"
        f" SORT t DESC, TO_HEX(v._key) DESC LIMIT {limit}{lets} RETURN {{d: v, {state}}}))"
    )


def start_deletions(ids: Sequence[str], at: str, reason: str | None) -> list[Query]:
    """One query per vertex collection, sent before ``delete_nodes``: a deletion span for
    each of its live documents of ``ids`` (those ``delete_nodes`` marks)."""
    return [
        Query(
            "FOR d IN @@c FILTER d._key IN @keys AND d.deletedAt == null"
            " INSERT {node: d._id, deletedAt: @at, reason: @reason, restoredAt: null} INTO @@spans",
            {
                "keys": keys,
                "at": at,
                "reason": reason,
                "@c": layout.VERTEX_COLLECTIONS[kind],
                "@spans": layout.DELETIONS_COLLECTION,
            },
        )
        for kind, keys in _by_collection(ids).items()
    ]


def end_deletions(ids: Sequence[str], at: str) -> Query:
    """The open deletion span of each node of ``ids`` closed at ``at`` (restored)."""
    return Query(
        "FOR s IN @@spans FILTER s.node IN @ids AND s.restoredAt == null UPDATE s WITH {restoredAt: @at} IN @@spans",
        {"ids": [layout.document_id(i) for i in dict.fromkeys(ids)], "at": at, "@spans": layout.DELETIONS_COLLECTION},
    )


def keep_removed_edges(edges: Sequence[Edge], removed_at: str) -> list[Query]:
    """One query per edge collection, sent before ``remove_edges``: each stored edge of
    these kinds between these ends (as ``remove_edges`` finds it) kept in its removed
    edges' collection (``layout.to_removed_edge_document``), with its own createdAt."""
    by_collection: dict[tuple[str, str], dict[tuple[str, ...], JSONObject]] = {}
    for edge in edges:
        collection, doc = layout.to_edge_document(edge)
        target, kept = layout.to_removed_edge_document(edge, removed_at)
        wanted: JSONObject = {"f": doc["_from"], "t": doc["_to"], "doc": kept}
        if "kind" in doc:
            wanted["k"] = doc["kind"]
        found = by_collection.setdefault((collection, target), {})
        found.setdefault((doc["_from"], doc["_to"], doc.get("kind", "")), wanted)
    queries = []
    for (c, target), wanted_ in by_collection.items():
        of_kind = " AND e.kind == p.k" if c in layout.CUSTOM_EDGE_COLLECTIONS else ""
        queries.append(
            Query(
                f"FOR p IN @edges FOR e IN @@c FILTER e._from == p.f AND e._to == p.t{of_kind}"
                " INSERT MERGE(p.doc, {createdAt: e.createdAt}) INTO @@removed",
                {"edges": list(wanted_.values()), "@c": c, "@removed": target},
            )
        )
    return queries


def logged_deletions() -> Query:
    """Every node's deletion and restoration in the change log, in log order: what
    init-db makes the deletion spans of (``{seq, node, action, at, reason}``: the entry's
    number, a logical id, the entry's time, the reason of a deletion). All of them: a
    restoration logged after the backfill's bound closes a span begun before it
    (``arango_init.deletion_spans``)."""
    return Query(
        "FOR c IN @@c SORT c.seq FOR i IN c.items FILTER i.edge == null AND i.node != null AND i.action IN @actions"
        " RETURN {seq: c.seq, node: i.node, action: i.action, at: c.at, reason: i.after.reason}",
        {"@c": layout.CHANGES_COLLECTION, "actions": [Action.DELETED.value, Action.RESTORED.value]},
    )


def logged_edge_removals(up_to: int) -> Query:
    """Every edge removal in the change log's entries numbered up to ``up_to`` (by the
    index on seq), in log order (``{seq, edge: [kind, from, to], createdAt, at}``):
    removed (DELETED), or removed and made again in one write (CHANGED, from its first
    time to a new one). Those of later entries were kept by their writers."""
    return Query(
        "FOR c IN @@c FILTER c.seq <= @upTo SORT c.seq FOR i IN c.items FILTER i.edge != null AND i.action IN @actions"
        " AND i.before.createdAt != null RETURN {seq: c.seq, edge: i.edge, createdAt: i.before.createdAt, at: c.at}",
        {"@c": layout.CHANGES_COLLECTION, "actions": [Action.DELETED.value, Action.CHANGED.value], "upTo": up_to},
    )


def begin_backfill() -> Query:
    """Records, unless it is recorded, where init-db's backfill stops (``upTo``): the
    change-log counter as it is now (0 before any entry), read before the collections it
    fills exist, so that entries numbered after it are those of writers that kept what
    the backfill would add (arango_init's doc); ``done`` false until it has run."""
    return Query(
        "LET upTo = FIRST(FOR s IN @@c FILTER s._key == @counter RETURN s.seq)"
        ' INSERT {_key: @mark, upTo: NOT_NULL(upTo, 0), done: false} INTO @@c OPTIONS {overwriteMode: "ignore"}',
        {"counter": layout.CHANGES_COUNTER, "mark": layout.BACKFILL_MARK, "@c": layout.SEQUENCES_COLLECTION},
    )


def backfill_mark() -> Query:
    """The backfill's record (``begin_backfill``), if any: ``{upTo, done}``."""
    return Query(
        "FOR s IN @@c FILTER s._key == @mark RETURN s", {"mark": layout.BACKFILL_MARK, "@c": layout.SEQUENCES_COLLECTION}
    )


def end_backfill() -> Query:
    """The backfill's record marked done: init-db runs it no more."""
    return Query(
        "UPDATE {_key: @mark} WITH {done: true} IN @@c", {"mark": layout.BACKFILL_MARK, "@c": layout.SEQUENCES_COLLECTION}
    )


def insert_absent(collection: str, documents: list[JSONObject]) -> Query:
    """``documents`` (each with its _key) inserted, but those whose key is there already
    (left as they are): the _key of each inserted, null for each left."""
    return Query(
        'FOR d IN @docs INSERT d INTO @@c OPTIONS {overwriteMode: "ignore"} RETURN NEW._key',
        {"docs": documents, "@c": collection},
    )


def insert_open_spans(spans: list[JSONObject]) -> Query:
    """The open deletion spans ``spans`` (each with its _key) inserted, each where its
    node is deleted still since the span's time and has no open span (one a writer
    began, or a backfill before), and its key is not there already: as
    ``insert_absent``'s, the _key of each inserted, null for each left. The reads come
    before the INSERT, as AQL requires."""
    return Query(
        f"{WITH_VERTICES}FOR s IN @spans LET d = DOCUMENT(s.node) FILTER d.deletedAt == s.deletedAt"
        " FILTER LENGTH(FOR o IN @@c FILTER o.node == s.node AND o.restoredAt == null LIMIT 1 RETURN 1) == 0"
        ' INSERT s INTO @@c OPTIONS {overwriteMode: "ignore"} RETURN NEW._key',
        {"spans": spans, "@c": layout.DELETIONS_COLLECTION},
    )


def deleted_documents() -> Query:
    """``{node, at, reason}`` (document id, deletedAt, deletedReason) of every node
    deleted now, by each vertex collection's sparse index on deletedAt."""
    b = Binder()
    row = "{node: d._id, at: d.deletedAt, reason: d.deletedReason}"
    each = [f"(FOR d IN {b.collection(c)} FILTER d.deletedAt != null RETURN {row})" for c in layout.VERTEX_COLLECTIONS.values()]
    return Query(f"FOR x IN FLATTEN([{', '.join(each)}]) RETURN x", b.bind)


def existing_documents(document_ids: Sequence[str]) -> Query:
    """Those of ``document_ids`` whose documents exist (the vertex collections named
    first, as a cluster needs for DOCUMENT)."""
    return Query(f"{WITH_VERTICES}FOR id IN @ids FILTER DOCUMENT(id) != null RETURN id", {"ids": list(document_ids)})


def project_counts(project_id: str) -> Query:
    b = Binder()
    b.bind["p"] = layout.document_id(project_id)
    return Query(WITH_VERTICES + counts(b, "@p"), b.bind)


def counts(b: Binder, project: str) -> str:
    """``LET ... RETURN [models, runs, datasets, featuresets, deployments]``: the counts of
    the project ``project`` (a bound document id)."""
    # Along live edges only: a deleted node and its edges count for nothing.
    return (
        f"LET models = (FOR m, me IN 1..1 {_hop(b, 'project_model', Step.OUT, project)} FILTER {live_edge('me')}"
        " RETURN m._id)"
        f" LET runs = (FOR m IN models FOR r, re IN 1..1 {_hop(b, 'run_model', Step.IN, 'm')} FILTER {live_edge('re')}"
        " RETURN r._id)"
        " LET datasets = UNIQUE(FOR r IN runs FOR d, de IN 1..1"
        f" {_hop(b, 'run_dataset', Step.OUT, 'r')} FILTER {live_edge('de')} RETURN d._id)"
        " LET featuresets = UNIQUE(FOR r IN runs FOR f, fe IN 1..1"
        f" {_hop(b, 'run_featureset', Step.OUT, 'r')} FILTER {live_edge('fe')} RETURN f._id)"
        " LET deployments = UNIQUE(FOR m IN models FOR x, xe IN 1..1"
        f" {_hop(b, 'deployment_model', Step.IN, 'm')} FILTER {live_edge('xe')} RETURN x._id)"
        " RETURN [LENGTH(models), LENGTH(runs), LENGTH(datasets), LENGTH(featuresets), LENGTH(deployments)]"
    )


def count_all() -> Query:
    b = Binder()
    parts = []
    for kind, name in layout.VERTEX_COLLECTIONS.items():
        coll = b.collection(name)
        parts.append(f"{{k: {b.value(kind.value)}, n: LENGTH({coll}), t: SUM(FOR d IN {coll} RETURN LENGTH(d.tags || []))}}")
    for logical, edge in layout.EDGE_COLLECTIONS.items():
        coll = b.collection(edge.name)
        parts.append(f"{{k: {b.value('edge:' + logical)}, n: LENGTH({coll}), t: 0}}")
    return Query(f"RETURN [{', '.join(parts)}]", b.bind)


def insert_documents(collection: str, documents: list[JSONObject]) -> Query:
    return Query("FOR d IN @docs INSERT d INTO @@c", {"docs": documents, "@c": collection})


def insert_nodes(nodes: Sequence[Node]) -> list[Query]:
    by_collection: dict[str, list[JSONObject]] = {}
    for node in nodes:
        by_collection.setdefault(layout.VERTEX_COLLECTIONS[node.kind], []).append(layout.to_document(node))
    return [insert_documents(c, docs) for c, docs in by_collection.items()]


def insert_edges(edges: Sequence[Edge]) -> list[Query]:
    by_collection: dict[str, list[JSONObject]] = {}
    for edge in edges:
        collection, doc = layout.to_edge_document(edge)
        by_collection.setdefault(collection, []).append(doc)
    return [insert_documents(c, docs) for c, docs in by_collection.items()]


def update_node(node_id: str, changes: JSONObject) -> Query:
    kind, _, key = node_id.partition("/")
    return Query(
        "UPDATE {_key: @key} WITH @changes IN @@c OPTIONS {mergeObjects: false}",
        {"key": key, "changes": changes, "@c": layout.VERTEX_COLLECTIONS[Kind(kind)]},
    )


def _by_collection(ids: Sequence[str]) -> dict[Kind, list[str]]:
    """The keys of ``ids`` by kind, in the order of the kinds' first ids."""
    keys: dict[Kind, list[str]] = {}
    for node_id in dict.fromkeys(ids):
        kind, _, key = node_id.partition("/")
        keys.setdefault(Kind(kind), []).append(key)
    return keys


def delete_nodes(ids: Sequence[str], at: str, reason: str | None) -> list[Query]:
    """One query per vertex collection: marks its live documents of ``ids`` deleted at
    ``at`` and sets their unique values aside (``layout.aside_attributes``: kept under
    deletedAside, null meanwhile, so that the sparse unique indexes leave them out).
    ``mergeObjects: false``: deletedAside is the object given, not merged into one."""
    queries = []
    for kind, keys in _by_collection(ids).items():
        aside = layout.aside_attributes(kind)
        queries.append(
            Query(
                "FOR d IN @@c FILTER d._key IN @keys AND d.deletedAt == null"
                " UPDATE d WITH MERGE(@cleared, {deletedAt: @at, deletedReason: @reason, deletedAside: KEEP(d, @aside)})"
                " IN @@c OPTIONS {mergeObjects: false}",
                {
                    "keys": keys,
                    "cleared": dict.fromkeys(aside),
                    "at": at,
                    "reason": reason,
                    "aside": list(aside),
                    "@c": layout.VERTEX_COLLECTIONS[kind],
                },
            )
        )
    return queries


def restore_nodes(ids: Sequence[str]) -> list[Query]:
    """One query per vertex collection: its deleted documents of ``ids`` live again, the
    values set aside back where they were (a unique index refuses one another node has
    taken meanwhile: error 1210), the deletion's attributes removed (``keepNull: false``
    removes the attributes updated to null)."""
    return [
        Query(
            "FOR d IN @@c FILTER d._key IN @keys AND d.deletedAt != null"
            " UPDATE d WITH MERGE(d.deletedAside || {}, {deletedAt: null, deletedReason: null, deletedAside: null})"
            " IN @@c OPTIONS {keepNull: false, mergeObjects: false}",
            {"keys": keys, "@c": layout.VERTEX_COLLECTIONS[kind]},
        )
        for kind, keys in _by_collection(ids).items()
    ]


def _edges_of(ids: Sequence[str]) -> tuple[list[str], list[str]]:
    """The document ids of ``ids``, and the edge collections that may hold their edges."""
    return [layout.document_id(i) for i in dict.fromkeys(ids)], layout.edge_collections_of(_by_collection(ids))


def hide_edges(ids: Sequence[str]) -> list[Query]:
    """One query per edge collection that may hold an edge of one of the nodes ``ids``:
    each such edge, either way round, hidden (``gone: true``). An UPDATE may follow no
    other read or write of its collection in a query: one query each."""
    document_ids, collections = _edges_of(ids)
    return [
        Query(
            "FOR e IN @@c FILTER (e._from IN @ids OR e._to IN @ids) AND e.gone != true UPDATE e WITH {gone: true} IN @@c",
            {"ids": document_ids, "@c": c},
        )
        for c in collections
    ]


def show_edges(ids: Sequence[str]) -> list[Query]:
    """As ``hide_edges``, the other way: each hidden edge of the nodes ``ids`` whose two
    ends are live shows again (``gone`` removed). The ends are read before the UPDATE
    (a function that reads documents may not follow it), from the vertex collections
    the query names (as a cluster needs the collections DOCUMENT reads named)."""
    document_ids, collections = _edges_of(ids)
    return [
        Query(
            f"{WITH_VERTICES}FOR e IN @@c FILTER (e._from IN @ids OR e._to IN @ids) AND e.gone == true"
            " FILTER DOCUMENT(e._from).deletedAt == null AND DOCUMENT(e._to).deletedAt == null"
            " UPDATE e WITH {gone: null} IN @@c OPTIONS {keepNull: false}",
            {"ids": document_ids, "@c": c},
        )
        for c in collections
    ]


def _deleted_before(coll: str, before: str) -> str:
    # ``!= null``: a sparse index serves a range only when null is outside it.
    return f"FOR d IN {coll} FILTER d.deletedAt != null AND d.deletedAt < {before}"


def count_deleted(before: str) -> Query:
    """How many nodes were deleted before ``before``, read by each vertex collection's
    sparse index on deletedAt."""
    b = Binder()
    at = b.value(before)
    counts = [
        f"FIRST({_deleted_before(b.collection(c), at)} COLLECT WITH COUNT INTO n RETURN n)"
        for c in layout.VERTEX_COLLECTIONS.values()
    ]
    return Query(f"RETURN SUM([{', '.join(counts)}])", b.bind)


def deleted_before(before: str, most: int) -> Query:
    """``{at, id}`` (deletedAt, document id) of at most ``most`` nodes deleted before
    ``before``, oldest deletion first: each collection's first ``most`` in the order of
    its index, then the oldest of those."""
    b = Binder()
    at, first = b.value(before), b.value(most)
    oldest = [
        f"({_deleted_before(b.collection(c), at)} SORT d.deletedAt LIMIT {first} RETURN {{at: d.deletedAt, id: d._id}})"
        for c in layout.VERTEX_COLLECTIONS.values()
    ]
    return Query(f"FOR x IN FLATTEN([{', '.join(oldest)}]) SORT x.at LIMIT {first} RETURN x", b.bind)


def purge(ids: Sequence[str]) -> list[Query]:
    """What removes the nodes ``ids`` for good, one query per collection it writes: their
    edges (either way round, hidden or not, stored or removed), their metric points, the
    moves whose subject they are, their marks in the change log (its entries stay) and
    their deletion spans, the answers of keyed
    mutations whose node (the first of their ``ids``) is one of them, and last the
    documents. An answer of a batch (``runs``) stays: a retry of it is answered CONFLICT
    for the runs gone, never run again for the ones still there. The idempotency records
    are read whole: nothing indexes what an answer names."""
    document_ids, collections = _edges_of(ids)
    nodes = list(dict.fromkeys(ids))
    queries = [
        Query("FOR e IN @@c FILTER e._from IN @ids OR e._to IN @ids REMOVE e IN @@c", {"ids": document_ids, "@c": c})
        for c in [*collections, *layout.REMOVED_EDGE_COLLECTIONS]
    ]
    runs = [i for i in nodes if i.startswith(Kind.RUN.value + "/")]
    if runs:
        queries.append(
            Query("FOR p IN @@c FILTER p.run IN @runs REMOVE p IN @@c", {"runs": runs, "@c": layout.METRIC_POINTS_COLLECTION})
        )
    queries += [
        Query("FOR h IN @@c FILTER h.subject IN @ids REMOVE h IN @@c", {"ids": nodes, "@c": layout.HISTORY_COLLECTION}),
        Query("FOR m IN @@c FILTER m.node IN @ids REMOVE m IN @@c", {"ids": document_ids, "@c": layout.CHANGE_NODES_COLLECTION}),
        Query("FOR s IN @@c FILTER s.node IN @ids REMOVE s IN @@c", {"ids": document_ids, "@c": layout.DELETIONS_COLLECTION}),
        Query(
            "FOR r IN @@c FILTER r.result.ids[0] IN @ids REMOVE r IN @@c",
            {"ids": nodes, "@c": layout.IDEMPOTENCY_COLLECTION},
        ),
    ]
    queries += [remove_documents(layout.VERTEX_COLLECTIONS[kind], keys) for kind, keys in _by_collection(ids).items()]
    return queries


def remove_edges(edges: Sequence[Edge]) -> list[Query]:
    """One query per edge collection: its edges between these ends, whatever their keys
    (Arangopipe's are its own); in a collection of declared edges, those of the kind only."""
    by_collection: dict[str, list[list[str]]] = {}
    for edge in edges:
        collection, doc = layout.to_edge_document(edge)
        ends = [doc["_from"], doc["_to"]]
        by_collection.setdefault(collection, []).append([*ends, doc["kind"]] if "kind" in doc else ends)
    queries = []
    for c, pairs in by_collection.items():
        of_kind = " AND e.kind == p[2]" if c in layout.CUSTOM_EDGE_COLLECTIONS else ""
        queries.append(
            Query(
                f"FOR p IN @pairs FOR e IN @@c FILTER e._from == p[0] AND e._to == p[1]{of_kind} REMOVE e IN @@c",
                {"pairs": pairs, "@c": c},
            )
        )
    return queries


def history(queries: Sequence[HistoryQuery]) -> Query:
    """Each query's moves newest first, as one list per query (LIMIT takes a bound value,
    not a variable: one subquery per query)."""
    b = Binder()
    coll = b.collection(layout.HISTORY_COLLECTION)
    lists = []
    for q in queries:
        cut = ""
        if q.before is not None:
            cut += f" AND h.seq < {b.value(q.before)}"
        if q.at is not None:
            cut += f" AND h.at <= {b.value(q.at)}"
        lists.append(
            f"(FOR h IN {coll} FILTER h.subject == {b.value(q.subject)} AND h.topic == {b.value(q.topic)}{cut}"
            f" SORT h.seq DESC LIMIT {b.value(q.first)} RETURN h)"
        )
    return Query(f"RETURN [{', '.join(lists)}]", b.bind)


def metric_history(queries: Sequence[MetricHistoryQuery]) -> Query:
    """Each query's points, one list per query, read by the (run, key, seq) index: a page
    in position order from its cursor's position then (its point is there or further
    on); or the points at the positions kept when the history is sampled to at most
    ``most`` (port.sampled_positions: all when n <= most, else ceil(i * last / (most - 1))
    for i from 0 to most - 1, the last position last)."""
    b = Binder()
    coll = b.collection(layout.METRIC_POINTS_COLLECTION)
    lists = []
    for q in queries:
        match = f"p.run == {b.value(q.run_id)} AND p.key == {b.value(q.key)}"
        if q.most is not None:
            most = b.value(q.most)
            last = f"FIRST(FOR p IN {coll} FILTER {match} SORT p.seq DESC LIMIT 1 RETURN p.seq)"
            pos = f"(last < {most} ? i : ({most} == 1 ? last : FLOOR((i * last + {most} - 2) / ({most} - 1))))"
            lists.append(
                f"(LET last = {last} LET kept = (last == null ? [] : (FOR i IN 0..MIN([{most} - 1, last]) RETURN {pos}))"
                f" FOR p IN {coll} FILTER {match} AND p.seq IN kept SORT p.seq RETURN p)"
            )
            continue
        if q.after is not None:
            step, time, key = (b.value(v) for v in q.after)
            match += f" AND p.seq > {b.value(q.after_seq)} AND [p.step, p.timestamp, p._key] > [{step}, {time}, {key}]"
        order = "DESC" if q.newest_first else "ASC"
        lists.append(f"(FOR p IN {coll} FILTER {match} SORT p.seq {order} LIMIT {b.value(q.first)} RETURN p)")
    return Query(f"RETURN [{', '.join(lists)}]", b.bind)


def insert_metric_points(documents: list[JSONObject]) -> Query:
    return Query("FOR doc IN @docs INSERT doc INTO @@c", {"docs": documents, "@c": layout.METRIC_POINTS_COLLECTION})


def last_metric_points(histories: list[list[str]]) -> Query:
    """Each history's ([run, key]) last point, or null."""
    return Query(
        "FOR h IN @h RETURN FIRST(FOR p IN @@c FILTER p.run == h[0] AND p.key == h[1] SORT p.seq DESC LIMIT 1 RETURN p)",
        {"h": histories, "@c": layout.METRIC_POINTS_COLLECTION},
    )


def metric_points_from_step(run_id: str, key: str, step: int) -> Query:
    """A history's points from a step on, in position order. The adapter keeps those
    after a point by (step, timestamp, _key) itself: AQL compares strings by ICU
    collation, the positions were given in code-point order."""
    return Query(
        "FOR p IN @@c FILTER p.run == @r AND p.key == @k AND p.step >= @s SORT p.seq RETURN p",
        {"r": run_id, "k": key, "s": step, "@c": layout.METRIC_POINTS_COLLECTION},
    )


def remove_metric_points_from(run_id: str, key: str, seq: int) -> Query:
    return Query(
        "FOR p IN @@c FILTER p.run == @r AND p.key == @k AND p.seq >= @s REMOVE p IN @@c",
        {"r": run_id, "k": key, "s": seq, "@c": layout.METRIC_POINTS_COLLECTION},
    )


def declared_kinds() -> Query:
    """``{nodes, edges}``: the declarations (_key is the name; the adapter orders them)."""
    return Query(
        "RETURN {nodes: (FOR k IN @@n RETURN k), edges: (FOR k IN @@e RETURN k)}",
        {"@n": layout.NODE_KINDS_COLLECTION, "@e": layout.EDGE_KINDS_COLLECTION},
    )


def stored_edges(document_ids: list[str]) -> Query:
    """Each edge document's createdAt field, as {createdAt}, or null where it is not stored."""
    return Query("FOR d IN @ids LET e = DOCUMENT(d) RETURN e == null ? null : {createdAt: e.createdAt}", {"ids": document_ids})


def insert_token(document: JSONObject) -> Query:
    return Query("INSERT @doc INTO @@c", {"doc": document, "@c": layout.TOKENS_COLLECTION})


def get_token(token_id: str) -> Query:
    return Query("FOR t IN @@c FILTER t._key == @id RETURN t", {"id": token_id, "@c": layout.TOKENS_COLLECTION})


def list_tokens() -> Query:
    return Query("FOR t IN @@c SORT t.createdAt, t._key LIMIT 10000 RETURN t", {"@c": layout.TOKENS_COLLECTION})


def revoke_token(token_id: str, at: str) -> Query:
    return Query(
        "FOR t IN @@c FILTER t._key == @id AND t.revokedAt == null UPDATE t WITH {revokedAt: @at} IN @@c RETURN NEW._key",
        {"id": token_id, "at": at, "@c": layout.TOKENS_COLLECTION},
    )


def get_idempotency(document_key: str) -> Query:
    return Query("FOR r IN @@c FILTER r._key == @key RETURN r", {"key": document_key, "@c": layout.IDEMPOTENCY_COLLECTION})


def put_idempotency(document: JSONObject) -> Query:
    return Query("INSERT @doc INTO @@c", {"doc": document, "@c": layout.IDEMPOTENCY_COLLECTION})


def known_lineage_events(document_keys: list[str]) -> Query:
    return Query(
        "FOR e IN @@c FILTER e._key IN @keys RETURN e._key", {"keys": document_keys, "@c": layout.OPENLINEAGE_COLLECTION}
    )


def insert_lineage_events(documents: list[JSONObject]) -> Query:
    return Query("FOR doc IN @docs INSERT doc INTO @@c", {"docs": documents, "@c": layout.OPENLINEAGE_COLLECTION})


def lineage_events(first: int, after: tuple[str, str] | None) -> Query:
    """Kept events in the order received: (receivedAt, _key) after ``after``, by the index on both."""
    bind: JSONObject = {"first": first, "@c": layout.OPENLINEAGE_COLLECTION}
    where = ""
    if after is not None:
        where = " FILTER e.receivedAt > @at OR (e.receivedAt == @at AND e._key > @key)"
        bind.update(at=after[0], key=after[1])
    return Query(f"FOR e IN @@c{where} SORT e.receivedAt, e._key LIMIT @first RETURN e", bind)


def log_change(entry: JSONObject, marks: list[JSONObject]) -> Query:
    """Takes the next number from the change-log counter (a document the transaction holds
    exclusively, so that entries commit in the order of their numbers) and writes the
    entry and its marks on the nodes it is about under it."""
    return Query(
        "LET seq = FIRST(UPSERT {_key: @counter} INSERT {_key: @counter, seq: 1} UPDATE {seq: OLD.seq + 1} IN @@seqs"
        " RETURN NEW.seq)"
        " LET marked = (FOR m IN @marks INSERT MERGE(m, {seq}) INTO @@marks RETURN 1)"
        " INSERT MERGE(@entry, {_key: TO_STRING(seq), seq}) INTO @@changes"
        " RETURN seq",
        {
            "counter": layout.CHANGES_COUNTER,
            "entry": entry,
            "marks": marks,
            "@seqs": layout.SEQUENCES_COLLECTION,
            "@marks": layout.CHANGE_NODES_COLLECTION,
            "@changes": layout.CHANGES_COLLECTION,
        },
    )


def changes(q: ChangeQuery) -> Query:
    """The entries ``q`` asks for, in its order: those about a node by its marks' (node,
    seq) index, the others by the entries' seq index, each filter applied before LIMIT."""
    b = Binder()
    order = "ASC" if q.ascending else "DESC"
    past = ">" if q.ascending else "<"
    text = ""
    filters: list[str] = []
    if q.node is not None:
        marks = b.collection(layout.CHANGE_NODES_COLLECTION)
        node = b.value(layout.document_id(q.node))
        cut = f" AND m.seq {past} {b.value(q.after)}" if q.after is not None else ""
        text = f"FOR m IN {marks} FILTER m.node == {node}{cut} SORT m.seq {order} "
        filters.append("c.seq == m.seq")
    if q.node is not None:
        # By key: the marks' SORT alone orders what is returned.
        text += f"LET c = DOCUMENT(CONCAT({b.value(layout.CHANGES_COLLECTION)}, '/', m.seq))"
        filters[0] = "c != null"
    else:
        text += f"FOR c IN {b.collection(layout.CHANGES_COLLECTION)}"
    if q.node is None and q.after is not None:
        filters.append(f"c.seq {past} {b.value(q.after)}")
    if q.token is not None:
        filters.append(f"c.tokenId == {b.value(q.token)}")
    if q.operations:
        filters.append(f"c.operation IN {b.value(list(q.operations))}")
    if q.since is not None:
        filters.append(f"c.at >= {b.value(q.since)}")
    if q.until is not None:
        filters.append(f"c.at < {b.value(q.until)}")
    if q.kinds:
        marks = b.collection(layout.CHANGE_NODES_COLLECTION)
        kinds = b.value(list(q.kinds))
        filters.append(f"LENGTH(FOR k IN {marks} FILTER k.seq == c.seq AND k.kind IN {kinds} LIMIT 1 RETURN 1) > 0")
    if filters:
        text += f" FILTER {' AND '.join(filters)}"
    if q.node is None:
        text += f" SORT c.seq {order}"
    return Query(f"{text} LIMIT {b.value(q.first)} RETURN c", b.bind)


_COMPARE = {Op.EQ: "==", Op.LT: "<", Op.LTE: "<=", Op.GT: ">", Op.GTE: ">="}


def _compare(b: Binder, value: str, op: Op, operand: Any) -> str:
    """``value op operand`` for a value of the operand's type."""
    if op is Op.IN:
        return f"{value} IN {b.value(list(operand))}"
    if op is Op.CONTAINS:
        return f"CONTAINS({value}, {b.value(operand)})"
    if op is Op.STARTS_WITH:
        return f"STARTS_WITH({value}, {b.value(operand)})"
    return f"{value} {_COMPARE[op]} {b.value(operand)}"


def _comparison(b: Binder, kind: Kind, t: Compare, doc: str, depth: int) -> str:
    if t.subject is Subject.NAME:
        return f"(IS_STRING({doc}.name) AND {_compare(b, f'{doc}.name', t.op, t.value)})"
    if t.subject is Subject.CREATED_AT:
        # As ``layout.from_document`` reads it: a document without one is of UNKNOWN_TIME.
        created = f"({doc}.createdAt || {b.const(layout.UNKNOWN_TIME)})"
        return _compare(b, created, t.op, t.value)
    if t.subject is Subject.TAG:
        tag = f"where_tag{depth}"
        return (
            f"LENGTH(FOR {tag} IN (IS_ARRAY({doc}.tags) ? {doc}.tags : []) FILTER IS_STRING({tag})"
            f" AND {_compare(b, tag, t.op, t.value)} LIMIT 1 RETURN 1) > 0"
        )
    assert t.key is not None
    if t.subject is Subject.ATTRIBUTE:
        # Documents Arangopipe wrote keep their attributes at the top level, beside the
        # fields the layout maps (which are not attributes).
        attrs = attributes(doc, b.const(layout.non_attribute_fields(kind)))
        values = t.value if t.op is Op.IN else (t.value,)
        key = b.value(t.key)
        # == compares type and value: 1 == 1.0, but true != 1 and "1" != 1.
        same = " OR ".join(f"{attrs}[{key}] == {b.value(v)}" for v in values) or "false"
        return f"(HAS({attrs}, {key}) AND ({same}))"
    if t.subject is Subject.METRIC:
        value = f"{doc}.fields.metrics[{b.value(t.key)}]"
        return f"(IS_NUMBER({value}) AND {_compare(b, value, t.op, t.value)})"
    value = typed_field(b, kind, t.key, doc)
    if t.subject is Subject.CHOICE:
        # As the field answers: its text, or its default when absent or empty.
        value = f"((IS_STRING({value}) AND {value} != '') ? {value} : {b.value(t.default)})"
    return f"(IS_STRING({value}) AND {_compare(b, value, t.op, t.value)})"


def where_aql(b: Binder, kind: Kind, w: Where, doc: str, depth: int = 0) -> str:
    """The AQL condition that ``doc``, of ``kind``, matches ``w``: true or false, never
    null, so that NOT is the complement."""
    if isinstance(w, Compare):
        return _comparison(b, kind, w, doc, depth)
    if isinstance(w, AllOf):
        return "(" + " AND ".join(where_aql(b, kind, p, doc, depth) for p in w.parts) + ")" if w.parts else "true"
    if isinstance(w, AnyOf):
        return "(" + " OR ".join(where_aql(b, kind, p, doc, depth) for p in w.parts) + ")" if w.parts else "false"
    if isinstance(w, NotOf):
        return f"NOT ({where_aql(b, kind, w.part, doc, depth)})"  # NOT binds tighter than >
    assert isinstance(w, Related)
    other, along = f"where_node{depth + 1}", f"where_edge{depth + 1}"
    edge = EDGE_KINDS[w.edge_kind]
    target = edge.to_kind if w.step is Step.OUT else edge.from_kind
    return (
        # Along a live node's live edges (a deleted one's hidden ones). An edge whose far
        # end is gone gives null (SQLite's foreign keys keep none such).
        f"LENGTH(FOR {other}, {along} IN 1..1 {_hop(b, w.edge_kind, w.step, doc)} FILTER {edge_of(along, doc)}"
        f" AND {other} != null AND {where_aql(b, target, w.where, other, depth + 1)} LIMIT 1 RETURN 1) > 0"
    )

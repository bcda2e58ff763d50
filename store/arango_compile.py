"""A read plan (``store.plan``) compiled into one AQL query: the ArangoDB adapter's read
path, one round trip per query operation however deep its selection nests.

The query returns one document ``{ok, data}``. ``data`` is the operation's answer as
the GraphQL executor writes it: each node is rendered where it is read, as an object
literal whose keys are the plan's response keys in the plan's order (AQL keeps an
object literal's attributes in the order written), and every navigation field is a
subquery of the node it starts from. ``ok`` is false when the answer needs an error
(see ``store.plan``): the caller then lets the executor answer.

The reads are those of ``arango_aql``, shared with the adapter's other queries: a
neighbour is ``newest_first``, a list ``list_rows``, a look-up by name ``named``, a
lineage ``lineage_walk``, a summary ``counts``. Every value the plan holds, and every
constant of the data dictionary (kind and type names, response keys), is a bind
variable; the text holds only generated variable and placeholder names, AQL keywords
and functions, and the fixed characters of the encodings.

Deleted nodes (arango_layout's doc) are answered by id (``node``, ``nodes``), in lists
that ask for them and in lineages that walk through them; named roots and other lists
leave them out, and a live lineage or a summary of a deleted node is not answered (the
executor says what it answers). A hop follows a live node's live edges and a deleted
node's hidden ones, decided in the query by the node it starts from.

A root as of a time (``node(id, asOf:)``, ``lineage(asOf:)``: ``port.LineageQuery``) is
answered as the adapter's reads as of a time answer it (``aql.get_nodes_as_of``,
``aql._neighbors_as_of``, ``aql.lineage``): the node made by then, deleted then or not;
every node it answers with its parts and deletion of then (``aql.node_then``, whose
variables each node names its own); each hop along the edges that stood then, stored
(hidden or not) or removed since, to far ends made by then and, unless the near node
was deleted then, live then; the lineage's walk ``lineage_walk`` as of then, and its
edges those that stood then.

One thing AQL cannot write is a Float: JSON has one kind of number, and ArangoDB
writes a double with an integral value as an integer (``3``, not ``3.0``). So
``finishing`` (Python, after the query, only where the plan asks for these) makes the
stored ``metric`` values Floats as the executor does (float(value)), and encodes the
cursors of lists ordered by a metric, whose sort value is that number: the query
gives those cursors as ``[value, id]`` pairs, which Python encodes from the number the
driver read, made a Float, as the executor does (ArangoDB's JSON of a double is not
always orjson's: 1e+15 for 1000000000000000.0; see ``_cursor``). Free-form JSON
(attributes, params, metrics) holding 3.0 comes back as 3: see ``ArangoStore.answer``.

A query whose initial plan would exceed AQL's 4,000 execution nodes is not sent:
``compile_plan`` estimates its nodes (``execution_nodes``), and the executor answers
a plan above ``MAX_EXECUTION_NODES``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from metagate.store import arango_aql as aql
from metagate.store import arango_layout as layout
from metagate.store.arango_aql import AsOf, Binder, Query
from metagate.store.changes import PARTS
from metagate.store.model import CUSTOM_EDGE_PREFIX, EDGE_KINDS, KINDS, Direction, Kind, Step, ValueType, kind_of
from metagate.store.plan import (
    Base,
    Const,
    Cursor,
    Edges,
    Follow,
    FollowPage,
    LineageEdges,
    LineageNodes,
    LineageRoot,
    ListRoot,
    NamedRoot,
    NodeAt,
    NodeField,
    NodeRoot,
    Nodes,
    NodesRoot,
    PageInfo,
    PageSelection,
    Plan,
    Root,
    Selection,
    SummaryRoot,
    Typed,
    encode_cursor,
    typed_value,
)
from metagate.store.port import OrderField

_COUNTS = ("models", "runs", "datasets", "featuresets", "deployments")  # arango_aql.counts' order


# --------------------------------------------------------------------------------------
# The encodings, as AQL expressions.
# --------------------------------------------------------------------------------------


def _b64url(text: str) -> str:
    """URL-safe base64 without padding (``plan._b64``): TO_BASE64 writes the standard
    alphabet, padded."""
    return f'SUBSTITUTE(TO_BASE64({text}), ["+", "/", "="], ["-", "_", ""])'


def _api_time(stored: str) -> str:
    """``plan.api_time`` of a stored time, which ``format_time`` writes at a fixed width
    (``2026-12-01T09:47:35.123456Z``): +00:00 for Z, no fraction when it is zero."""
    fraction = f"SUBSTRING({stored}, 20, 6)"
    return f'CONCAT(LEFT({stored}, 19), ({fraction} == "000000" ? "" : SUBSTRING({stored}, 19, 7)), "+00:00")'


def _cursor(value: str, node_id: str) -> str:
    """``plan.encode_cursor`` of a (string or null sort value, id). JSON_STRINGIFY writes
    what orjson writes for these: compact, "/" unescaped, non-ASCII as UTF-8 (only
    control characters are escaped differently, and names, times and ids hold none).
    Numbers differ (1e+15 for orjson's 1000000000000000.0): see the module's doc."""
    return _b64url(f"JSON_STRINGIFY([{value}, {node_id}])")


def _target(edge_kind: str, step: Step) -> Kind:
    edge = EDGE_KINDS[edge_kind]
    return edge.to_kind if step is Step.OUT else edge.from_kind


class _Compiler:
    def __init__(self) -> None:
        self.b = Binder(share=True)
        self._names = 0
        # While a root as of a time is compiled: the time's placeholders. Every node it
        # answers is read as of then (``aql.node_then``), and ``_then`` holds, per
        # document expression, the variables of its state: its parts and its deletion.
        self.at: AsOf | None = None
        self._then: dict[str, tuple[str, str]] = {}

    def var(self, prefix: str) -> str:
        """A variable name no other part of the query uses (names nest: a subquery may
        not declare a name its enclosing scopes hold)."""
        self._names += 1
        return f"{prefix}{self._names}"

    def const(self, value: Any) -> str:
        return self.b.const(value)

    def obj(self, pairs: Iterable[tuple[str, str]]) -> str:
        return "{" + ", ".join(f"[{self.const(key)}]: {value}" for key, value in pairs) + "}"

    @property
    def unknown(self) -> str:
        # Documents Arangopipe wrote carry no createdAt: their nodes report the epoch.
        return self.const(layout.UNKNOWN_TIME)

    # -- nodes ----------------------------------------------------------------------------

    def node(self, doc: str, select: Selection, kind: Kind | None = None) -> str:
        """The answer for the document ``doc`` (an expression, never null); ``kind``: the
        kind it is known to be, else its collection chooses among ``select``'s kinds
        (AQL evaluates only the branch of a ternary chosen, from 3.12.1 on). As of a time,
        the document's state then is read first (``aql.node_then``), once for every
        branch."""
        if self.at is not None and doc not in self._then:
            name, dead = self.var("as"), self.var("dz")
            lets, parts, deleted = aql.node_then(self.b, doc, self.at.at, name)
            self._then[doc] = (parts, dead)
            try:
                answer = self.node(doc, select, kind)
            finally:
                del self._then[doc]
            return f"FIRST({lets.strip()} LET {dead} = {deleted} RETURN {answer})"
        if kind is not None:
            fields = select.by_kind.get(kind)
            return self.fields(doc, kind, fields) if fields is not None else "null"
        answer = "null"
        for k, fields in reversed(select.by_kind.items()):
            coll = self.const(layout.VERTEX_COLLECTIONS[k])
            answer = f"(IS_SAME_COLLECTION({coll}, {doc}) ? {self.fields(doc, k, fields)} : {answer})"
        return answer

    def maybe(self, doc: str, select: Selection, kind: Kind | None = None) -> str:
        """The answer for ``doc``, null when it is null."""
        n = self.var("n")
        return f"FIRST(FOR {n} IN [{doc}] FILTER {n} != null RETURN {self.node(n, select, kind)})"

    def fields(self, doc: str, kind: Kind, fields: tuple[NodeField, ...]) -> str:
        return self.obj((f.key, self.field(doc, kind, f)) for f in fields)

    def field(self, doc: str, kind: Kind, f: NodeField) -> str:
        if isinstance(f, Const):
            return self.const(f.value)
        if isinstance(f, Base):
            return self.base(doc, kind, f.field)
        if isinstance(f, Typed):
            return self.typed(doc, kind, f)
        if isinstance(f, Follow):
            return self.follow(doc, f)
        return self.follow_page(doc, f)

    def node_id(self, kind: Kind, key: str) -> str:
        return f"CONCAT({self.const(kind.value + '/')}, {key})"

    def base(self, doc: str, kind: Kind, name: str) -> str:
        """As ``layout.from_document`` reads a document (``x || y``: AQL's ``or``); as of a
        time, as ``layout.node_as_of`` reads it, its parts and deletion those of then."""
        then = self._then.get(doc)
        if then is not None:
            parts, dead = then
            if name == "deletedAt":
                return f"({dead} != null ? {_api_time(f'{dead}[0]')} : null)"
            if name == "deletedReason":
                return f"({dead} != null ? {dead}[1] : null)"
            if name in ("tags", "attributes"):
                held = f"{parts}[{PARTS.index(name)}]"
                now = (
                    f"({doc}.tags || [])"
                    if name == "tags"
                    else aql.attributes(doc, self.const(layout.non_attribute_fields(kind)))
                )
                return f"({held} != null ? {held}[0] : {now})"
        if name == "id":
            return _b64url(self.node_id(kind, f"{doc}._key"))
        if name == "kind":
            return self.const(kind.name)
        if name == "name":
            return f"(IS_STRING({doc}.name) ? {doc}.name : null)"
        if name == "createdAt":
            return _api_time(f"({doc}.createdAt || {self.unknown})")
        if name == "deletedAt":  # null while the node is live
            return f"(IS_STRING({doc}.deletedAt) ? {_api_time(f'{doc}.deletedAt')} : null)"
        if name == "deletedReason":
            return f"(IS_STRING({doc}.deletedReason) ? {doc}.deletedReason : null)"
        if name == "tags":
            return f"({doc}.tags || [])"
        if name == "attributes":
            return aql.attributes(doc, self.const(layout.non_attribute_fields(kind)))
        if name == "__typename":
            return self.const(KINDS[kind].graphql)
        raise ValueError(f"a node has no field {name}")

    def typed(self, doc: str, kind: Kind, f: Typed) -> str:
        """``plan.typed_value`` of the stored field: under ``fields``, or at the top level
        where the layout maps it (and holds a value there, or set aside while the node is
        deleted)."""
        value = aql.typed_field(self.b, kind, f.stored, doc)
        then = self._then.get(doc)
        if then is not None:  # the fields of then, where a change after it holds them
            held = f"{then[0]}[{PARTS.index('fields')}]"
            value = f"({held} != null ? {held}[0][{self.const(f.stored)}] : {value})"
        if f.type is ValueType.TIME:
            return f"(IS_STRING({value}) ? {_api_time(value)} : null)"
        if f.type is ValueType.JSON:
            return f"NOT_NULL({value}, {{}})"
        if f.type is ValueType.RUN_STATUS:
            return f"({value} || null)"
        if f.type is ValueType.ENUM:
            return f"({value} || {self.const(f.default)})"
        if f.type is ValueType.METRIC:
            return f"{value}[{self.const(f.argument)}]"  # as stored: ``finishing`` makes it a Float
        return value

    # -- navigation -----------------------------------------------------------------------

    def neighbours(self, v: str, start: str, edge_kind: str, step: Step, limit: str, after: tuple[Any, str] | None) -> str:
        """``FOR v ... LIMIT``: the neighbours of ``start`` newest first, as the adapter's
        ``neighbors`` reads them: along its live edges, or, a deleted node, along its
        hidden ones (it is read by id, or in a lineage or list of deleted nodes too)."""
        if self.at is not None:
            return self.neighbours_then(v, start, edge_kind, step, limit, after)
        t, e = self.var("t"), self.var("e")
        direction = layout.physical_direction(edge_kind, step)
        coll = self.b.collection(layout.EDGE_COLLECTIONS[edge_kind].name)
        cut = self.cursor_cut(v, t, edge_kind, step, after)
        return aql.newest_first(v, e, aql.edge_of(e, start), t, direction, start, coll, self.unknown, limit, cut)

    def cursor_cut(self, v: str, t: str, edge_kind: str, step: Step, after: tuple[Any, str] | None) -> str:
        """`` FILTER``: the neighbours past the cursor ``after`` (none: ""). Whether a
        neighbour's id sorts before the cursor's is decided here: by its key when the
        cursor's id is of the neighbours' kind, else the same for all."""
        if after is None:
            return ""
        at = self.b.value(after[0])
        key, before = aql.after_position(after, _target(edge_kind, step))
        earlier = aql.key_before(v, self.b.value(key)) if key is not None else self.b.value(before)
        return f" FILTER {aql.after_cursor(t, at, earlier)}"

    def neighbours_then(self, v: str, start: str, edge_kind: str, step: Step, limit: str, after: tuple[Any, str] | None) -> str:
        """``neighbours`` as of a time, as the adapter's ``neighbors`` reads them then
        (``aql._neighbors_as_of``): the far ends of the ``edge_kind`` edges that stood
        then (stored and created by then, hidden or not; removed since, created by then
        and removed after), made by then and, unless ``start`` was deleted then (its
        state's deletion, decided in the query), live then: not deleted now since then or
        before, and no span of theirs held then (``aql.no_span_held``)."""
        at = self.at
        assert at is not None
        t, n, ne, o, oe = self.var("t"), self.var("n"), self.var("e"), self.var("o"), self.var("e")
        dead = f"{self._then[start][1]} != null"
        direction = layout.physical_direction(edge_kind, step)
        coll = self.b.collection(layout.EDGE_COLLECTIONS[edge_kind].name)
        removed_name, removed_direction = layout.removed_hop(edge_kind, step)
        removed = self.b.collection(removed_name)
        stored = f"(FOR {n}, {ne} IN 1..1 {direction} {start} {coll} FILTER {ne}.createdAt <= {at.at} RETURN {n})"
        kept = (
            f"(FOR {o}, {oe} IN 1..1 {removed_direction} {start} {removed}"
            f" FILTER {oe}.kind == {self.const(edge_kind)} AND {oe}.createdAt <= {at.at} AND {oe}.removedAt > {at.at} RETURN {o})"
        )
        cut = self.cursor_cut(v, t, edge_kind, step, after)
        return (
            # Once: an edge removed and made again in one write may stand twice for an instant.
            f"FOR {v} IN UNION_DISTINCT({stored}, {kept})"
            f" FILTER {v} != null AND {v}.createdAt <= {at.at}"
            f" AND (({dead}) OR NOT ({v}.deletedAt != null AND {v}.deletedAt <= {at.at}))"
            f" LET {t} = ({v}.createdAt || {self.unknown}){cut}"
            f" FILTER ({dead}) OR {aql.no_span_held(self.b, v, at.at)}"
            f" SORT {t} DESC, TO_HEX({v}._key) DESC LIMIT {limit}"
        )

    def follow(self, doc: str, f: Follow) -> str:
        v = self.var("n")
        walk = self.neighbours(v, doc, f.edge_kind, f.step, "1", None)
        return f"FIRST({walk} RETURN {self.node(v, f.select, _target(f.edge_kind, f.step))})"

    def follow_page(self, doc: str, f: FollowPage) -> str:
        v = self.var("n")
        walk = self.neighbours(v, doc, f.edge_kind, f.step, self.b.value(f.first + 1), f.after)
        kind = _target(f.edge_kind, f.step)

        def cursor(item: str) -> str:  # (created time, id), as the node reports them
            return _cursor(f"({item}.createdAt || {self.unknown})", self.node_id(kind, f"{item}._key"))

        return self.page(f"({walk} RETURN {v})", f.first, f.page, _Rows(lambda item: item, cursor, kind))

    # -- pages ----------------------------------------------------------------------------

    def page(self, rows: str, first: int, page: PageSelection, of: _Rows) -> str:
        """A connection over ``rows`` (a subquery of at most first + 1 rows: one more
        tells that there is a next page)."""
        g, i = self.var("g"), self.var("i")
        size = self.b.value(first)
        parts = [(f.key, self.page_part(f, g, i, size, page.has_previous, of)) for f in page.fields]
        return f"FIRST(LET {g} = {rows} LET {i} = SLICE({g}, 0, {size}) RETURN {self.obj(parts)})"

    def page_part(self, f: Const | Edges | Nodes | PageInfo, g: str, i: str, size: str, has_previous: bool, of: _Rows) -> str:
        if isinstance(f, Const):
            return self.const(f.value)
        if isinstance(f, PageInfo):
            info = (x if isinstance(x, tuple) else (x.key, "__typename") for x in f.fields)
            return self.obj((key, self.page_info(name, g, i, size, has_previous, of)) for key, name in info)
        y = self.var("y")
        if isinstance(f, Nodes):
            return f"(FOR {y} IN {i} RETURN {self.node(of.doc(y), f.select, of.kind)})"
        return f"(FOR {y} IN {i} RETURN {self.obj((e.key, self.edge_part(e, y, of)) for e in f.fields)})"

    def page_info(self, name: str, g: str, i: str, size: str, has_previous: bool, of: _Rows) -> str:
        if name == "hasNextPage":
            return f"LENGTH({g}) > {size}"
        if name == "hasPreviousPage":
            return self.const(has_previous)
        if name == "__typename":
            return self.const("PageInfo")
        return f"(LENGTH({i}) == 0 ? null : {of.cursor(f'{i}[0]' if name == 'startCursor' else f'{i}[-1]')})"

    def edge_part(self, f: Const | Cursor | NodeAt, y: str, of: _Rows) -> str:
        if isinstance(f, Const):
            return self.const(f.value)
        if isinstance(f, Cursor):
            return of.cursor(y)
        return self.node(of.doc(y), f.select, of.kind)

    # -- roots ----------------------------------------------------------------------------

    def root(
        self, root: NodeRoot | NodesRoot | NamedRoot | ListRoot | LineageRoot | SummaryRoot, s: str
    ) -> tuple[list[str], str]:
        """The LETs that answer ``root`` into ``s``, and what must hold to answer it."""
        as_of = root.as_of if isinstance(root, NodeRoot) else root.query.as_of if isinstance(root, LineageRoot) else None
        if as_of is not None:
            # The time's descending key serves the walk's removed edges alone.
            at = self.b.value(as_of)
            self.at = AsOf(at, self.b.value(layout.descending_time(as_of)) if isinstance(root, LineageRoot) else "")
            try:
                return self.root_then(root, s)
            finally:
                self.at = None
        if isinstance(root, NodeRoot):
            doc = f"DOCUMENT({self.b.value(layout.document_id(root.id))})"
            return [f"LET {s} = {self.maybe(doc, root.select, kind_of(root.id))}"], f"{s} != null"
        if isinstance(root, NodesRoot):
            return [f"LET {s} = {self.nodes(root)}"], ""
        if isinstance(root, NamedRoot):
            return self.named(root, s)
        if isinstance(root, ListRoot):
            return [f"LET {s} = {self.list(root)}"], ""
        if isinstance(root, LineageRoot):
            return [f"LET {s} = {self.lineage(root)}"], f"{s} != null"
        return [f"LET {s} = {self.summary(root)}"], f"{s} != null"

    def root_then(
        self, root: NodeRoot | NodesRoot | NamedRoot | ListRoot | LineageRoot | SummaryRoot, s: str
    ) -> tuple[list[str], str]:
        """A root as of a time: a node (``node(id, asOf:)``) or a lineage. The node that
        answers is one made by then, deleted then or not (``get_nodes(as_of=)``: the
        executor's ``get_node_at``), as it was then."""
        assert self.at is not None
        if isinstance(root, NodeRoot):
            n = self.var("n")
            doc = f"DOCUMENT({self.b.value(layout.document_id(root.id))})"
            made = f"{n} != null AND {n}.createdAt <= {self.at.at}"
            answer = f"FIRST(FOR {n} IN [{doc}] FILTER {made} RETURN {self.node(n, root.select, kind_of(root.id))})"
            return [f"LET {s} = {answer}"], f"{s} != null"
        assert isinstance(root, LineageRoot)
        return [f"LET {s} = {self.lineage(root)}"], f"{s} != null"

    def nodes(self, root: NodesRoot) -> str:
        a = self.var("a")
        ids = self.b.value([layout.document_id(i) for i in root.ids])
        kinds = {kind_of(i) for i in root.ids}
        kind = kinds.pop() if len(kinds) == 1 else None
        return f"(FOR {a} IN {ids} RETURN {self.maybe(f'DOCUMENT({a})', root.select, kind)})"

    def named(self, root: NamedRoot, s: str) -> tuple[list[str], str]:
        a, n = self.var("a"), self.var("n")
        # Two are enough to tell that the name is not one node's.
        matches = aql.named(self.b, root.name, " LIMIT 2")
        answer = f"FIRST(FOR {n} IN {a} LIMIT 1 RETURN {self.node(n, root.select, root.name.kind)})"
        return [f"LET {a} = {matches}", f"LET {s} = {answer}"], f"LENGTH({a}) < 2"

    def list(self, root: ListRoot) -> str:
        q = root.query
        if q.order_by is OrderField.METRIC:
            # The sort value is a number: ``finishing`` encodes these.
            def cursor(item: str) -> str:
                return f"[{item}.sv, {item}.lid]"
        else:

            def cursor(item: str) -> str:
                return _cursor(f"{item}.sv", f"{item}.lid")

        kind = q.kinds[0] if len(q.kinds) == 1 else None
        rows = f"({aql.list_rows(self.b, q)})"
        return self.page(rows, q.first, root.page, _Rows(lambda item: f"{item}.d", cursor, kind))

    def lineage(self, root: LineageRoot) -> str:
        """The answer, or null when the start node does not exist, or is deleted and the
        walk is of live nodes (the walk then does not run; the executor says what
        such a start answers). As of a time: null when the start was not made by then;
        deleted then, it answers, its walk empty (``lineage_walk`` stops at it)."""
        q = root.query
        start = self.b.value(layout.document_id(q.start))
        # "l": lineage_walk's own names (c0, w0, ...) are visible from no scope of ours.
        n, w = self.var("n"), self.var("l")
        walked = any(isinstance(f, (LineageNodes, LineageEdges, tuple)) for f in root.fields)
        lets = f" LET {w} = FIRST({self.walk(root, start)})" if walked else ""
        parts = [(f[0] if isinstance(f, tuple) else f.key, self.lineage_part(f, n, w, root)) for f in root.fields]
        live = "" if q.include_deleted else f" AND {n}.deletedAt == null"
        if self.at is not None:  # a start made by then, deleted then or not (its walk is then empty)
            live = f" AND {n}.createdAt <= {self.at.at}"
        return f"FIRST(FOR {n} IN [DOCUMENT({start})] FILTER {n} != null{live}{lets} RETURN {self.obj(parts)})"

    def lineage_part(
        self, f: NodeAt | LineageNodes | LineageEdges | Const | tuple[str, str], n: str, w: str, root: LineageRoot
    ) -> str:
        if isinstance(f, Const):
            return self.const(f.value)
        if isinstance(f, NodeAt):
            return self.node(n, f.select, kind_of(root.query.start))
        if isinstance(f, tuple):  # truncated
            return f"({w}.more OR {self.const(root.depth_cut)})"
        y = self.var("y")
        if isinstance(f, LineageNodes):
            return f"(FOR {y} IN {w}.nodes RETURN {self.obj(self.entry_part(e, y) for e in f.fields)})"
        return f"(FOR {y} IN {w}.edges RETURN {self.obj(self.lineage_edge_part(e, y) for e in f.fields)})"

    def entry_part(self, f: Const | NodeAt | tuple[str, str], y: str) -> tuple[str, str]:
        if isinstance(f, Const):
            return f.key, self.const(f.value)
        if isinstance(f, NodeAt):
            return f.key, self.node(f"{y}.v", f.select)
        key, name = f
        return key, f"{y}.depth" if name == "depth" else f"UPPER({y}.dir)"

    def lineage_edge_part(self, f: Const | tuple[str, str], y: str) -> tuple[str, str]:
        if isinstance(f, Const):
            return f.key, self.const(f.value)
        key, name = f
        if name == "id":  # Edge.id: kind/fromKey-toKey
            return key, _b64url(f'CONCAT({y}.kind, "/", PARSE_IDENTIFIER({y}.src).key, "-", PARSE_IDENTIFIER({y}.dst).key)')
        if name in ("kind", "customKind"):
            # A declared edge's kind is CUSTOM, and its customKind the name declared.
            prefix = self.const(CUSTOM_EDGE_PREFIX)
            custom = f"STARTS_WITH({y}.kind, {prefix})"
            if name == "kind":
                return key, f"({custom} ? {self.const('CUSTOM')} : UPPER({y}.kind))"
            return key, f"({custom} ? SUBSTRING({y}.kind, LENGTH({prefix})) : null)"
        if name in ("from", "to"):
            return key, _b64url(f"{y}.src" if name == "from" else f"{y}.dst")
        return key, _api_time(f"{y}.at")

    def walk(self, root: LineageRoot, start: str) -> str:
        """``{nodes, edges, more}``: the store's ``lineage(query)``, in one subquery.
        Nodes in walk order and edges by (kind, from, to) as Python orders them: by
        code point, which TO_HEX gives (AQL orders strings by the server's language)."""
        q = root.query
        depth, limit = self.b.value(q.depth), self.b.value(q.limit)
        collections = self.b.value([layout.VERTEX_COLLECTIONS[k] for k in q.kinds]) if q.kinds is not None else None
        kinds = self.const({c: k.value for k, c in layout.VERTEX_COLLECTIONS.items()})
        order = (
            f"h.depth, TO_HEX({kinds}[PARSE_IDENTIFIER(h.v).collection]),"
            f" TO_HEX(h.v.createdAt || {self.unknown}), TO_HEX(h.v._key)"
        )
        text = (
            aql.lineage_walk(self.b, q.direction, start, depth, limit, collections, q.kinds, q.include_deleted, as_of=self.at)
            + f" LET ordered = (FOR h IN found SORT {order} RETURN h)"
            + f" LET kept = SLICE(ordered, 0, {limit})"
        )
        edges = "[]"
        if any(isinstance(f, LineageEdges) for f in root.fields):
            text += self.walked_edges(q.direction, start, depth, q.include_deleted)
            edges = "edges"
        return text + f" RETURN {{nodes: kept, edges: {edges}, more: LENGTH(found) > {limit}}}"

    def walked_edges(self, direction: Direction, start: str, depth: str, hidden: bool) -> str:
        """``LET edges``: the edges the walk stepped along between the nodes kept, as
        ``ArangoStore.lineage`` keeps them (``_walked``): from the start, or from a node
        the same walk reached above the depth, to a node kept (live edges, or, ``hidden``,
        hidden ones too); distinct as logical edges, ``{kind, src, dst, at}``."""
        ways = aql.walks(direction)
        then = self.at
        live = "" if hidden else f" FILTER {aql.live_edge('e')}"
        origin = f"[{start}]"
        if then is not None:
            # As of a time (``aql.lineage``): the edges that stood then, stored or removed
            # since; the start's own only where the walk could step from it.
            live = f" FILTER {aql.existed('e', then)}"
            origin = f"((origin != null AND {aql.present_and_live('origin', then, hidden)}) ? [{start}] : [])"
        lets = [] if then is None else [f" LET origin = DOCUMENT({start})"]
        lets.append(f" LET ids = APPEND({origin}, kept[*].v._id)")
        for i, way in enumerate(ways):
            near = (
                f"APPEND({origin}, (FOR h IN kept FILTER h.dir == {self.const(way.value)} AND h.depth < {depth} RETURN h.v._id))"
            )
            hop = aql.traversal(self.b, way, "vid", removed=then is not None)
            lets.append(f" LET e{i} = (FOR vid IN {near} FOR v, e IN 1..1 {hop}{live} FILTER v._id IN ids RETURN e)")
        # A removed edge (as of a time): as a declared one, but its kind the logical one.
        removed = {layout.REMOVED_LINEAGE_COLLECTION: {"custom": True, "removed": True}} if then is not None else {}
        ends = self.const(
            {name: _ends(logical) for logical, name in _edge_collections()}
            # A declared edge: its kind and way round are its own, and its ends of any kind.
            | {layout.CUSTOM_LINEAGE_COLLECTION: {"custom": True}}
            | removed
        )
        kinds = self.const({c: k.value + "/" for k, c in layout.VERTEX_COLLECTIONS.items()})
        kind = f"CONCAT({self.const(CUSTOM_EDGE_PREFIX)}, e.kind)"
        if then is not None:
            kind = f"(q.removed == true ? e.kind : {kind})"
        logical = (
            f"LET q = {ends}[PARSE_IDENTIFIER(e).collection]"
            " LET flip = q.custom ? e.reversed == true : q.flip"
            " LET a = PARSE_IDENTIFIER(flip ? e._to : e._from) LET z = PARSE_IDENTIFIER(flip ? e._from : e._to)"
            f" RETURN q.custom ? {{kind: {kind},"
            f" src: CONCAT({kinds}[a.collection], a.key),"
            f" dst: CONCAT({kinds}[z.collection], z.key), at: e.createdAt || {self.unknown}}}"
            " : {kind: q.kind, src: CONCAT(q.src, a.key),"
            f" dst: CONCAT(q.dst, z.key), at: e.createdAt || {self.unknown}}}"
        )
        union = f"UNION({', '.join(f'e{i}' for i in range(len(ways)))}, [])"
        lets.append(
            f" LET edges = (FOR y IN UNIQUE(FOR e IN {union} {logical})"
            " SORT TO_HEX(y.kind), TO_HEX(y.src), TO_HEX(y.dst) RETURN y)"
        )
        return "".join(lets)

    def summary(self, root: SummaryRoot) -> str:
        project = self.b.value(layout.document_id(root.project_id))
        n, k = self.var("n"), self.var("k")
        counted = any(isinstance(f, tuple) for f in root.fields)
        lets = f" LET {k} = FIRST({aql.counts(self.b, project)})" if counted else ""
        parts = []
        for f in root.fields:
            if isinstance(f, Const):
                parts.append((f.key, self.const(f.value)))
            elif isinstance(f, NodeAt):
                parts.append((f.key, self.node(n, f.select, Kind.PROJECT)))
            else:
                parts.append((f[0], f"{k}[{_COUNTS.index(f[1])}]"))
        # A deleted project is not answered: the executor says what it answers.
        return (
            f"FIRST(FOR {n} IN [DOCUMENT({project})] FILTER {n} != null AND {n}.deletedAt == null{lets} RETURN {self.obj(parts)})"
        )

    # -- the plan -------------------------------------------------------------------------

    def plan(self, plan: Plan) -> Query:
        lets: list[str] = []
        checks: list[str] = []
        data: list[tuple[str, str]] = []
        for root in plan.roots:
            if isinstance(root, Const):
                data.append((root.key, self.const(root.value)))
                continue
            s = self.var("s")
            answered, check = self.root(root, s)
            lets += answered
            checks += [check] if check else []
            data.append((root.key, s))
        ok = " AND ".join(checks) or "true"
        statements = [*lets, f"RETURN {{ok: {ok}, data: {self.obj(data)}}}"]
        # Every query that reads documents names the vertex collections first (a
        # cluster refuses a traversal without them).
        head = [aql.WITH_VERTICES.strip()] if lets else []
        return Query("\n".join(head + statements), self.b.bind)


@dataclass(frozen=True)
class _Rows:
    """How a page reads its rows: the document of a row, its cursor, and the kind its
    documents are known to be (None: any of the selection's)."""

    doc: Callable[[str], str]
    cursor: Callable[[str], str]
    kind: Kind | None


def _edge_collections() -> list[tuple[str, str]]:
    return [(logical, c.name) for logical, c in layout.EDGE_COLLECTIONS.items()]


def _ends(logical: str) -> dict[str, Any]:
    """What a lineage edge's answer needs of its collection: the logical kind, the kind
    prefixes of its logical ends, and whether it is stored the other way round."""
    edge = EDGE_KINDS[logical]
    return {
        "kind": logical,
        "src": edge.from_kind.value + "/",
        "dst": edge.to_kind.value + "/",
        "flip": layout.EDGE_COLLECTIONS[logical].reversed,
    }


def compile_plan(plan: Plan) -> Query:
    """One AQL query that answers ``plan``: it returns ``{ok, data}``; apply
    ``finishing(plan)`` to ``data``. Its ``nodes`` estimate the execution nodes of its
    initial plan: above ``MAX_EXECUTION_NODES``, leave the plan to the executor."""
    query = _Compiler().plan(plan)
    query.nodes = execution_nodes(query.text)
    return query


# --------------------------------------------------------------------------------------
# The size of a query's plan. AQL refuses a query whose initial execution plan has more
# than 4,000 nodes (error 1524), however few of them it would run: a node of every kind's
# selection (``... on Run {...} ... on Deployment {...}``) writes every branch out.
# --------------------------------------------------------------------------------------

# Below AQL's 4,000, with room for what the estimate does not foresee.
MAX_EXECUTION_NODES = 3500

_WORDS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|[A-Za-z_][A-Za-z0-9_]*|\S')
# A clause's nodes (with the calculation of its expression), and the keywords that end
# a SORT clause's keys.
_CLAUSE_NODES = {"FOR": 2, "LET": 1, "FILTER": 2, "RETURN": 2, "LIMIT": 1, "COLLECT": 2, "PRUNE": 1}
_CLAUSES = {*_CLAUSE_NODES, "SORT", "WITH", "OPTIONS", "INTO"}


def execution_nodes(text: str) -> int:
    """The execution nodes of the initial plan of the AQL ``text``, counted high: the
    plan's singleton; per FOR a loop and its input's calculation; per subquery its
    (start, end and singleton) nodes; per LET a calculation; per FILTER and RETURN a
    node and a calculation; per SORT a node and a calculation per key; per LIMIT a node.
    Words in string literals are not read; a subquery is a parenthesis that opens with
    a clause (``(FOR``, ``FIRST(FOR``)."""
    words = [w for w in _WORDS.findall(text) if w[0] not in "\"'"]
    count = 1
    depth = 0
    sort_at: int | None = None  # the depth of the SORT clause being read
    for i, word in enumerate(words):
        if sort_at is not None and (depth < sort_at or (depth == sort_at and word in _CLAUSES)):
            sort_at = None
        if word == "(":
            depth += 1
            if i + 1 < len(words) and words[i + 1] in _CLAUSE_NODES:
                count += 3
        elif word == ")":
            depth -= 1
        elif word == "SORT":
            count += 2  # the node and its first key's calculation
            sort_at = depth
        elif word == "," and sort_at == depth:
            count += 1  # another key
        else:
            count += _CLAUSE_NODES.get(word, 0)
    return count


# --------------------------------------------------------------------------------------
# What Python finishes: Floats, and the cursors of lists ordered by a metric.
# --------------------------------------------------------------------------------------

Fix = Callable[[Any], Any]


class NotAnswered(Exception):
    """The query's answer holds what the executor answers with an error."""


def _float(value: Any) -> Any:
    """``typed_value`` of a stored metric: the executor's float(value) (3 -> 3.0, a
    numeric string to its number); a value float() refuses is the executor's error."""
    try:
        return typed_value(ValueType.METRIC, value)
    except (TypeError, ValueError) as error:
        raise NotAnswered("a metric that is not a number") from error


def _pair_cursor(value: Any) -> Any:
    """The cursor of a ``[sort value, id]`` pair, as the executor encodes the key it read
    through the driver: the metric a Float (float(value), as SQLite's REAL: the JSON
    the driver reads writes 3.0 as 3), which prints as orjson prints it."""
    return encode_cursor((float(value[0]), value[1])) if isinstance(value, list) else value


def _object(fixes: list[tuple[str, Fix]]) -> Fix | None:
    if not fixes:
        return None

    def fix(answer: Any) -> Any:
        if isinstance(answer, dict):
            for key, f in fixes:
                if key in answer:
                    answer[key] = f(answer[key])
        return answer

    return fix


def _each(fix: Fix | None) -> Fix | None:
    if fix is None:
        return None
    each: Fix = fix
    return lambda answer: [each(a) for a in answer] if isinstance(answer, list) else answer


def _keyed(pairs: Iterable[tuple[str, Fix | None]]) -> list[tuple[str, Fix]]:
    return [(key, fix) for key, fix in pairs if fix is not None]


def _node_fix(select: Selection) -> Fix | None:
    # A response key means one thing whatever the node's kind (GraphQL merges fields of
    # one key to one shape), so each distinct field's fix applies to any node.
    distinct: list[NodeField] = []
    for fields in select.by_kind.values():
        distinct += [f for f in fields if f not in distinct]
    return _object(_keyed((f.key, _field_fix(f)) for f in distinct))


def _field_fix(f: NodeField) -> Fix | None:
    if isinstance(f, Typed):
        return _float if f.type is ValueType.METRIC else None
    if isinstance(f, Follow):
        return _node_fix(f.select)
    if isinstance(f, FollowPage):
        return _page_fix(f.page, pairs=False)
    return None


def _page_fix(page: PageSelection, *, pairs: bool) -> Fix | None:
    cursor = _pair_cursor if pairs else None
    parts: list[tuple[str, Fix | None]] = []
    for f in page.fields:
        if isinstance(f, Nodes):
            parts.append((f.key, _each(_node_fix(f.select))))
        elif isinstance(f, Edges):
            edge = (
                (e.key, cursor if isinstance(e, Cursor) else _node_fix(e.select)) for e in f.fields if not isinstance(e, Const)
            )
            parts.append((f.key, _each(_object(_keyed(edge)))))
        elif isinstance(f, PageInfo):
            info = ((x[0], cursor) for x in f.fields if isinstance(x, tuple) and x[1] in ("startCursor", "endCursor"))
            parts.append((f.key, _object(_keyed(info))))
    return _object(_keyed(parts))


def _root_fix(root: Root) -> Fix | None:
    if isinstance(root, (NodeRoot, NamedRoot)):
        return _node_fix(root.select)
    if isinstance(root, NodesRoot):
        return _each(_node_fix(root.select))
    if isinstance(root, ListRoot):
        return _page_fix(root.page, pairs=root.query.order_by is OrderField.METRIC)
    if isinstance(root, (LineageRoot, SummaryRoot)):
        return _object(_keyed(_part_fix(f) for f in root.fields if isinstance(f, (NodeAt, LineageNodes))))
    return None


def _part_fix(f: NodeAt | LineageNodes) -> tuple[str, Fix | None]:
    if isinstance(f, NodeAt):
        return f.key, _node_fix(f.select)
    return f.key, _each(_object(_keyed((e.key, _node_fix(e.select)) for e in f.fields if isinstance(e, NodeAt))))


def finishing(plan: Plan) -> Fix | None:
    """What turns the query's ``data`` into the executor's answer, or None when it is
    that already: no METRIC field, no list ordered by a metric. It raises NotAnswered
    when the answer needs an error after all."""
    return _object(_keyed((root.key, _root_fix(root)) for root in plan.roots))

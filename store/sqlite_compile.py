"""Compiles a read plan (``store.plan``) into one SQLite statement that builds the
operation's ``data`` as JSON text: ``json_object`` per object, ``json_group_array`` per
list, a CTE per navigation step and per object, the recursive walk of ``sqlite_sql.lineage_ctes``
for lineage.

The text is made of constants only: every value of a request's (ids, names, response
keys, page sizes, cursors) is a named placeholder. The encodings SQL has no function
for (global ids, cursors, API times, metrics as floats) are the functions of
``store.plan``, registered on each connection by ``register``.

A statement answers one row: whether the plan could be answered (``ok``), the data, and
for each lineage root the numbers that say whether its walk must be run again with a
wider cap (see ``SQLiteStore.lineage``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiosqlite
import orjson

from metagate.store import plan as p
from metagate.store.model import CUSTOM_EDGE_PREFIX, KINDS, Kind, Step, ValueType
from metagate.store.port import SortKey
from metagate.store.sqlite_sql import LINEAGE_VALUES, Params, lineage_ctes, lineage_values, list_source, live_at, node_columns_at

_NODE = ("id", "kind", "name", "scope", "created_at", "tags", "attributes", "fields")


def _time(value: object) -> str | None:
    return p.api_time(value) if isinstance(value, str) else None


def _cursor(value: object, node_id: str) -> str:
    return p.encode_cursor((value, node_id))


def _metric(fields: str, name: str) -> str | None:
    value = orjson.loads(fields).get("metrics", {}).get(name)
    answer = p.typed_value(ValueType.METRIC, value)
    return None if answer is None else orjson.dumps(answer).decode()


# The functions compiled statements call: (name, number of arguments, function).
FUNCTIONS: tuple[tuple[str, int, Callable[..., Any]], ...] = (
    ("mg_id", 1, p.encode_id),
    ("mg_time", 1, _time),
    ("mg_cursor", 2, _cursor),
    ("mg_metric", 2, _metric),
)


async def register(conn: aiosqlite.Connection) -> None:
    for name, arity, function in FUNCTIONS:
        await conn.create_function(name, arity, function, deterministic=True)


@dataclass
class Walk:
    """A lineage root's walk: the placeholder of its cap, and its limit, which decide
    whether it must run again (see ``SQLiteStore.lineage``)."""

    limit: int
    cap: str


@dataclass
class Compiled:
    sql: str
    params: dict[str, Any]
    walks: list[Walk] = field(default_factory=list)

    def widen(self, stats: list[Any]) -> bool:
        """Given each walk's (rows, nodes) from an answer, widens the walks whose answer is
        not exact yet (cut with no more nodes than the limit); True when the statement
        must run again."""
        again = False
        for walk, (walked, found) in zip(self.walks, zip(stats[0::2], stats[1::2], strict=True)):
            cap = walk.cap[1:]
            if found <= walk.limit and walked >= self.params[cap]:
                self.params[cap] *= 4
                again = True
        return again


def _b(value: bool) -> str:
    return "json('true')" if value else "json('false')"


class _Compiler:
    """Builds the statement level by level: each navigation step is a CTE of the
    neighbours of the nodes of the step before (``pid``: the node they were reached from,
    ``rn``: their place among its neighbours, ``sv``: their sort value), and each
    selection of a step's nodes a CTE of their JSON by id. A node's JSON takes that of
    its neighbours from those CTEs by id, so the statement's text nests no deeper with
    the operation's depth (SQLite's parser has a fixed stack), and each step is read for
    all the nodes of the step before at once."""

    def __init__(self, lineage_first_cap: int) -> None:
        self.bind = Params()
        self.first_cap = lineage_first_cap
        self.count = 0
        self.ctes: list[str] = []
        self.checks: list[str] = []
        self.walks: list[Walk] = []
        self.stats: list[str] = []
        # The placeholder of the time the root being compiled reads the graph as of
        # (port.LineageQuery.as_of), or None: now.
        self.at: str | None = None

    def name(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def cte(self, prefix: str, sql: str) -> str:
        # No MATERIALIZED: SQLite materialises a CTE used more than once and may inline
        # one used once, where a parent's lookup then reads its rows by index instead of
        # from an index built for the statement (nested lineage ~2.4 -> ~1.1 ms).
        name = self.name(prefix)
        self.ctes.append(f"\n  {name} AS ({sql})")
        return name

    def obj(self, pairs: list[tuple[str, str]]) -> str:
        if not pairs:
            return "json_object()"
        return "json_object(" + ", ".join(f"{self.bind(key)}, {expr}" for key, expr in pairs) + ")"

    # -- steps and the JSON of their nodes --------------------------------------------

    def hop(self, parents: str, edge_kind: str, step: Step, rows: int, after: SortKey | None = None) -> str:
        """The CTE of the first ``rows`` neighbours (newest first) of each node in
        ``parents`` (a SELECT of ids) over ``edge_kind``, after the cursor ``after``."""
        near, far = ("from_id", "to_id") if step is Step.OUT else ("to_id", "from_id")
        # The edge holds its far end's creation time, and an index gives each parent's
        # edges of a kind in that order: a parent's page reads its ``rows`` edges, not
        # all of them (a deployment's nested read of its model's 20 newest runs out of
        # 3,000, in process: 16.3 -> 3.9 ms).
        created = "to_created" if far == "to_id" else "from_created"
        cursor = ""
        if after is not None:
            av, aid = self.bind(after[0]), self.bind(after[1])
            cursor = f" AND (x.{created} < {av} OR (x.{created} = {av} AND x.{far} < {aid}))"
        kind, limit = self.bind(edge_kind), self.bind(rows)
        if self.at is not None:
            return self.hop_at(parents, kind, limit, near, far, created, cursor, self.at)
        each = self.name("q")
        # Each parent with whether it is deleted: a live one's live edges are followed, a
        # deleted one's (all hidden with it) its hidden ones.
        self.ctes.append(f"\n  {each}p(id) AS (SELECT DISTINCT * FROM ({parents}))")
        self.ctes.append(
            f"\n  {each}(id, gone) AS (SELECT q.id, (SELECT pn.deleted_at IS NOT NULL FROM nodes pn WHERE pn.id = q.id)"
            f" FROM {each}p q)"
        )
        ranked = (
            f"SELECT e.{near} AS pid, e.{created} AS sv, e.{far} AS id,"
            f" row_number() OVER (PARTITION BY e.{near} ORDER BY e.{created} DESC, e.{far} DESC) AS rn"
            f" FROM {each} p JOIN edges e ON e.{near} = p.id AND e.kind = {kind}"
            f" AND e.{far} IN (SELECT x.{far} FROM edges x WHERE x.{near} = p.id AND x.kind = {kind} AND x.gone = p.gone{cursor}"
            f" ORDER BY x.{created} DESC, x.{far} DESC LIMIT {limit})"
        )
        return self.cte("s", f"SELECT pid, sv, rn, id FROM ({ranked})")

    def hop_at(self, parents: str, kind: str, limit: str, near: str, far: str, created: str, cursor: str, at: str) -> str:
        """``hop`` as of a time: along the edges that stood then, stored (hidden or not:
        each read in order by the walks' index) and removed since, to nodes made by then
        and, but from a parent deleted then, live then."""
        each = self.name("q")
        self.ctes.append(f"\n  {each}p(id) AS (SELECT DISTINCT * FROM ({parents}))")
        self.ctes.append(f"\n  {each}(id, gone) AS (SELECT q.id, NOT {live_at('q.id', at)} FROM {each}p q)")

        def stood(x: str) -> str:
            return f" AND {x}.created_at <= {at} AND {x}.{created} <= {at} AND (p.gone OR {live_at(f'{x}.{far}', at)})"

        firsts = " UNION ALL ".join(
            f"SELECT f FROM (SELECT x.{far} AS f FROM edges x WHERE x.{near} = p.id AND x.kind = {kind} AND x.gone = {gone}"
            f"{stood('x')}{cursor} ORDER BY x.{created} DESC, x.{far} DESC LIMIT {limit})"
            for gone in (0, 1)
        )
        removed_cursor = cursor.replace("x.", "e.")
        reached = (
            f"SELECT e.{near} AS pid, e.{created} AS sv, e.{far} AS id"
            f" FROM {each} p JOIN edges e ON e.{near} = p.id AND e.kind = {kind} AND e.{far} IN ({firsts})"
            " UNION"  # once (an edge removed and made again in one write may stand twice for an instant)
            f" SELECT e.{near}, e.{created}, e.{far} FROM {each} p JOIN removed_edges e ON e.{near} = p.id AND e.kind = {kind}"
            f" AND e.removed_at > {at}{stood('e')}{removed_cursor}"
        )
        ranked = f"SELECT pid, sv, id, row_number() OVER (PARTITION BY pid ORDER BY sv DESC, id DESC) AS rn FROM ({reached})"
        return self.cte("s", f"SELECT pid, sv, rn, id FROM ({ranked})")

    def objects(self, ids: str, select: p.Selection) -> str:
        """The CTE of (id, j): the JSON of each node in ``ids`` (a SELECT of ids)."""
        shapes = list(select.by_kind.values())
        if all(shape == shapes[0] for shape in shapes):
            # The same fields whatever the kind (the interface's only): one object, with
            # the kind's type name looked up where __typename is asked.
            j = self.obj([self.node_field(ids, None, f) for f in (shapes[0] if shapes else ())])
        else:
            cases = " ".join(
                f"WHEN {self.bind(kind.value)} THEN {self.obj([self.node_field(ids, kind, f) for f in fields])}"
                for kind, fields in select.by_kind.items()
            )
            j = f"CASE n.kind {cases} END"
        if self.at is not None:
            # As they were then: each read by id, its parts as of then.
            source = f"(SELECT {node_columns_at('a', self.at)} FROM nodes a WHERE a.id IN ({ids})) n"
            return self.cte("o", f"SELECT n.id, {j} AS j FROM {source}")
        return self.cte("o", f"SELECT n.id, {j} AS j FROM nodes n WHERE n.id IN ({ids})")

    @staticmethod
    def lookup(objects: str, node_id: str) -> str:
        return f"json((SELECT j FROM {objects} WHERE id = {node_id}))"

    def node_field(self, ids: str, kind: Kind | None, f: p.NodeField) -> tuple[str, str]:
        if isinstance(f, p.Const):
            return f.key, self.bind(f.value)
        if isinstance(f, p.Base):
            return f.key, self.base(kind, f.field)
        if isinstance(f, p.Typed):
            return f.key, self.typed(f)
        if isinstance(f, p.Follow):
            # The nodes at the other end, each parent's newest looked up by a correlated
            # subquery (an index seek of its few edges): no window over every parent's
            # neighbours, as a page needs.
            near, far = ("from_id", "to_id") if f.step is Step.OUT else ("to_id", "from_id")
            edge = self.bind(f.edge_kind)
            if self.at is not None:
                return f.key, self.follow_at(ids, f, near, far, edge, self.at)
            reached = self.cte("f", f"SELECT e.{far} AS id FROM edges e WHERE e.kind = {edge} AND e.{near} IN ({ids})")
            objects = self.objects(f"SELECT id FROM {reached}", f.select)
            newest = (
                f"(SELECT x.id FROM edges e JOIN nodes x ON x.id = e.{far} WHERE e.{near} = n.id AND e.kind = {edge}"
                " AND e.gone = (n.deleted_at IS NOT NULL) ORDER BY x.created_at DESC, x.id DESC LIMIT 1)"
            )
            return f.key, self.lookup(objects, newest)
        step = self.hop(ids, f.edge_kind, f.step, f.first + 1, f.after)
        return f.key, self.page(step, "pid = n.id", f.first, f.page)

    def follow_at(self, ids: str, f: p.Follow, near: str, far: str, edge: str, at: str) -> str:
        """A ``Follow`` as of a time: the newest node at the other end of an edge that
        stood then, made by then and, but from a node deleted then, live then."""
        stood = f"SELECT e.{far} AS id FROM {{table}} e WHERE e.kind = {edge} AND e.{near} {{near}} AND e.created_at <= {at}"
        removed = f" AND e.removed_at > {at}"
        reached = self.cte(
            "f",
            stood.format(table="edges", near=f"IN ({ids})")
            + " UNION "
            + stood.format(table="removed_edges", near=f"IN ({ids})")
            + removed,
        )
        objects = self.objects(f"SELECT id FROM {reached}", f.select)
        candidates = (
            stood.format(table="edges", near="= n.id")
            + " UNION ALL "
            + stood.format(table="removed_edges", near="= n.id")
            + removed
        )
        newest = (
            f"(SELECT x.id FROM ({candidates}) c JOIN nodes x ON x.id = c.id WHERE x.created_at <= {at}"
            f" AND (n.deleted_at IS NOT NULL OR {live_at('x.id', at)}) ORDER BY x.created_at DESC, x.id DESC LIMIT 1)"
        )
        return self.lookup(objects, newest)

    def base(self, kind: Kind | None, name: str) -> str:
        expr = {
            "id": "mg_id(n.id)",
            "kind": "upper(n.kind)",
            "name": "n.name",
            "createdAt": "mg_time(n.created_at)",
            "deletedAt": "mg_time(n.deleted_at)",
            "deletedReason": "n.deleted_reason",
            "tags": "json(n.tags)",
            "attributes": "json(n.attributes)",
        }.get(name)
        if expr is not None:
            return expr
        if kind is not None:
            return self.bind(KINDS[kind].graphql)
        cases = " ".join(f"WHEN {self.bind(k.value)} THEN {self.bind(spec.graphql)}" for k, spec in KINDS.items())
        return f"CASE n.kind {cases} END"

    def typed(self, f: p.Typed) -> str:
        if f.type is ValueType.METRIC:
            return f"json(mg_metric(n.fields, {self.bind(f.argument)}))"
        path = self.bind(f"$.{f.stored}")
        if f.type is ValueType.TIME:
            return f"mg_time(n.fields ->> {path})"
        if f.type is ValueType.JSON:
            return f"json(coalesce(n.fields -> {path}, '{{}}'))"
        if f.type is ValueType.RUN_STATUS:
            return f"nullif(n.fields ->> {path}, '')"
        if f.type is ValueType.ENUM:
            return f"coalesce(nullif(n.fields ->> {path}, ''), {self.bind(f.default)})"
        return f"n.fields ->> {path}"

    # -- pages ----------------------------------------------------------------------------

    def page(self, step: str, which: str, first: int, page: p.PageSelection) -> str:
        """The connection over the rows of ``step`` that ``which`` picks, at most
        ``first`` + 1 of them: the one past the page says whether there is a next."""
        size = self.bind(first)
        kept = f"SELECT id FROM {step} WHERE rn <= {size}"
        inside = f"FILTER (WHERE x.rn <= {size})"
        cursor = "mg_cursor(x.sv, x.id)"
        last = f"(SELECT mg_cursor(sv, id) FROM {step} WHERE {which} AND rn <= {size} ORDER BY rn DESC LIMIT 1)"
        parts: list[tuple[str, str]] = []
        for part in page.fields:
            if isinstance(part, p.Const):
                parts.append((part.key, self.bind(part.value)))
            elif isinstance(part, p.Nodes):
                parts.append((part.key, f"json_group_array({self.lookup(self.objects(kept, part.select), 'x.id')}) {inside}"))
            elif isinstance(part, p.Edges):
                fields = [
                    (f.key, self.bind(f.value))
                    if isinstance(f, p.Const)
                    else (f.key, cursor)
                    if isinstance(f, p.Cursor)
                    else (f.key, self.lookup(self.objects(kept, f.select), "x.id"))
                    for f in part.fields
                ]
                parts.append((part.key, f"json_group_array({self.obj(fields)}) {inside}"))
            else:
                info = {
                    "hasNextPage": f"json(iif(coalesce(max(x.rn), 0) > {size}, 'true', 'false'))",
                    "hasPreviousPage": _b(page.has_previous),
                    "startCursor": f"max(CASE WHEN x.rn = 1 THEN {cursor} END)",
                    "endCursor": last,  # the page's last row's, encoded alone (not every row's, to keep one)
                }
                fields = [(f.key, self.bind(f.value)) if isinstance(f, p.Const) else (f[0], info[f[1]]) for f in part.fields]
                parts.append((part.key, self.obj(fields)))
        # count(*) makes it an aggregate, which answers one row for an empty page too.
        answer = f"iif(count(*) < 0, NULL, {self.obj(parts)})"
        return f"json((SELECT {answer} FROM (SELECT * FROM {step} WHERE {which} ORDER BY rn) x))"

    # -- roots ----------------------------------------------------------------------------

    def root(self, root: p.Root) -> tuple[str, str]:
        if isinstance(root, p.Const):
            return root.key, self.bind(root.value)
        if isinstance(root, p.NodeRoot):
            node_id = self.bind(root.id)
            if root.as_of is None:
                self.checks.append(f"EXISTS (SELECT 1 FROM nodes WHERE id = {node_id})")
                return root.key, self.lookup(self.objects(f"SELECT {node_id}", root.select), node_id)
            self.at = self.bind(root.as_of)
            try:
                self.checks.append(f"EXISTS (SELECT 1 FROM nodes WHERE id = {node_id} AND created_at <= {self.at})")
                return root.key, self.lookup(self.objects(f"SELECT {node_id}", root.select), node_id)
            finally:
                self.at = None
        if isinstance(root, p.NodesRoot):
            ids = self.bind(orjson.dumps(root.ids).decode())
            objects = self.objects(f"SELECT value FROM json_each({ids})", root.select)
            asked = f"SELECT value FROM json_each({ids}) ORDER BY key"
            return root.key, f"json((SELECT json_group_array({self.lookup(objects, 'k.value')}) FROM ({asked}) k))"
        if isinstance(root, p.NamedRoot):
            return root.key, self.named(root)
        if isinstance(root, p.ListRoot):
            rows, order = list_source(root.query, self.bind)
            step = self.cte("s", f"SELECT sv, id, row_number() OVER (ORDER BY sv {order}, id {order}) AS rn FROM ({rows}) q")
            return root.key, self.page(step, "1", root.query.first, root.page)
        if isinstance(root, p.LineageRoot):
            return root.key, self.lineage(root)
        return root.key, self.summary(root)

    def named(self, root: p.NamedRoot) -> str:
        match = f"kind = {self.bind(root.name.kind.value)} AND name = {self.bind(root.name.name)} AND deleted_at IS NULL"
        if root.name.scope is not None:
            match += f" AND scope = {self.bind(root.name.scope)}"
        self.checks.append(f"(SELECT count(*) FROM (SELECT 1 FROM nodes WHERE {match} LIMIT 2)) < 2")
        found = f"SELECT id FROM (SELECT id FROM nodes WHERE {match} ORDER BY created_at, id LIMIT 1)"
        return f"json((SELECT j FROM {self.objects(found, root.select)}))"

    def lineage(self, root: p.LineageRoot) -> str:
        q = root.query
        t = f"{self.name('w')}_"
        values = lineage_values(q, self.first_cap)
        fanned = q.kinds is None
        v = {name: self.bind(values[name]) for name in LINEAGE_VALUES if fanned or name != "fan"}
        if q.as_of is not None:
            v["at"] = self.bind(q.as_of)
        self.ctes.append(lineage_ctes(t, v, fanned, q.include_deleted))
        self.walks.append(Walk(q.limit, v["cap"]))
        self.stats += [f"(SELECT rows FROM {t}walked)", f"(SELECT count(*) FROM {t}picked)"]
        made = f" AND created_at <= {v['at']}" if q.as_of is not None else ""
        self.checks.append(f"EXISTS (SELECT 1 FROM nodes WHERE id = {v['start']}{made})")
        self.at = v.get("at")
        try:
            return self.lineage_parts(root, t, v)
        finally:
            self.at = None

    def lineage_parts(self, root: p.LineageRoot, t: str, v: dict[str, str]) -> str:
        parts: list[tuple[str, str]] = []
        for part in root.fields:
            if isinstance(part, p.Const):
                parts.append((part.key, self.bind(part.value)))
            elif isinstance(part, p.NodeAt):
                parts.append((part.key, self.lookup(self.objects(f"SELECT {v['start']}", part.select), v["start"])))
            elif isinstance(part, p.LineageNodes):
                parts.append((part.key, self.lineage_nodes(t, v["limit"], part)))
            elif isinstance(part, p.LineageEdges):
                parts.append((part.key, self.lineage_edges(t, part)))
            else:
                cut = "1" if root.depth_cut else "0"
                parts.append((part[0], f"json(iif({cut} OR (SELECT count(*) FROM {t}picked) > {v['limit']}, 'true', 'false'))"))
        return self.obj(parts)

    def lineage_nodes(self, t: str, limit: str, part: p.LineageNodes) -> str:
        kept = f"SELECT id FROM {t}picked WHERE rn <= {limit}"
        fields: list[tuple[str, str]] = []
        for f in part.fields:
            if isinstance(f, p.Const):
                fields.append((f.key, self.bind(f.value)))
            elif isinstance(f, p.NodeAt):
                fields.append((f.key, self.lookup(self.objects(kept, f.select), "x.id")))
            else:
                fields.append((f[0], "x.depth" if f[1] == "depth" else "upper(x.dir)"))
        rows = f"SELECT * FROM {t}picked WHERE rn <= {limit} ORDER BY rn"
        return f"json((SELECT json_group_array({self.obj(fields)}) FROM ({rows}) x))"

    def lineage_edges(self, t: str, part: p.LineageEdges) -> str:
        key = "substr(x.from_id, instr(x.from_id, '/') + 1) || '-' || substr(x.to_id, instr(x.to_id, '/') + 1)"
        exprs = {
            "id": f"mg_id(x.kind || '/' || {key})",
            # A declared edge's kind is CUSTOM, and its customKind the name declared.
            "kind": f"iif(x.kind LIKE '{CUSTOM_EDGE_PREFIX}%', 'CUSTOM', upper(x.kind))",
            "customKind": f"iif(x.kind LIKE '{CUSTOM_EDGE_PREFIX}%', substr(x.kind, {len(CUSTOM_EDGE_PREFIX) + 1}), NULL)",
            "from": "mg_id(x.from_id)",
            "to": "mg_id(x.to_id)",
            "createdAt": "mg_time(x.created_at)",
        }
        fields = [(f.key, self.bind(f.value)) if isinstance(f, p.Const) else (f[0], exprs[f[1]]) for f in part.fields]
        rows = f"SELECT * FROM {t}followed ORDER BY kind, from_id, to_id"
        return f"json((SELECT json_group_array({self.obj(fields)}) FROM ({rows}) x))"

    def summary(self, root: p.SummaryRoot) -> str:
        pid = self.bind(root.project_id)
        models = self.cte("m", f"SELECT to_id AS id FROM edges WHERE from_id = {pid} AND kind = 'project_model' AND gone = 0")
        runs = self.cte(
            "r", f"SELECT e.from_id AS id FROM {models} m JOIN edges e ON e.to_id = m.id AND e.kind = 'run_model' AND e.gone = 0"
        )
        self.checks.append(f"EXISTS (SELECT 1 FROM nodes WHERE id = {pid} AND kind = 'project')")

        def distinct(near: str, far: str, source: str, edge_kind: str) -> str:
            joined = f"{source} x JOIN edges e ON e.{near} = x.id AND e.kind = '{edge_kind}' AND e.gone = 0"
            return f"(SELECT count(DISTINCT e.{far}) FROM {joined})"

        counts = {
            "models": f"(SELECT count(*) FROM {models})",
            "runs": f"(SELECT count(*) FROM {runs})",
            "datasets": distinct("from_id", "to_id", runs, "run_dataset"),
            "featuresets": distinct("from_id", "to_id", runs, "run_featureset"),
            "deployments": distinct("to_id", "from_id", models, "deployment_model"),
        }
        parts: list[tuple[str, str]] = []
        for part in root.fields:
            if isinstance(part, p.Const):
                parts.append((part.key, self.bind(part.value)))
            elif isinstance(part, p.NodeAt):
                parts.append((part.key, self.lookup(self.objects(f"SELECT {pid}", part.select), pid)))
            else:
                parts.append((part[0], counts[part[1]]))
        return self.obj(parts)


def compile_plan(plan: p.Plan, lineage_first_cap: int) -> Compiled:
    c = _Compiler(lineage_first_cap)
    data = c.obj([c.root(root) for root in plan.roots])
    ok = " AND ".join(c.checks) or "1"
    head = f"WITH RECURSIVE {','.join(c.ctes)}\n" if c.ctes else ""
    sql = f"{head}SELECT {ok}, {data}{''.join(', ' + s for s in c.stats)}"
    return Compiled(sql, c.bind.values, c.walks)

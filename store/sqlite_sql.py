"""The SQL text the SQLite adapter shares between its reads and its compiled plans: the
lineage walk, the list query, and named placeholders for values. Text is assembled from
constants; every value is a placeholder."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from metagate.store.errors import BadUserInput
from metagate.store.model import CUSTOM_WALKS, WALK_STEPS, CustomWalk, Direction, End, Step, WalkStep, sparse_step, steps_toward
from metagate.store.port import (
    METRIC_NAME,
    AllOf,
    AnyOf,
    Compare,
    LineageQuery,
    ListQuery,
    NotOf,
    Op,
    OrderField,
    Related,
    Subject,
    Where,
    contains_pattern,
)

NODE_COLUMNS = "n.id, n.kind, n.name, n.scope, n.created_at, n.tags, n.attributes, n.fields, n.deleted_at, n.deleted_reason"
# The columns of NODE_COLUMNS by name, as a select from a subquery of them gives them.
NODE_NAMES = "id, kind, name, scope, created_at, tags, attributes, fields, deleted_at, deleted_reason"


def live_at(node: str, at: str) -> str:
    """The test that node ``node`` (an id expression) was not deleted at ``at`` (a
    placeholder): no deletion span of it holds that time."""
    return (
        f"NOT EXISTS (SELECT 1 FROM deletions d WHERE d.node_id = {node} AND d.deleted_at <= {at}"
        f" AND (d.restored_at IS NULL OR d.restored_at > {at}))"
    )


def _part_at(alias: str, part: str, at: str) -> str:
    """A node's part as it was at ``at``: what the first change of it after then found."""
    return (
        f"coalesce((SELECT c.before -> '$.{part}' FROM change_nodes c JOIN changes h ON h.seq = c.seq"
        f" WHERE c.node_id = {alias}.id AND c.action = 'changed' AND h.at > {at} AND c.before -> '$.{part}' IS NOT NULL"
        f" ORDER BY c.seq LIMIT 1), {alias}.{part})"
    )


def node_columns_at(alias: str, at: str) -> str:
    """NODE_COLUMNS of node ``alias`` as it was at ``at`` (port.LineageQuery.as_of)."""
    span = (
        f"FROM deletions d WHERE d.node_id = {alias}.id AND d.deleted_at <= {at}"
        f" AND (d.restored_at IS NULL OR d.restored_at > {at})"
    )
    parts = ", ".join(f"{_part_at(alias, part, at)} AS {part}" for part in ("tags", "attributes", "fields"))
    return (
        f"{alias}.id, {alias}.kind, {alias}.name, {alias}.scope, {alias}.created_at, {parts},"
        f" (SELECT d.deleted_at {span}) AS deleted_at, (SELECT d.reason {span}) AS deleted_reason"
    )


class Params:
    """Named placeholders for a statement's values: ``bind(value)`` gives ``:pN``."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def __call__(self, value: Any) -> str:
        name = f"p{len(self.values)}"
        self.values[name] = value
        return f":{name}"


def _columns(s: WalkStep) -> tuple[str, str, str]:
    """The edge's columns for a step: the near end's id, the far end's id and the far
    end's creation time."""
    return ("from_id", "to_id", "to_created") if s.step is Step.OUT else ("to_id", "from_id", "from_created")


def _live(alias: str, hidden: bool) -> str:
    """The test that keeps ``alias``'s edges a walk follows: its live ones, or, walking
    ``hidden`` ones too, all of them. (A fanned step tests the edges it picks, then
    reads each by its key: testing that one again would read it by the walks' index
    instead, every edge of the node's, not the few picked.)"""
    return "" if hidden else f" AND {alias}.gone = 0"


def _edge_at(alias: str, far: str, created: str, at: str, hidden: bool, removed: bool = False) -> str:
    """The test that ``alias``'s edge stood at ``at``, its far end made by then and (unless
    walking ``hidden`` edges too) live then."""
    span = f" AND {alias}.removed_at > {at}" if removed else ""
    live = "" if hidden else f" AND {live_at(f'{alias}.{far}', at)}"
    return f" AND {alias}.created_at <= {at}{span} AND {alias}.{created} <= {at}{live}"


def _fan(near: str, far: str, created: str, kind: str, v: dict[str, str], hidden: bool, at: str | None) -> str:
    """The first ``fan`` far ends of the row's edges of ``kind`` in answer order. As of a
    time, among its hidden edges too (an end deleted since was live then), each read in
    order by the walks' index: the first of the two together are among them."""
    if at is None:
        return (
            f" AND e.{far} IN (SELECT x.{far} FROM edges x WHERE x.{near} = w.id AND x.kind = {kind}{_live('x', hidden)}"
            f" ORDER BY x.{created}, x.{far} LIMIT {v['fan']})"
        )
    firsts = [
        f"SELECT f FROM (SELECT x.{far} AS f FROM edges x WHERE x.{near} = w.id AND x.kind = {kind} AND x.gone = {gone}"
        f"{_edge_at('x', far, created, at, hidden)} ORDER BY x.{created}, x.{far} LIMIT {v['fan']})"
        for gone in (0, 1)
    ]
    return f" AND e.{far} IN ({' UNION ALL '.join(firsts)})"


def _walk_step(t: str, v: dict[str, str], i: int, s: WalkStep, fanned: bool, hidden: bool) -> str:
    """The walk's rows one ``s`` step from each row of it: when ``fanned``, at most
    ``fan`` per row, the first in the order of the answer (the far kind is the step's,
    and the edge holds the far end's creation time: an index gives them in order, however
    many edges the node has); otherwise all of them. A step the walk does not need is off
    in ``mask`` (tested before the step's join). As of a time (``v["at"]``), along the
    stored edges that stood then, hidden or not (``_removed_steps`` follows those
    removed since)."""
    near, far, created = _columns(s)
    at = v.get("at")
    kind = f"'{s.edge.name}'"
    first = _fan(near, far, created, kind, v, hidden, at) if fanned else ""
    test = _live("e", hidden or fanned) if at is None else _edge_at("e", far, created, at, hidden or fanned)
    where = (
        f"WHERE {_mask(t)} & {1 << i} AND w.dir = '{s.direction.value}' AND w.kind = '{s.near.value}' AND w.depth < {v['depth']}"
    )
    return f"""
    SELECT e.{far}, w.dir, w.depth + 1, '{s.far.value}', e.{created}
      FROM {t}walk w JOIN edges e ON e.{near} = w.id AND e.kind = {kind}{test}{first}
     {where}"""


def _removed_steps(t: str, v: dict[str, str], at: str, hidden: bool) -> str:
    """As of a time, the walk's rows one step along the edges removed since that stood
    then: one select each way over a table of the steps (edge kind, direction, near and
    far kinds, mask bit), so that a row reads its removed edges by one probe of the
    index each way, not one per step (few nodes have any)."""
    selects = []
    for way in (Step.OUT, Step.IN):
        near, far, created = ("from_id", "to_id", "to_created") if way is Step.OUT else ("to_id", "from_id", "from_created")
        rows = ", ".join(
            f"('{s.edge.name}', '{s.direction.value}', '{s.near.value}', '{s.far.value}', {1 << i})"
            for i, s in enumerate(WALK_STEPS)
            if s.step is way
        )
        table = f"(SELECT column1 AS edge, column2 AS dir, column3 AS nk, column4 AS fk, column5 AS bit FROM (VALUES {rows}))"
        selects.append(f"""
    SELECT e.{far}, w.dir, w.depth + 1, s.fk, e.{created}
      FROM {t}walk w CROSS JOIN removed_edges e CROSS JOIN {table} s
        ON e.{near} = w.id{_edge_at("e", far, created, at, hidden, True)}
     WHERE s.edge = e.kind AND s.dir = w.dir AND s.nk = w.kind AND {_mask(t)} & s.bit AND w.depth < {v["depth"]}""")
    return " UNION".join(selects)


def _mask(t: str) -> str:
    """The walk's mask, as its steps test it."""
    return f"(SELECT m FROM {t}mask)"


def _custom_walk(t: str, v: dict[str, str], i: int, c: CustomWalk, fanned: bool, hidden: bool) -> str:
    """The walk's rows one step along the declared edge kinds whose upstream end is
    ``c.upstream``, followed ``c.step``: as ``_walk_step``, the kinds read from each
    declaration (``edge_kinds``) instead of the text. In this order (CROSS JOIN keeps
    it): a node's edges of each declared kind by index, never all of its edges (a model
    has thousands of runs) to find the declared ones among them."""
    near, far, created = ("from_id", "to_id", "to_created") if c.step is Step.OUT else ("to_id", "from_id", "from_created")
    near_end, far_end = (End.FROM, End.TO) if c.step is Step.OUT else (End.TO, End.FROM)
    at = v.get("at")
    first = _fan(near, far, created, "k.edge", v, hidden, at) if fanned else ""
    live = _live("e", hidden or fanned) if at is None else _edge_at("e", far, created, at, hidden or fanned)

    def rows(table: str, test: str, fan: str) -> str:
        return f"""
    SELECT e.{far}, w.dir, w.depth + 1, k.{far_end.value}_store, e.{created}
      FROM {t}walk w CROSS JOIN edge_kinds k CROSS JOIN {table} e
        ON k.{near_end.value}_store = w.kind AND k.upstream = '{c.upstream.value}'
       AND e.{near} = w.id AND e.kind = k.edge{test}{fan}
     WHERE {_mask(t)} & {1 << i} AND w.dir = '{c.direction.value}' AND w.depth < {v["depth"]}"""

    # (No write removes a declared edge, Tx.delete_edges is given built-in kinds only: as
    # of a time, a declared kind's stored edges are all there were.)
    return rows("edges", live, first)


def _steps_table(steps: Sequence[WalkStep]) -> str:
    """The steps as a table of (edge kind, direction, from kind, to kind, whether walked
    from the from end), constants of ours."""
    rows = ", ".join(
        f"('{s.edge.name}', '{s.direction.value}', '{s.edge.from_kind.value}', '{s.edge.to_kind.value}',"
        f" {1 if s.step is Step.OUT else 0})"
        for s in steps
    )
    return f"(SELECT column1 AS edge, column2 AS dir, column3 AS fk, column4 AS tk, column5 AS wa FROM (VALUES {rows}))"


def _followed(t: str, v: dict[str, str], hidden: bool) -> str:
    """The edges the walk's steps follow between two nodes kept, read from the end with
    few edges of the kind (a node kept may have thousands at its other end, while the
    nodes kept are at most the limit; never pair by pair of nodes kept, which is kept
    times kept). One select per way of reading, over a table of the steps read that
    way (``kept`` is named six times, not twice per step: SQLite copies a table's
    definition into the statement wherever it is named, and allows 65,535 references to
    ``edges`` in one statement)."""
    shapes: dict[Step, list[WalkStep]] = {}
    for s in WALK_STEPS:
        # Both ends may have many (a step's inputs, a dataset's readers): read from the
        # from end, a step, which has few (at most resolvers.steps.MAX_LINKS a call).
        shapes.setdefault(sparse_step(s.edge) or Step.OUT, []).append(s)
    selects = []
    for sparse, steps in shapes.items():
        table = _steps_table(steps)
        joined = {
            Step.OUT: f"{t}kept a CROSS JOIN {table} s CROSS JOIN edges e CROSS JOIN {t}kept b",
            Step.IN: f"{t}kept b CROSS JOIN {table} s CROSS JOIN edges e CROSS JOIN {t}kept a",
        }[sparse]
        selects.append(f"""
    SELECT e.kind, e.from_id, e.to_id, e.created_at FROM {joined}
     WHERE a.dir = s.dir AND a.kind = s.fk AND b.dir = s.dir AND b.kind = s.tk
       AND iif(s.wa, a.depth, b.depth) < {v["depth"]}
       AND e.from_id = a.id AND e.kind = s.edge AND e.to_id = b.id{{stood}}""")
    # The declared lineage edges, read from their from end (nothing bounds how many a
    # node has at either end: a declared node is logged with at most 1,000 links a call,
    # but linkNodes adds more one by one).
    selects.append(f"""
    SELECT e.kind, e.from_id, e.to_id, e.created_at
      FROM {t}kept a CROSS JOIN edge_kinds k CROSS JOIN edges e CROSS JOIN {t}kept b
     WHERE k.upstream IS NOT NULL AND a.kind = k.from_store AND b.dir = a.dir AND b.kind = k.to_store
       AND iif((a.dir = 'upstream') = (k.upstream = 'to'), a.depth, b.depth) < {v["depth"]}
       AND e.from_id = a.id AND e.kind = k.edge AND e.to_id = b.id{{stood}}""")
    at = v.get("at")
    if at is None:
        return " UNION".join(x.replace("{stood}", _live("e", hidden)) for x in selects)
    # As of a time: the edges that stood then, stored or removed since (both ends are
    # kept, so they were there then).
    stored = [x.replace("{stood}", f" AND e.created_at <= {at}") for x in selects]
    # Removed ones (few, of built-in kinds only): each kept node's read by one probe,
    # then matched to the steps; not one that also stood stored then (removed and made
    # again in one write, it may stand twice for an instant).
    table = _steps_table(WALK_STEPS)
    removed = [
        f"""
    SELECT e.kind, e.from_id, e.to_id, e.created_at
      FROM {t}kept a CROSS JOIN removed_edges e CROSS JOIN {table} s CROSS JOIN {t}kept b
     WHERE e.from_id = a.id AND e.created_at <= {at} AND e.removed_at > {at}
       AND NOT EXISTS (SELECT 1 FROM edges x WHERE x.from_id = e.from_id AND x.kind = e.kind AND x.to_id = e.to_id
                       AND x.created_at <= {at})
       AND s.edge = e.kind AND a.dir = s.dir AND a.kind = s.fk AND b.id = e.to_id AND b.dir = s.dir AND b.kind = s.tk
       AND iif(s.wa, a.depth, b.depth) < {v["depth"]}"""
    ]
    return " UNION".join([*stored, *removed])


# Lineage in one statement, its cost bounded by its answer. The walk is breadth-first
# with a queue ordered as the answer is (depth, kind, creation time, id), so its rows
# come out in that order and its LIMIT (``cap``) keeps a prefix of the answer, exact
# however it is cut. A row is (node, direction, depth, kind, time), so the UNION keeps a
# node once per depth however many edges reach it. Each row moves on to at most ``fan``
# neighbours per step, the first in answer order: without a kinds filter, limit + 2 of
# them hold every neighbour the first limit + 1 nodes can need, whatever the node's
# degree (``fanned``); with one (nodes of other kinds do not count) a node moves on to
# all of its neighbours, and ``mask`` leaves out the steps that cannot lead to a wanted
# kind. Both rest on every edge's ends having its kind's two kinds, which the writes
# keep (the walk takes a node's kind from the edge it came by). When a pass keeps too
# few nodes and was cut, the caller widens the cap and asks again. Edges are those the
# walk follows between the nodes kept. `t` prefixes the names of the walk's tables (a
# statement may walk more than once) and `v` names the placeholders of its values:
# start, dirs, cap, fan (when fanned), mask, kinds, limit, depth, and at (as of a time,
# when given: port.LineageQuery.as_of). The walk follows live edges only (a deleted
# node's are hidden with it: the walk stops at it), or, ``hidden``, every edge (through
# and to deleted nodes); as of a time, the edges that stood then between nodes that
# existed then (and, but ``hidden``, were live then), its nodes as they were then.
def lineage_ctes(t: str, v: dict[str, str], fanned: bool, hidden: bool = False) -> str:
    at = v.get("at")
    steps = " UNION".join(
        [
            *(_walk_step(t, v, i, s, fanned, hidden) for i, s in enumerate(WALK_STEPS)),
            *(_custom_walk(t, v, len(WALK_STEPS) + i, c, fanned, hidden) for i, c in enumerate(CUSTOM_WALKS)),
            *([_removed_steps(t, v, at, hidden)] if at is not None else []),
        ]
    )
    followed = _followed(t, v, hidden)
    start_at = ""
    columns = NODE_COLUMNS
    if at is not None:
        start_at = f" AND n.created_at <= {at}" + ("" if hidden else f" AND {live_at('n.id', at)}")
        columns = node_columns_at("n", at)
    return f"""
  -- A kinds filter's mask knows the built-in edge kinds only: with declared lineage
  -- edges (which may lead from any kind to any), every step is taken.
  {t}mask(m) AS (
    SELECT CASE WHEN {v["kinds"]} IS NOT NULL AND EXISTS (SELECT 1 FROM edge_kinds WHERE upstream IS NOT NULL)
                THEN -1 ELSE {v["mask"]} END
  ),
  {t}walk(id, dir, depth, kind, created) AS (
    SELECT n.id, d.value, 0, n.kind, n.created_at FROM nodes n, json_each({v["dirs"]}) d WHERE n.id = {v["start"]}{start_at}
    UNION{steps}
    ORDER BY 3, 4, 5, 1
    LIMIT {v["cap"]}
  ),
  {t}walked(rows) AS (
    SELECT count(*) FROM {t}walk
  ),
  {t}ranked(id, dir, depth, rn) AS (
    SELECT id, dir, depth, ROW_NUMBER() OVER (ORDER BY depth, kind, created, id) FROM (
      SELECT id, dir, MIN(depth) AS depth, kind, created FROM {t}walk WHERE depth > 0 AND id != {v["start"]} GROUP BY id, dir
    )
     WHERE {v["kinds"]} IS NULL OR kind IN (SELECT value FROM json_each({v["kinds"]}))
     ORDER BY 4
     LIMIT {v["limit"]} + 1
  ),
  -- Whole rows for the nodes answered only: the ranking sorts keys, not documents.
  {t}picked AS (
    SELECT r.depth, r.dir, r.rn, {columns} FROM {t}ranked r JOIN nodes n ON n.id = r.id
  ),
  {t}kept(id, dir, depth, kind) AS (
    SELECT id, dir, depth, kind FROM {t}picked WHERE rn <= {v["limit"]}
    UNION ALL
    SELECT id, dir, depth, kind FROM {t}walk WHERE depth = 0
  ),
  {t}followed(kind, from_id, to_id, created_at) AS ({followed}
  )"""


LINEAGE_VALUES = ("start", "dirs", "cap", "fan", "mask", "kinds", "limit", "depth")


def lineage_values(query: LineageQuery, first_cap: int) -> dict[str, Any]:
    """The values of ``lineage_ctes``'s placeholders for a query's first pass (its walk is
    fanned when the query has no kinds filter; ``fan`` is then the fan). The first cap:
    twice the rows the answer needs without a kinds filter (a node may come at more than
    one depth), and ``first_cap`` more with one (the walk passes nodes the answer leaves
    out)."""
    both = query.direction is Direction.BOTH
    dirs = [Direction.UPSTREAM.value, Direction.DOWNSTREAM.value] if both else [query.direction.value]
    wanted = steps_toward(query.kinds)
    filtered = query.kinds is not None
    return {
        "start": query.start,
        "dirs": orjson.dumps(dirs).decode(),
        "cap": (first_cap + 4 * (query.limit + 1)) if filtered else min(first_cap, 16) + 2 * (query.limit + 2),
        "fan": query.limit + 2,
        # The declared edges' steps are always on: their declarations decide what they follow.
        "mask": sum(1 << i for i, s in enumerate(WALK_STEPS) if s in wanted)
        + sum(1 << (len(WALK_STEPS) + i) for i in range(len(CUSTOM_WALKS))),
        "kinds": orjson.dumps([k.value for k in query.kinds]).decode() if query.kinds is not None else None,
        "limit": query.limit,
        "depth": query.depth,
        **({"at": query.as_of} if query.as_of is not None else {}),
    }


def list_source(q: ListQuery, bind: Params) -> tuple[str, str]:
    """Compiles a ListQuery into one SELECT of (sort value ``sv``, node columns...) in list
    order, at most ``first + 1`` rows; and that order's direction, ASC or DESC."""
    if not q.kinds:
        raise BadUserInput("a list needs at least one kind")
    where: list[str] = [f"n.kind IN ({', '.join(bind(k.value) for k in q.kinds)})"]
    if not q.include_deleted:
        where.append("n.deleted_at IS NULL")

    if q.name is not None:
        where.append(f"n.name = {bind(q.name)}")
    if q.name_contains is not None:
        where.append(f"n.name LIKE {bind(contains_pattern(q.name_contains))} ESCAPE '\\'")
    if q.scope is not None:
        where.append(f"n.scope = {bind(q.scope)}")
    if q.tag is not None:
        where.append(f"n.id IN (SELECT t.node_id FROM node_tags t WHERE t.tag = {bind(q.tag)})")
    if q.attribute is not None:
        where.append(_attribute("n", q.attribute.key, Op.EQ, q.attribute.value, bind))
    if q.created_after is not None:
        where.append(f"n.created_at >= {bind(q.created_after)}")
    if q.created_before is not None:
        where.append(f"n.created_at < {bind(q.created_before)}")
    if q.where is not None:
        where.append(where_sql(q.where, "n", bind))
    if q.deployment_tag is not None:
        tag = bind(q.deployment_tag)
        where.append(
            f"((n.kind = 'run' AND json_extract(n.fields, '$.deploymentTag') = {tag})"
            f" OR (n.kind = 'deployment' AND json_extract(n.fields, '$.tag') = {tag})"
            " OR (n.kind = 'model' AND n.id IN (SELECT e.to_id FROM nodes r JOIN edges e"
            "   ON e.from_id = r.id AND e.kind = 'run_model' AND e.gone = 0"
            f"   WHERE r.kind = 'run' AND json_extract(r.fields, '$.deploymentTag') = {tag})))"
        )

    metric_name = q.metric.name if q.metric else None
    if q.order_by is OrderField.METRIC:
        if metric_name is not None and q.order_metric not in (None, metric_name):
            raise BadUserInput("a list can filter and order by one metric at a time")
        metric_name = q.order_metric or metric_name
    if metric_name is not None:
        if not METRIC_NAME.fullmatch(metric_name):
            raise BadUserInput(f"invalid metric name {metric_name!r}", field="metric")
        # Runs that carry the metric, from its index (migration 4), in value order.
        source = f"nodes n JOIN run_metrics rm ON rm.run_id = n.id AND rm.name = {bind(metric_name)}"
        # ... through the dev perf the run's navigation shows (a deleted one's metrics are not the run's).
        where.append(
            "EXISTS (SELECT 1 FROM edges rd WHERE rd.from_id = n.id AND rd.kind = 'run_devperf'"
            " AND rd.gone = (n.deleted_at IS NOT NULL))"
        )
        metric_expr = "rm.value"
    else:
        source = "nodes n"
        metric_expr = "NULL"

    sort = {
        OrderField.CREATED_AT: "created_at",
        OrderField.NAME: "name",
        OrderField.METRIC: "m",
    }[q.order_by]
    outer: list[str] = []
    if q.order_by is OrderField.NAME:
        where.append("n.name IS NOT NULL")
    if q.metric is not None or q.order_by is OrderField.METRIC:
        outer.append("m IS NOT NULL")
    if q.metric is not None:
        for op, bound in q.metric.bounds():
            outer.append(f"m {op} {bind(bound)}")
    if q.after is not None:
        cmp = "<" if q.descending else ">"
        after = bind(q.after[0])
        outer.append(f"({sort} {cmp} {after} OR ({sort} = {after} AND id {cmp} {bind(q.after[1])}))")
    order = "DESC" if q.descending else "ASC"
    sql = (
        f"SELECT {sort} AS sv, {NODE_NAMES} FROM ("
        f" SELECT {NODE_COLUMNS}, {metric_expr} AS m FROM {source} WHERE {' AND '.join(where)}"
        f") {'WHERE ' + ' AND '.join(outer) if outer else ''}"
        f" ORDER BY sv {order}, id {order} LIMIT {bind(q.first + 1)}"
    )
    return sql, order


_COMPARE = {Op.EQ: "=", Op.LT: "<", Op.LTE: "<=", Op.GT: ">", Op.GTE: ">="}


def _compare(value: str, op: Op, operand: Any, bind: Params) -> str:
    """``value op operand`` for a text or number ``value`` known not to be NULL."""
    if op is Op.IN:
        return f"{value} IN ({', '.join(bind(v) for v in operand)})" if operand else "0"
    if op is Op.CONTAINS:
        return f"instr({value}, {bind(operand)}) > 0"
    if op is Op.STARTS_WITH:
        prefix = bind(operand)
        return f"substr({value}, 1, length({prefix})) = {prefix}"
    return f"{value} {_COMPARE[op]} {bind(operand)}"


def _attribute(alias: str, key: str, op: Op, operand: Any, bind: Params) -> str:
    """The attribute ``key`` is a JSON scalar equal to the operand (or one of them), as
    the ``attribute`` filter compares: a number with a number, a boolean with a boolean."""
    values = operand if op is Op.IN else (operand,)
    tests = []
    for value in values:
        if value is None:
            tests.append("where_attr.type = 'null'")
        elif isinstance(value, bool):
            tests.append("where_attr.type = 'true'" if value else "where_attr.type = 'false'")
        elif isinstance(value, (int, float)):
            tests.append(f"(where_attr.type IN ('integer', 'real') AND where_attr.atom = {bind(value)})")
        else:
            tests.append(f"(where_attr.type = 'text' AND where_attr.atom = {bind(value)})")
    test = " OR ".join(tests) or "0"
    return f"EXISTS (SELECT 1 FROM json_each({alias}.attributes) where_attr WHERE where_attr.key = {bind(key)} AND ({test}))"


def _comparison(t: Compare, alias: str, bind: Params) -> str:
    if t.subject is Subject.NAME:
        return f"({alias}.name IS NOT NULL AND {_compare(f'{alias}.name', t.op, t.value, bind)})"
    if t.subject is Subject.CREATED_AT:
        return _compare(f"{alias}.created_at", t.op, t.value, bind)
    if t.subject is Subject.TAG:
        return (
            "EXISTS (SELECT 1 FROM node_tags where_tag"
            f" WHERE where_tag.node_id = {alias}.id AND {_compare('where_tag.tag', t.op, t.value, bind)})"
        )
    if t.subject is Subject.ATTRIBUTE:
        assert t.key is not None
        return _attribute(alias, t.key, t.op, t.value, bind)
    assert t.key is not None
    if t.subject is Subject.METRIC:
        # The metric's name is a bound value too, quoted into the JSON path by SQLite.
        path = f"'$.metrics.' || json_quote({bind(t.key)})"
        value, kinds = f"json_extract({alias}.fields, {path})", "('integer', 'real')"
        return f"IFNULL(json_type({alias}.fields, {path}) IN {kinds} AND {_compare(value, t.op, t.value, bind)}, 0)"
    path = bind(f"$.{t.key}")
    value = f"json_extract({alias}.fields, {path})"
    if t.subject is Subject.CHOICE:
        # As the field answers: its text, or its default when absent or empty.
        chosen = f"coalesce(nullif(CASE WHEN json_type({alias}.fields, {path}) = 'text' THEN {value} END, ''), {bind(t.default)})"
        return f"IFNULL({_compare(chosen, t.op, t.value, bind)}, 0)"
    return f"IFNULL(json_type({alias}.fields, {path}) = 'text' AND {_compare(value, t.op, t.value, bind)}, 0)"


def where_sql(w: Where, alias: str, bind: Params, depth: int = 0) -> str:
    """The SQL condition that node ``alias`` matches ``w``: true or false, never NULL, so
    that NOT is the complement."""
    if isinstance(w, Compare):
        return _comparison(w, alias, bind)
    if isinstance(w, AllOf):
        return "(" + " AND ".join(where_sql(p, alias, bind, depth) for p in w.parts) + ")" if w.parts else "1"
    if isinstance(w, AnyOf):
        return "(" + " OR ".join(where_sql(p, alias, bind, depth) for p in w.parts) + ")" if w.parts else "0"
    if isinstance(w, NotOf):
        return f"NOT ({where_sql(w.part, alias, bind, depth)})"
    assert isinstance(w, Related)
    other, edge = f"where_node{depth + 1}", f"where_edge{depth + 1}"
    near, far = ("from_id", "to_id") if w.step is Step.OUT else ("to_id", "from_id")
    return (
        f"EXISTS (SELECT 1 FROM edges {edge} JOIN nodes {other} ON {other}.id = {edge}.{far}"
        f" WHERE {edge}.{near} = {alias}.id AND {edge}.kind = {bind(w.edge_kind)}"
        # Live edges of a live node; a deleted node's, all hidden with it, of a deleted one.
        f" AND {edge}.gone = ({alias}.deleted_at IS NOT NULL)"
        f" AND {where_sql(w.where, other, bind, depth + 1)})"
    )

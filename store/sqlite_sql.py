"""The SQL text the SQLite adapter shares between its reads and its compiled plans: the
lineage walk, the list query, and named placeholders for values. Text is assembled from
constants; every value is a placeholder."""

from __future__ import annotations

from typing import Any

from metagate.store.errors import BadUserInput
from metagate.store.model import LINEAGE_EDGE_KINDS, Direction, Step
from metagate.store.port import (
    METRIC_NAME,
    AllOf,
    AnyOf,
    Compare,
    ListQuery,
    NotOf,
    Op,
    OrderField,
    Related,
    Subject,
    Where,
    contains_pattern,
)

NODE_COLUMNS = "n.id, n.kind, n.name, n.scope, n.created_at, n.tags, n.attributes, n.fields"


class Params:
    """Named placeholders for a statement's values: ``bind(value)`` gives ``:pN``."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def __call__(self, value: Any) -> str:
        name = f"p{len(self.values)}"
        self.values[name] = value
        return f":{name}"


def follows(walker: str, step: Step) -> str:
    """The SQL condition that edge ``e`` is followed by a ``step`` from ``walker``'s
    node in ``walker``'s direction, spelt out from the direction table: constant text
    (no value of a request's), so that SQLite plans it once instead of joining a table
    of steps again for every row of the walk."""
    ways = []
    for direction in (Direction.UPSTREAM, Direction.DOWNSTREAM):
        kinds = ", ".join(f"'{e.name}'" for e in LINEAGE_EDGE_KINDS if e.step(direction) is step)
        ways.append(f"({walker}.dir = '{direction.value}' AND e.kind IN ({kinds}))")
    return f"({' OR '.join(ways)})"


# Lineage in one statement. The walk's rows are (node, direction, depth) only, so its
# UNION keeps one row per node and depth however many edges reach it (rows that carried
# the edge kept one per edge, and a node reached by N edges was expanded N times). The
# walk is breadth-first (ordered by depth) and stops at `cap` rows; when it was cut, only
# the levels before its deepest one are complete, and only those are answered from, so
# the answer is exact whenever it holds limit + 1 nodes (the caller widens the cap and
# asks again otherwise). Edges are those the walk follows between the nodes kept.
# `t` prefixes the names of the walk's tables (a statement may walk more than once) and
# `v` names the placeholders of its values: start, dirs, reach, cap, kinds, limit, depth.
def lineage_ctes(t: str, v: dict[str, str]) -> str:
    return f"""
  {t}walk(id, dir, depth) AS (
    SELECT {v["start"]}, value, 0 FROM json_each({v["dirs"]})
    UNION
    SELECT e.to_id, w.dir, w.depth + 1
      FROM {t}walk w JOIN edges e ON e.from_id = w.id
     WHERE w.depth < {v["reach"]} AND {follows("w", Step.OUT)}
    UNION
    SELECT e.from_id, w.dir, w.depth + 1
      FROM {t}walk w JOIN edges e ON e.to_id = w.id
     WHERE w.depth < {v["reach"]} AND {follows("w", Step.IN)}
    ORDER BY 3
    LIMIT {v["cap"]}
  ),
  {t}walked(rows, deepest) AS (
    SELECT count(*), max(depth) FROM {t}walk
  ),
  {t}best(id, dir, depth) AS (
    SELECT id, dir, MIN(depth) FROM {t}walk, {t}walked
     WHERE depth > 0 AND ({t}walked.rows < {v["cap"]} OR depth < {t}walked.deepest)
     GROUP BY id, dir
  ),
  {t}ranked(id, dir, depth, rn) AS (
    SELECT b.id, b.dir, b.depth, ROW_NUMBER() OVER (ORDER BY b.depth, n.kind, n.created_at, n.id)
      FROM {t}best b JOIN nodes n ON n.id = b.id
     WHERE {v["kinds"]} IS NULL OR n.kind IN (SELECT value FROM json_each({v["kinds"]}))
     ORDER BY 4
     LIMIT {v["limit"]} + 1
  ),
  -- Whole rows for the nodes answered only: the ranking sorts keys, not documents.
  {t}picked AS (
    SELECT r.depth, r.dir, r.rn, {NODE_COLUMNS} FROM {t}ranked r JOIN nodes n ON n.id = r.id
  ),
  {t}kept(id, dir, depth) AS (
    SELECT id, dir, depth FROM {t}picked WHERE rn <= {v["limit"]}
    UNION ALL
    SELECT {v["start"]}, value, 0 FROM json_each({v["dirs"]})
  ),
  {t}followed(kind, from_id, to_id, created_at) AS (
    SELECT e.kind, e.from_id, e.to_id, e.created_at
      FROM {t}kept k JOIN edges e ON e.from_id = k.id
     WHERE k.depth < {v["depth"]} AND {follows("k", Step.OUT)} AND e.to_id IN (SELECT id FROM {t}kept)
    UNION
    SELECT e.kind, e.from_id, e.to_id, e.created_at
      FROM {t}kept k JOIN edges e ON e.to_id = k.id
     WHERE k.depth < {v["depth"]} AND {follows("k", Step.IN)} AND e.from_id IN (SELECT id FROM {t}kept)
  )"""


LINEAGE_VALUES = ("start", "dirs", "reach", "cap", "kinds", "limit", "depth")


def list_source(q: ListQuery, bind: Params) -> tuple[str, str]:
    """Compiles a ListQuery into one SELECT of (sort value ``sv``, node columns...) in list
    order, at most ``first + 1`` rows; and that order's direction, ASC or DESC."""
    if not q.kinds:
        raise BadUserInput("a list needs at least one kind")
    where: list[str] = [f"n.kind IN ({', '.join(bind(k.value) for k in q.kinds)})"]

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
            "   ON e.from_id = r.id AND e.kind = 'run_model'"
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
        f"SELECT {sort} AS sv, id, kind, name, scope, created_at, tags, attributes, fields FROM ("
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
        f" AND {where_sql(w.where, other, bind, depth + 1)})"
    )

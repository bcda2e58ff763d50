"""The ArangoDB adapter's compiled read path without a server: the AQL text of
representative plans (snapshots under tests/snapshots/aql, rewritten with
METAGATE_UPDATE_SNAPSHOTS=1), bind-variable hygiene, WITH, the plan's size against
AQL's limits, and what Python finishes after the query."""

from __future__ import annotations

import base64
import datetime as dt
import difflib
import json
import os
import re
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metagate.store import arango_aql as aql
from metagate.store import arango_layout as layout
from metagate.store.arango import ArangoSettings, ArangoStore
from metagate.store.arango_compile import _Compiler, _cursor, compile_plan, finishing
from metagate.store.arango_layout import UNKNOWN_TIME
from metagate.store.model import Direction, Kind, Step, ValueType, format_time
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
    Selection,
    SummaryRoot,
    Typed,
    api_time,
    encode_cursor,
    encode_id,
)
from metagate.store.port import AttributeEquals, LineageQuery, ListQuery, MetricFilter, NameKey, OrderField
from tests.store.test_arango_aql import HOSTILE, KEYS, MARK, check

SNAPSHOTS = Path(__file__).parent.parent / "snapshots" / "aql"
UPDATE = os.environ.get("METAGATE_UPDATE_SNAPSHOTS") == "1"


# --------------------------------------------------------------------------------------
# Plans as the planner makes them, by hand.
# --------------------------------------------------------------------------------------


def base(*names: str) -> tuple[NodeField, ...]:
    return tuple(Base(name, name) for name in names)


def select(kind: Kind, *fields: NodeField) -> Selection:
    return Selection({kind: fields})


def per_kind(kinds: tuple[Kind, ...], common: tuple[NodeField, ...], **own: tuple[NodeField, ...]) -> Selection:
    """The same interface fields for every kind, and a kind's own (``... on Type``)."""
    return Selection({k: common + own.get(k.value, ()) for k in kinds})


def page(*parts: Const | Edges | Nodes | PageInfo, has_previous: bool = False) -> PageSelection:
    return PageSelection(parts, has_previous)


PAGE_INFO = PageInfo(
    "pageInfo",
    (
        ("hasNextPage", "hasNextPage"),
        ("hasPreviousPage", "hasPreviousPage"),
        ("startCursor", "startCursor"),
        ("endCursor", "endCursor"),
        ("__typename", "__typename"),
    ),
)
RMSE = Typed("rmse", "metrics", ValueType.METRIC, "rmse")


def nested_node() -> Plan:
    """node(id) of a model: its runs (a page), each run's dataset, its dev-perf's metric
    and its params: three levels of navigation."""
    run = select(
        Kind.RUN,
        *base("id", "name", "createdAt"),
        Typed("status", "status", ValueType.RUN_STATUS),
        Typed("startTime", "startTime", ValueType.TIME),
        Typed("deploymentTag", "deploymentTag", ValueType.TEXT),
        Follow("dataset", "run_dataset", Step.OUT, select(Kind.DATASET, *base("id", "name", "tags"))),
        Follow("devPerf", "run_devperf", Step.OUT, select(Kind.DEVPERF, *base("id"), RMSE)),
        Follow(
            "modelParams",
            "run_modelparams",
            Step.OUT,
            select(Kind.MODELPARAMS, Typed("params", "params", ValueType.JSON), *base("__typename")),
        ),
    )
    runs = page(
        Const("__typename", "RunConnection"),
        Edges("edges", (Cursor("cursor"), NodeAt("node", run))),
        PageInfo("pageInfo", (("hasNextPage", "hasNextPage"), ("endCursor", "endCursor"))),
    )
    model = (
        *base("__typename", "id", "kind", "name", "attributes"),
        Follow("project", "project_model", Step.IN, select(Kind.PROJECT, *base("name"))),
        FollowPage("runs", "run_model", Step.IN, 10, None, runs),
    )
    # ... on Model { ... } ... on Run { ... }: the id's kind chooses (a model's id here).
    chosen = Selection({Kind.MODEL: model, Kind.RUN: base("__typename", "id") + (Typed("tag", "tag", ValueType.TEXT),)})
    return Plan((NodeRoot("node", "model/m1", chosen),))


def nodes_by_ids() -> Plan:
    kinds = (Kind.DATASET, Kind.RUN, Kind.MODEL)
    chosen = per_kind(
        kinds,
        base("__typename", "id", "name"),
        run=(Typed("status", "status", ValueType.RUN_STATUS),),
        model=(Follow("project", "project_model", Step.IN, select(Kind.PROJECT, *base("id", "name"))),),
    )
    return Plan((NodesRoot("nodes", ("run/r1", "model/m1", "dataset/d1", "run/missing"), chosen),))


def named_in_scope() -> Plan:
    run = select(Kind.RUN, *base("id", "name"), Typed("tag", "tag", ValueType.TEXT))
    return Plan((NamedRoot("run", NameKey(Kind.RUN, "nightly", "model/m1"), run),))


def runs_by_metric() -> Plan:
    query = ListQuery(
        kinds=(Kind.RUN,),
        metric=MetricFilter("rmse", lt=0.5),
        order_by=OrderField.METRIC,
        order_metric="rmse",
        descending=False,
        first=5,
        after=(0.25, "run/r9"),
    )
    run = select(Kind.RUN, *base("id", "name"), Follow("devPerf", "run_devperf", Step.OUT, select(Kind.DEVPERF, RMSE)))
    chosen = page(Edges("edges", (Cursor("cursor"), NodeAt("node", run))), PAGE_INFO, has_previous=True)
    return Plan((ListRoot("runs", query, chosen),))


def search_all_kinds() -> Plan:
    kinds = tuple(Kind)
    query = ListQuery(kinds=kinds, name_contains="fraud", tag="prod", first=20)
    chosen = per_kind(
        kinds,
        base("__typename", "id", "kind", "name", "createdAt"),
        deployment=(Typed("tag", "tag", ValueType.TEXT),),
        run=(Typed("deploymentTag", "deploymentTag", ValueType.TEXT),),
    )
    return Plan(
        (ListRoot("search", query, page(Nodes("nodes", chosen), PageInfo("pageInfo", (("hasNextPage", "hasNextPage"),)))),)
    )


def lineage_upstream() -> Plan:
    kinds = (Kind.DATASET, Kind.RUN)
    query = LineageQuery("deployment/d1", Direction.UPSTREAM, 5, 50, kinds)
    entry = LineageNodes(
        "nodes",
        (
            NodeAt("node", per_kind(kinds, base("__typename", "id", "name"))),
            ("depth", "depth"),
            ("direction", "direction"),
            Const("__typename", "LineageNode"),
        ),
    )
    edge = LineageEdges(
        "edges",
        (
            ("id", "id"),
            ("kind", "kind"),
            ("from", "from"),
            ("to", "to"),
            ("createdAt", "createdAt"),
            Const("__typename", "LineageEdge"),
        ),
    )
    fields = (
        NodeAt("root", select(Kind.DEPLOYMENT, *base("id", "name"))),
        entry,
        edge,
        ("truncated", "truncated"),
        Const("__typename", "Lineage"),
    )
    return Plan((LineageRoot("lineage", query, False, fields),))


def lineage_both() -> Plan:
    query = LineageQuery("run/r1", Direction.BOTH, 50, 1000, None)
    entry = LineageNodes("nodes", (("depth", "depth"), NodeAt("node", per_kind(tuple(Kind), base("id", "kind")))))
    return Plan((LineageRoot("lineage", query, True, (entry, ("truncated", "truncated"))),))


def project_summary() -> Plan:
    fields = (
        NodeAt("project", select(Kind.PROJECT, *base("id", "name"))),
        *((name, name) for name in ("models", "runs", "datasets", "featuresets", "deployments")),
        Const("__typename", "ProjectSummary"),
    )
    return Plan((SummaryRoot("projectSummary", "project/p1", fields),))


def two_roots() -> Plan:
    dataset = select(Kind.DATASET, *base("id", "name"))
    return Plan(
        (
            Const("__typename", "Query"),
            NodeRoot("first", "dataset/d1", dataset),
            NamedRoot("second", NameKey(Kind.DATASET, "raw", None), dataset),
        )
    )


def serving_page_after() -> Plan:
    perf = select(
        Kind.SERVINGPERF,
        *base("id"),
        Typed("periodStart", "periodStart", ValueType.TIME),
        Typed("metrics", "metrics", ValueType.JSON),
        Follow("deployment", "deployment_servingperf", Step.IN, select(Kind.DEPLOYMENT, *base("name"))),
    )
    after = ("2026-11-02T00:00:00.000000Z", "servingperf/s7")
    served = FollowPage(
        "servingPerf", "deployment_servingperf", Step.OUT, 3, after, page(Nodes("nodes", perf), PAGE_INFO, has_previous=True)
    )
    deployment = select(Kind.DEPLOYMENT, *base("id"), Typed("tag", "tag", ValueType.TEXT), served)
    return Plan((NodeRoot("deployment", "deployment/d1", deployment),))


PLANS = {
    "nested_node": nested_node,
    "nodes_by_ids": nodes_by_ids,
    "named_in_scope": named_in_scope,
    "runs_by_metric": runs_by_metric,
    "search_all_kinds": search_all_kinds,
    "lineage_upstream": lineage_upstream,
    "lineage_both": lineage_both,
    "project_summary": project_summary,
    "two_roots": two_roots,
    "serving_page_after": serving_page_after,
}


# --------------------------------------------------------------------------------------
# Checks every compiled query passes.
# --------------------------------------------------------------------------------------


def balanced(text: str) -> bool:
    """Brackets balance outside string literals: the cheapest check that the text has
    the shape of a query."""
    pairs = {")": "(", "]": "[", "}": "{"}
    stack: list[str] = []
    quote = None
    escaped = False
    for c in text:
        if quote:
            escaped, quote = (False, quote) if escaped else (c == "\\", None if c == quote else quote)
        elif c in "\"'":
            quote = c
        elif c in "([{":
            stack.append(c)
        elif c in pairs and (not stack or stack.pop() != pairs[c]):
            return False
    return not stack and quote is None


def well_formed(query: aql.Query) -> None:
    assert balanced(query.text), query.text
    check(query)  # every placeholder bound, every bind variable used, no MARK


@pytest.mark.parametrize("name", sorted(PLANS))
def test_the_aql_of_a_plan_is_its_snapshot(name: str) -> None:
    query = compile_plan(PLANS[name]())
    well_formed(query)
    path = SNAPSHOTS / f"{name}.aql"
    if UPDATE and (not path.exists() or path.read_text() != query.text):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(query.text)
    assert path.exists(), f"no snapshot {path}: run with METAGATE_UPDATE_SNAPSHOTS=1 to write it"
    expected = path.read_text()
    if expected != query.text:
        # One token a line: the statements are long.
        diff = difflib.unified_diff(expected.split(" "), query.text.split(" "), "snapshot", "compiled", lineterm="")
        pytest.fail(f"{path.name} differs (METAGATE_UPDATE_SNAPSHOTS=1 rewrites it):\n" + "\n".join(diff))


def test_every_query_that_reads_the_graph_names_every_vertex_collection_first() -> None:
    for name, plan in PLANS.items():
        text = compile_plan(plan()).text
        if re.search(r" IN 1\.\.", text) or "DOCUMENT(" in text:
            first = text.split("\n", 1)[0]
            assert first.startswith("WITH "), name
            assert set(first.removeprefix("WITH ").split(", ")) == set(layout.VERTEX_COLLECTIONS.values()), name
    assert compile_plan(Plan((Const("__typename", "Query"),))).text.startswith("RETURN ")


def test_a_node_of_a_kind_the_selection_cannot_hold_is_not_answered() -> None:
    query = compile_plan(Plan((NodeRoot("node", "run/r1", select(Kind.MODEL, *base("id"))),)))
    assert "FILTER n2 != null RETURN null)" in query.text
    assert query.text.endswith("RETURN {ok: s1 != null, data: {[@v1]: s1}}")


def test_the_answer_keeps_the_plans_keys_in_order_and_checks_what_needs_an_error() -> None:
    query = compile_plan(two_roots())
    statements = query.text.split("\n")
    assert statements[-1].startswith("RETURN {ok: s")
    # The look-up by name reads two matches at most: one is an answer, two an error.
    assert "SORT d.createdAt, d._key LIMIT 2 RETURN d" in query.text
    keys = [query.bind[name[1:]] for name in re.findall(r"\[(@v\d+)\]: ", statements[-1])]
    assert keys == ["__typename", "first", "second"]


# --------------------------------------------------------------------------------------
# Bind-variable hygiene: every value of a plan travels as a bind variable.
# --------------------------------------------------------------------------------------


def hostile_plan(h: list[str], key: str) -> Plan:
    run = select(
        Kind.RUN,
        Base(h[0], "id"),
        Typed(h[1], "status", ValueType.RUN_STATUS),
        Const(h[2], h[3]),
        Follow(h[4], "run_devperf", Step.OUT, select(Kind.DEVPERF, Typed(h[5], "metrics", ValueType.METRIC, h[6]))),
    )
    runs = FollowPage(
        h[7],
        "run_model",
        Step.IN,
        3,
        (h[8], f"run/{h[9]}"),
        page(Edges(h[10], (Cursor(h[11]), NodeAt(h[12], run))), PageInfo(h[13], ((h[14], "endCursor"),)), has_previous=True),
    )
    model = select(Kind.MODEL, Base(h[15], "name"), runs)
    query = ListQuery(
        kinds=(Kind.RUN, Kind.MODEL),
        name=h[16],
        name_contains=h[17],
        scope=h[18],
        tag=h[19],
        attribute=AttributeEquals(h[20], h[21]),
        created_after=h[22],
        deployment_tag=h[23],
        after=(h[24], f"run/{h[24]}"),
    )
    listed = ListRoot(
        h[25], query, page(Nodes(h[26], Selection({Kind.RUN: run.by_kind[Kind.RUN], Kind.MODEL: model.by_kind[Kind.MODEL]})))
    )
    metric = ListQuery(
        kinds=(Kind.RUN,), metric=MetricFilter(h[27], gt=0.1), order_by=OrderField.METRIC, after=(0.5, f"run/{h[27]}")
    )
    lineage = LineageRoot(
        h[28],
        LineageQuery(f"dataset/{key}{h[29]}", Direction.BOTH, 3, 10, (Kind.RUN,)),
        False,
        (
            NodeAt(h[30], select(Kind.DATASET, Base(h[31], "name"))),
            LineageNodes(h[32], (NodeAt(h[33], run), (h[34], "depth"), Const(h[35], h[36]))),
            LineageEdges(h[37], ((h[38], "id"), Const(h[39], h[40]))),
            (h[41], "truncated"),
        ),
    )
    summary = SummaryRoot(h[42], f"project/{h[43]}", (NodeAt(h[44], select(Kind.PROJECT, Base(h[45], "id"))), (h[46], "runs")))
    return Plan(
        (
            Const(h[47], h[48]),
            NodeRoot(h[49], f"model/{key}{h[50]}", model),
            NodesRoot(h[51], (f"run/{h[52]}", f"model/{h[53]}"), Selection({**run.by_kind, **model.by_kind})),
            NamedRoot(h[54], NameKey(Kind.MODEL, h[55], f"project/{h[56]}"), model),
            listed,
            ListRoot(h[57], metric, page(Edges(h[58], (Cursor(h[59]),)))),
            lineage,
            summary,
        )
    )


HOSTILE_VALUES = 60


@settings(max_examples=40, deadline=None)
@given(h=st.lists(HOSTILE, min_size=HOSTILE_VALUES, max_size=HOSTILE_VALUES, unique=True), key=KEYS)
def test_every_value_of_a_plan_travels_as_a_bind_variable(h: list[str], key: str) -> None:
    query = compile_plan(hostile_plan(h, key))
    assert balanced(query.text)
    # The LIKE pattern carries name_contains escaped; the rest travel as they are.
    carried = [v for i, v in enumerate(h) if i != 17]
    check(query, *carried)
    assert MARK not in query.text


def test_a_hostile_plan_names_every_value_it_was_given() -> None:
    h = [f"{MARK}{i}" for i in range(HOSTILE_VALUES)]
    query = compile_plan(hostile_plan(h, "k"))
    bound = orjson.dumps(query.bind).decode()
    assert all(f'{value}"' in bound for value in h if value != h[17])


# --------------------------------------------------------------------------------------
# AQL's limits: 1,000 registers and 4,000 execution nodes in the initial plan.
# --------------------------------------------------------------------------------------


def _count(pattern: str, text: str) -> int:
    return len(re.findall(pattern, text))


SUBQUERY = re.compile(r"\((?=(?:FOR|LET|FILTER|RETURN) )")


def _own(text: str) -> int:
    """The registers a scope's own text (its subqueries cut out) needs, counted high:
    every variable its FORs (a traversal's three) and LETs declare, and a temporary for
    each FILTER, SORT key and RETURN expression."""
    fors = sum(m.count(",") + 1 for m in re.findall(r"\bFOR (\w+(?:, \w+){0,2}) IN\b", text))
    lets = _count(r"\bLET \w+ =", text)
    sort_keys = sum(clause.count(",") + 1 for clause in re.findall(r"\bSORT (.*?)(?= LIMIT| RETURN|$)", text))
    return fors + lets + _count(r"\bFILTER\b", text) + sort_keys + _count(r"\bRETURN\b", text)


def registers(text: str) -> int:
    """Registers, as AQL plans them: a scope needs its own, one for each subquery's
    result, and the most any one of its subqueries needs (a finished subquery's
    registers are reused, AQL's register planning since 3.7)."""
    scopes: list[tuple[list[str], list[int]]] = [([], [])]  # (own text, subqueries' needs)
    depth: list[int] = []  # the paren depth at which each open subquery started
    level = 0
    for i, c in enumerate(text):
        if c == "(":
            level += 1
            if SUBQUERY.match(text, i):
                depth.append(level)
                scopes.append(([], []))
                continue
        elif c == ")":
            if depth and depth[-1] == level:
                depth.pop()
                own, inner = scopes.pop()
                scopes[-1][1].append(_own("".join(own)) + len(inner) + max(inner, default=0))
                level -= 1
                continue
            level -= 1
        scopes[-1][0].append(c)
    [(own, inner)] = scopes
    return _own("".join(own)) + len(inner) + max(inner, default=0)


def variables(text: str) -> int:
    """Every variable the text declares and every subquery's result, none reused: the
    count of FOR and LET the limit is about, at its most pessimistic."""
    declared = sum(m.count(",") + 1 for m in re.findall(r"\bFOR (\w+(?:, \w+){0,2}) IN\b", text))
    return declared + _count(r"\bLET \w+ =", text) + len(SUBQUERY.findall(text))


def nodes(text: str) -> int:
    """Execution nodes of the initial plan, counted high: a FOR is a loop and its input's
    calculation, a subquery its start, end and singleton nodes, a LET a calculation,
    FILTER and RETURN a calculation and a node each, SORT a calculation per key and a
    node, LIMIT a node."""
    fors = _count(r"\bFOR \w+(?:, \w+){0,2} IN\b", text)
    lets = _count(r"\bLET \w+ =", text)
    filters, sorts, limits, returns = (_count(rf"\b{k}\b", text) for k in ("FILTER", "SORT", "LIMIT", "RETURN"))
    sort_keys = sum(clause.count(",") + 1 for clause in re.findall(r"\bSORT (.*?)(?= LIMIT| RETURN|$)", text))
    return 2 * fors + 3 * len(SUBQUERY.findall(text)) + lets + 2 * filters + sort_keys + sorts + limits + 2 * returns


def wide_plan(roots: int, navigation: int) -> Plan:
    """``roots`` aliased node(id) roots, each with ``navigation`` navigation fields."""
    follows = (
        Follow("dataset", "run_dataset", Step.OUT, select(Kind.DATASET, *base("id", "name"))),
        Follow("featureset", "run_featureset", Step.OUT, select(Kind.FEATURESET, *base("id", "name"))),
        Follow("modelParams", "run_modelparams", Step.OUT, select(Kind.MODELPARAMS, *base("id"))),
        Follow("devPerf", "run_devperf", Step.OUT, select(Kind.DEVPERF, RMSE)),
        Follow("model", "run_model", Step.OUT, select(Kind.MODEL, *base("id", "name"))),
    )
    run = select(Kind.RUN, *base("id", "name"), *follows[:navigation])
    return Plan(tuple(NodeRoot(f"r{i}", f"run/r{i}", run) for i in range(roots)))


def test_thirty_roots_of_five_navigation_fields_stay_within_the_plan_limits() -> None:
    text = compile_plan(wide_plan(30, 5)).text
    well_formed(compile_plan(wide_plan(30, 5)))
    assert variables(text) < 1000, variables(text)
    assert registers(text) < 1000, registers(text)
    assert nodes(text) < 4000, nodes(text)
    # Each root adds the same: the counts grow linearly with the roots.
    one, two = (compile_plan(wide_plan(n, 5)).text for n in (1, 2))
    for count in (variables, nodes):
        assert count(text) == count(one) + 29 * (count(two) - count(one))


def test_the_counts_count_what_the_text_declares() -> None:
    text = "LET a = (FOR v, e, p IN 1..2 OUTBOUND @s @@c FILTER v != null SORT v.x, v.y LIMIT 3 RETURN v) RETURN a"
    # The subquery: three traversal variables, a FILTER, two sort keys, a RETURN; the
    # top: a, the subquery's result, a RETURN.
    assert registers(text) == (1 + 1 + 1) + (3 + 1 + 2 + 1)
    assert variables(text) == 3 + 1 + 1
    assert nodes(text) == 2 + 3 + 1 + 2 + 2 + 1 + 1 + 4
    # Two sibling subqueries reuse registers; a nested one adds to its parent's.
    sibling = "LET a = (FOR x IN @l RETURN x) LET b = (FOR y IN @l RETURN y) RETURN [a, b]"
    nested = "LET a = (FOR x IN @l RETURN (FOR y IN x RETURN y)) RETURN a"
    assert registers(sibling) == (2 + 1 + 2) + 2
    assert registers(nested) == (1 + 1 + 1) + (1 + 1 + 1) + 2


# --------------------------------------------------------------------------------------
# What Python finishes after the query.
# --------------------------------------------------------------------------------------


def test_metrics_become_floats_and_metric_cursors_are_encoded_as_the_executor_encodes_them() -> None:
    finish = finishing(runs_by_metric())
    assert finish is not None
    data: dict[str, Any] = {
        "runs": {
            "edges": [
                {"cursor": [3, "run/a"], "node": {"id": "x", "name": "a", "devPerf": {"rmse": 3}}},
                {"cursor": [0.25, "run/b"], "node": {"id": "y", "name": None, "devPerf": None}},
                {"cursor": [1e16, "run/c"], "node": {"id": "z", "name": "c", "devPerf": {"rmse": None}}},
            ],
            "pageInfo": {
                "hasNextPage": True,
                "hasPreviousPage": True,
                "startCursor": [3, "run/a"],
                "endCursor": [1e16, "run/c"],
                "__typename": "PageInfo",
            },
        }
    }
    finished = finish(data)
    edges = finished["runs"]["edges"]
    assert [e["cursor"] for e in edges] == [
        encode_cursor((3, "run/a")),
        encode_cursor((0.25, "run/b")),
        encode_cursor((1e16, "run/c")),
    ]
    assert orjson.dumps(edges[0]["node"]["devPerf"]) == b'{"rmse":3.0}'
    assert edges[1]["node"]["devPerf"] is None and edges[2]["node"]["devPerf"] == {"rmse": None}
    info = finished["runs"]["pageInfo"]
    assert (info["startCursor"], info["endCursor"]) == (edges[0]["cursor"], edges[2]["cursor"])
    assert info["hasNextPage"] is True  # a bool is not a number to finish


def test_a_plan_without_metrics_needs_no_finishing() -> None:
    assert finishing(search_all_kinds()) is None
    assert finishing(lineage_upstream()) is None
    assert finishing(nested_node()) is not None  # its runs' dev-perf metric


def test_metrics_are_floats_wherever_the_plan_nests_them() -> None:
    data = {"node": {"runs": {"edges": [{"cursor": "c", "node": {"devPerf": {"id": "d", "rmse": 2}}}]}}}
    finish = finishing(nested_node())
    assert finish is not None
    finished = finish(data)
    assert orjson.dumps(finished) == b'{"node":{"runs":{"edges":[{"cursor":"c","node":{"devPerf":{"id":"d","rmse":2.0}}}]}}}'


# --------------------------------------------------------------------------------------
# ArangoStore.answer: one round trip, data only when ok.
# --------------------------------------------------------------------------------------


class _Reader:
    def __init__(self, result: Any) -> None:
        self.result = result
        self.queries: list[aql.Query] = []

    async def one(self, query: aql.Query) -> Any:
        self.queries.append(query)
        return self.result


def _store(reader: _Reader) -> ArangoStore:
    store = ArangoStore(ArangoSettings("http://localhost:8529", "metagate", "root", ""))
    store._reader = lambda: reader  # type: ignore[assignment,return-value]
    return store


async def test_answer_sends_one_query_and_gives_data_only_when_ok() -> None:
    plan = runs_by_metric()
    data = {"runs": {"edges": [{"cursor": [1, "run/a"], "node": {"id": "x", "name": "a", "devPerf": {"rmse": 1}}}]}}
    reader = _Reader({"ok": True, "data": data})
    answered = await _store(reader).answer(plan)
    assert reader.queries == [compile_plan(plan)]
    assert answered == {
        "runs": {"edges": [{"cursor": encode_cursor((1, "run/a")), "node": {"id": "x", "name": "a", "devPerf": {"rmse": 1.0}}}]}
    }
    assert await _store(_Reader({"ok": False, "data": {"runs": None}})).answer(plan) is None


async def test_a_plan_the_store_refuses_is_left_to_the_executor() -> None:
    refused = ListQuery(kinds=(), first=5)
    reader = _Reader(None)
    assert await _store(reader).answer(Plan((ListRoot("x", refused, page()),))) is None
    assert reader.queries == []


# --------------------------------------------------------------------------------------
# The encodings' AQL, evaluated by a small interpreter of the functions they call (as
# ArangoDB 3.12 documents them), against the executor's encodings.
# --------------------------------------------------------------------------------------

_TOKEN = re.compile(r'\s*(?:("(?:[^"\\]|\\.)*")|(@\w+)|([A-Za-z_][\w.]*)|(\d+)|(==|\|\||[()\[\],?:]))')


def _aql_functions() -> dict[str, Any]:
    def substitute(value: str, search: list[str], replace: list[str]) -> str:
        for i, s in enumerate(search):
            value = value.replace(s, replace[i] if i < len(replace) else "")
        return value

    return {
        "CONCAT": lambda *parts: "".join("" if p is None else str(p) for p in parts),
        "LEFT": lambda value, n: value[:n],
        "SUBSTRING": lambda value, offset, length: value[offset : offset + length],
        "TO_BASE64": lambda value: base64.b64encode(value.encode()).decode(),
        "SUBSTITUTE": substitute,
        # Compact, "/" unescaped, non-ASCII as it is (velocypack's Dumper).
        "JSON_STRINGIFY": lambda value: json.dumps(value, separators=(",", ":"), ensure_ascii=False),
        "NOT_NULL": lambda *values: next((v for v in values if v is not None), None),
    }


def evaluate(text: str, variables: dict[str, Any], bind: dict[str, Any]) -> Any:
    """The value of an AQL expression made of string and number literals, arrays,
    variables and their attributes, bind values, ``==``, ``||``, ``? :`` and the
    functions above."""
    tokens = [next(g for g in m.groups() if g is not None) for m in _TOKEN.finditer(text)]
    assert "".join(tokens) == re.sub(r"\s+", "", text), text  # every character read
    functions = _aql_functions()
    at = 0

    def take(expected: str | None = None) -> str:
        nonlocal at
        token = tokens[at]
        assert expected is None or token == expected, (token, expected)
        at += 1
        return token

    def items(close: str) -> list[Any]:
        out: list[Any] = []
        while tokens[at] != close:
            out.append(expression())
            if tokens[at] == ",":
                take(",")
        take(close)
        return out

    def primary() -> Any:
        token = take()
        if token.startswith('"'):
            return json.loads(token)
        if token.startswith("@"):
            return bind[token[1:]]
        if token.isdigit():
            return int(token)
        if token == "(":
            value = expression()
            take(")")
            return value
        if token == "[":
            return items("]")
        if tokens[at] == "(":
            take("(")
            return functions[token](*items(")"))
        name, *path = token.split(".")
        value = variables[name]
        for attribute in path:
            value = value.get(attribute) if isinstance(value, dict) else None
        return value

    def either() -> Any:
        value = primary()
        while at < len(tokens) and tokens[at] == "||":
            take("||")
            other = primary()
            value = value if value else other
        return value

    def expression() -> Any:
        value = either()
        if at < len(tokens) and tokens[at] == "==":
            take("==")
            value = value == either()
        if at < len(tokens) and tokens[at] == "?":
            take("?")
            yes = expression()
            take(":")
            no = expression()
            value = yes if value else no
        return value

    value = expression()
    assert at == len(tokens), tokens[at:]
    return value


TIMES = st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31)).map(lambda t: t.replace(tzinfo=dt.UTC))


@settings(max_examples=200, deadline=None)
@given(
    key=st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEF0123456789_-:.@()+,=;$!*'%", min_size=1, max_size=40),
    kind=st.sampled_from(list(Kind)),
    time=TIMES | TIMES.map(lambda t: t.replace(microsecond=0)),
)
def test_ids_times_and_cursors_are_encoded_as_the_executor_encodes_them(key: str, kind: Kind, time: dt.datetime) -> None:
    compiler = _Compiler()
    stored = format_time(time)
    doc = {"_key": key, "createdAt": stored}
    node_id = f"{kind.value}/{key}"

    def value(text: str) -> Any:
        return evaluate(text, {"d": doc}, compiler.b.bind)

    assert value(compiler.base("d", kind, "id")) == encode_id(node_id)
    assert value(compiler.base("d", kind, "createdAt")) == api_time(stored) == time.isoformat()
    assert value(_cursor("d.createdAt", compiler.node_id(kind, "d._key"))) == encode_cursor((stored, node_id))
    # A document Arangopipe wrote has no createdAt: its node reports the epoch.
    assert evaluate(compiler.base("d", kind, "createdAt"), {"d": {"_key": key}}, compiler.b.bind) == api_time(UNKNOWN_TIME)

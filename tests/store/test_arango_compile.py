"""The ArangoDB adapter's compiled read path without a server: the AQL text of
representative plans (snapshots under tests/snapshots/aql, rewritten with
METAGATE_UPDATE_SNAPSHOTS=1), bind-variable hygiene, WITH, the plan's size against
AQL's limits, what Python finishes after the query, when the executor answers instead
(too large a plan, a server that refuses it or predates 3.12.1), and the encodings,
orders and cursors of the AQL (the compiled path's and the executor's) evaluated by a
small interpreter."""

from __future__ import annotations

import base64
import datetime as dt
import difflib
import functools
import json
import os
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest
from arangoasync.exceptions import AQLQueryExecuteError
from arangoasync.request import Method, Request
from arangoasync.response import Response
from hypothesis import given, settings
from hypothesis import strategies as st

from metagate.store import arango as arango_module
from metagate.store import arango_aql as aql
from metagate.store import arango_layout as layout
from metagate.store.arango import ArangoSettings, ArangoStore, _Runner, compiled_reads_supported
from metagate.store.arango_compile import MAX_EXECUTION_NODES, _Compiler, _cursor, compile_plan, execution_nodes, finishing
from metagate.store.arango_layout import UNKNOWN_TIME
from metagate.store.model import EDGE_KINDS, KINDS, Direction, Kind, Node, Step, ValueType, format_time
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
from metagate.store.port import AttributeEquals, LineageQuery, ListQuery, MetricFilter, NameKey, NeighborRequest, OrderField
from tests.store.test_arango_aql import HOSTILE, KEYS, MARK, check, hostile_where

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
        Const("__typename", "PageInfo"),
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


def runs_where() -> Plan:
    """A list whose where tests every kind of value, with neighbours two steps away."""
    query = ListQuery(kinds=(Kind.RUN,), where=hostile_where([f"v{i}" for i in range(10)]), first=10)
    return Plan((ListRoot("runs", query, page(Nodes("nodes", select(Kind.RUN, *base("name"))))),))


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


def datasets_by_name_after() -> Plan:
    """A list by name after a cursor: names and ids ordered by code point (TO_HEX)."""
    query = ListQuery(kinds=(Kind.DATASET,), order_by=OrderField.NAME, descending=True, first=4, after=("raw", "dataset/d9"))
    chosen = page(Edges("edges", (Cursor("cursor"), NodeAt("node", select(Kind.DATASET, *base("id", "name"))))), PAGE_INFO)
    return Plan((ListRoot("datasets", query, chosen),))


def runs_after_a_cursor_of_another_kind() -> Plan:
    """A model's runs after a cursor whose id is not a run's: every run's id compares
    with it the same way, a constant bound as the plan compiles."""
    runs = FollowPage(
        "runs",
        "run_model",
        Step.IN,
        2,
        ("2026-11-02T00:00:00.000000Z", "zzz"),
        page(Nodes("nodes", select(Kind.RUN, *base("id")))),
    )
    return Plan((NodeRoot("model", "model/m1", select(Kind.MODEL, *base("id"), runs)),))


def lineage_with_deleted() -> Plan:
    """A lineage through deleted nodes too (includeDeleted): every edge walked, hidden or
    not, and each node's deletedAt and reason."""
    query = LineageQuery("run/r1", Direction.BOTH, 3, 20, None, include_deleted=True)
    entry = LineageNodes("nodes", (NodeAt("node", per_kind(tuple(Kind), base("id", "deletedAt", "deletedReason"))),))
    edge = LineageEdges("edges", (("from", "from"), ("to", "to")))
    return Plan((LineageRoot("lineage", query, False, (entry, edge)),))


def deleted_runs_listed() -> Plan:
    """A model's runs by deployment tag, deleted ones too: the tag and scope read where a
    deleted run keeps them, and each run's model along its live edges, or a deleted
    run's along its hidden ones."""
    query = ListQuery(kinds=(Kind.RUN,), scope="model/m1", deployment_tag="prod", first=5, include_deleted=True)
    run = select(
        Kind.RUN,
        *base("id", "deletedAt", "deletedReason"),
        Typed("deploymentTag", "deploymentTag", ValueType.TEXT),
        Follow("model", "run_model", Step.OUT, select(Kind.MODEL, *base("id", "deletedAt"))),
    )
    return Plan((ListRoot("runs", query, page(Nodes("nodes", run))),))


def model_zoo() -> Plan:
    """The model zoo: listed versions whose model and run's dev perf match, with their
    model, run and deployments' latest serving perf (the planner's plan of the query)."""
    from tests.store.test_sqlite_compile import OPERATIONS, plan_of

    return plan_of(*OPERATIONS["model_zoo"])


def pending_jobs() -> Plan:
    """An executor's look-up of work: pending train jobs, oldest first."""
    from tests.store.test_sqlite_compile import OPERATIONS, plan_of

    return plan_of(*OPERATIONS["pending_jobs"])


def node_as_of() -> Plan:
    """node(id, asOf:) of a deployment: its state then, and its model's runs (a page) and
    version along the edges that stood then (the planner's plan of the query)."""
    from tests.store.test_sqlite_compile import OPERATIONS, plan_of

    return plan_of(*OPERATIONS["node_as_of"])


def lineage_as_of() -> Plan:
    """lineage(id, asOf:): the walk as of then, each node's tags, attributes and deletion
    then, a run's model as of then, and the edges that stood then."""
    from tests.store.test_sqlite_compile import OPERATIONS, plan_of

    return plan_of(*OPERATIONS["lineage_as_of"])


PLANS = {
    "model_zoo": model_zoo,
    "node_as_of": node_as_of,
    "lineage_as_of": lineage_as_of,
    "pending_jobs": pending_jobs,
    "nested_node": nested_node,
    "nodes_by_ids": nodes_by_ids,
    "named_in_scope": named_in_scope,
    "runs_by_metric": runs_by_metric,
    "runs_where": runs_where,
    "search_all_kinds": search_all_kinds,
    "lineage_upstream": lineage_upstream,
    "lineage_both": lineage_both,
    "project_summary": project_summary,
    "two_roots": two_roots,
    "serving_page_after": serving_page_after,
    "datasets_by_name_after": datasets_by_name_after,
    "runs_after_a_cursor_of_another_kind": runs_after_a_cursor_of_another_kind,
    "lineage_with_deleted": lineage_with_deleted,
    "deleted_runs_listed": deleted_runs_listed,
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
        include_deleted=True,
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
    assert execution_nodes(text) < MAX_EXECUTION_NODES, execution_nodes(text)
    # Each root adds the same: the counts grow linearly with the roots.
    one, two = (compile_plan(wide_plan(n, 5)).text for n in (1, 2))
    for count in (variables, execution_nodes):
        assert count(text) == count(one) + 29 * (count(two) - count(one))


def test_the_counts_count_what_the_text_declares() -> None:
    text = "LET a = (FOR v, e, p IN 1..2 OUTBOUND @s @@c FILTER v != null SORT v.x, v.y LIMIT 3 RETURN v) RETURN a"
    # The subquery: three traversal variables, a FILTER, two sort keys, a RETURN; the
    # top: a, the subquery's result, a RETURN.
    assert registers(text) == (1 + 1 + 1) + (3 + 1 + 2 + 1)
    assert variables(text) == 3 + 1 + 1
    # The top's singleton; the subquery's start, end and singleton; a; the traversal and
    # its start's calculation; FILTER, SORT and RETURN with their calculations; LIMIT.
    assert execution_nodes(text) == 1 + 3 + 1 + 2 + 2 + (1 + 2) + 1 + 2 + 2
    # The singleton, RETURN, the subquery, FOR, a SORT of one key (the comma is inside
    # its call), RETURN; the words of a string literal are not read.
    assert execution_nodes('RETURN (FOR x IN @l SORT TO_HEX(CONCAT(x.a, x.b)) RETURN "FOR (LET")') == (
        1 + 2 + 3 + 2 + (1 + 1) + 2
    )
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
    # The sort value is a Float, as SQLite and the executor give it: 3.0, not 3.
    assert [e["cursor"] for e in edges] == [
        encode_cursor((3.0, "run/a")),
        encode_cursor((0.25, "run/b")),
        encode_cursor((1e16, "run/c")),
    ]
    assert _unb64(edges[0]["cursor"]) == b'[3.0,"run/a"]'
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


class _Reader(_Runner):
    """The store's reader, its queries answered by ``result`` instead of a server."""

    def __init__(self, result: Any) -> None:
        self.result = result
        self.queries: list[aql.Query] = []

    async def one(self, query: aql.Query, **_: Any) -> Any:
        self.queries.append(query)
        return self.result


def _store(reader: Any) -> ArangoStore:
    """A store that reads through ``reader``, open on a server that has the compiled
    path (3.12.1 or later)."""
    store = ArangoStore(ArangoSettings("http://localhost:8529", "metagate", "root", ""))
    store._reader = lambda: reader  # type: ignore[method-assign]
    store.compiled_reads = True
    reader.store = store
    return store


async def test_answer_sends_one_query_and_gives_data_only_when_ok() -> None:
    plan = runs_by_metric()
    data = {"runs": {"edges": [{"cursor": [1, "run/a"], "node": {"id": "x", "name": "a", "devPerf": {"rmse": 1}}}]}}
    reader = _Reader({"ok": True, "data": data})
    answered = await _store(reader).answer(plan)
    assert reader.queries == [compile_plan(plan)]
    assert answered == {
        "runs": {"edges": [{"cursor": encode_cursor((1.0, "run/a")), "node": {"id": "x", "name": "a", "devPerf": {"rmse": 1.0}}}]}
    }
    assert await _store(_Reader({"ok": False, "data": {"runs": None}})).answer(plan) is None


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class _Rows:
    def __init__(self, rows: list[Any]) -> None:
        self.rows = rows

    async def run(self, query: aql.Query, **_: Any) -> list[Any]:
        return self.rows


async def test_the_executors_lists_by_a_metric_give_float_sort_values_as_sqlite_does() -> None:
    doc = {"_id": "run/a", "_key": "a", "name": "a", "createdAt": "2026-11-01T10:00:00.000000Z", "attributes": {}}
    store = _store(_Rows([{"sv": 3, "lid": "run/a", "d": doc}]))
    by_metric = ListQuery(kinds=(Kind.RUN,), order_by=OrderField.METRIC, order_metric="rmse", first=5)
    [(_, key)] = (await store.list_nodes(by_metric)).items
    assert orjson.dumps(list(key)) == b'[3.0,"run/a"]'
    # Other orders' sort values are the stored strings, as they are.
    store = _store(_Rows([{"sv": doc["createdAt"], "lid": "run/a", "d": doc}]))
    [(_, key)] = (await store.list_nodes(ListQuery(kinds=(Kind.RUN,), first=5))).items
    assert key == (doc["createdAt"], "run/a")


async def test_a_plan_the_store_refuses_is_left_to_the_executor() -> None:
    refused = ListQuery(kinds=(), first=5)
    reader = _Reader(None)
    assert await _store(reader).answer(Plan((ListRoot("x", refused, page()),))) is None
    assert reader.queries == []


# --------------------------------------------------------------------------------------
# Plans too large for one query: the executor answers them.
# --------------------------------------------------------------------------------------


def every_kind() -> Selection:
    """``node { ...on Project {...} ...on Dataset {...} ... }`` with each kind's every
    navigation field written out: a cheap selection (one node is answered, through one
    branch) whose query text holds every branch."""
    by_kind: dict[Kind, tuple[NodeField, ...]] = {}
    for kind, spec in KINDS.items():
        fields: list[NodeField] = list(base("__typename", "id", "name"))
        for nav in spec.navigation:
            edge = EDGE_KINDS[nav.edge_kind]
            target = select(edge.to_kind if nav.step is Step.OUT else edge.from_kind, *base("id", "name"))
            if nav.many:
                fields.append(FollowPage(nav.graphql, nav.edge_kind, nav.step, 1, None, page(Nodes("nodes", target))))
            else:
                fields.append(Follow(nav.graphql, nav.edge_kind, nav.step, target))
        by_kind[kind] = tuple(fields)
    return Selection(by_kind)


def lineage_of_every_kind(roots: int) -> Plan:
    """``roots`` aliased ``lineage(limit: 1) { nodes { node { ...every kind } } }``."""
    entry = LineageNodes("nodes", (NodeAt("node", every_kind()),))
    query = LineageQuery("run/r1", Direction.BOTH, 3, 1, None)
    return Plan(tuple(LineageRoot(f"l{i}", query, False, (entry,)) for i in range(roots)))


async def test_a_plan_whose_query_would_exceed_the_plan_node_limit_is_left_to_the_executor() -> None:
    plan = lineage_of_every_kind(14)
    query = compile_plan(plan)
    well_formed(query)
    assert query.nodes == execution_nodes(query.text) > 4000
    reader = _Reader({"ok": True, "data": {}})
    assert await _store(reader).answer(plan) is None
    assert reader.queries == []  # not sent: the server would refuse it
    # Fewer such roots are within the bound, and answered in one query (two: each kind the
    # dictionary gains adds to every root that selects every kind).
    fewer = lineage_of_every_kind(2)
    estimated = compile_plan(fewer).nodes
    assert estimated is not None and estimated <= MAX_EXECUTION_NODES
    reader = _Reader({"ok": True, "data": {"l0": {}}})
    assert await _store(reader).answer(fewer) == {"l0": {}}
    assert reader.queries == [compile_plan(fewer)]


def _server_error(error_num: int) -> AQLQueryExecuteError:
    response = Response(Method.POST, "http://db:8529/_db/m/_api/cursor", {}, 400, "x", b"{}")
    response.error_code = error_num
    response.error_message = "refused"
    response.is_success = False
    return AQLQueryExecuteError(response, Request(Method.POST, "/_api/cursor"))


class _Refusing(_Runner):
    def __init__(self, error: BaseException) -> None:
        self.error = error

    async def one(self, query: aql.Query, **_: Any) -> Any:
        raise self.error


# ArangoDB's error numbers (lib/Basics/errors.dat): 1501 ERROR_QUERY_PARSE, 1524
# ERROR_QUERY_TOO_MUCH_NESTING (also the initial plan's 4,000 execution nodes), 32
# ERROR_RESOURCE_LIMIT (1,000 registers, the query's memory limit).
@pytest.mark.parametrize("error_num", [1501, 1524, 32])
async def test_a_query_the_server_cannot_parse_or_plan_is_left_to_the_executor(error_num: int) -> None:
    assert await _store(_Refusing(_server_error(error_num))).answer(two_roots()) is None


@pytest.mark.parametrize("error_num", [4, 1200, 1562])
async def test_other_server_errors_of_a_compiled_query_are_raised(error_num: int) -> None:
    error = _server_error(error_num)
    with pytest.raises(AQLQueryExecuteError) as raised:
        await _store(_Refusing(error)).answer(two_roots())
    assert raised.value is error


# --------------------------------------------------------------------------------------
# The server's version: the compiled path needs 3.12.1, whose ternary operator
# evaluates only the branch it chooses.
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "supported"),
    [
        ("3.12.1", True),
        ("3.12.4", True),
        ("3.12.10", True),
        ("3.12.4-2", True),  # builds of 3.12.4
        ("3.12.4.1", True),
        ("3.12.0.1", False),
        ("3.13.0-devel", True),
        ("3.13.0", True),
        ("4.0.0", True),
        ("3.12.0", False),
        ("3.12.1-rc.1", False),  # a pre-release of 3.12.1
        ("3.12.1-alpha", False),
        ("3.11.14", False),
        ("3.9.0", False),
        ("3.12", False),
        ("", False),
        ("arango", False),
        (None, False),
    ],
)
def test_the_compiled_path_needs_arangodb_3_12_1(version: str | None, supported: bool) -> None:
    assert compiled_reads_supported(version) is supported


async def test_below_3_12_1_the_executor_answers() -> None:
    reader = _Reader({"ok": True, "data": {}})
    store = _store(reader)
    store.compiled_reads = False
    assert await store.answer(two_roots()) is None
    assert reader.queries == []


class _FakeDatabase:
    def __init__(self, version: str) -> None:
        self._version = version

    async def version(self) -> dict[str, str]:
        return {"server": "arango", "version": self._version, "license": "community"}


class _FakeClient:
    version = "3.12.4"

    def __init__(self, hosts: str) -> None:
        self.hosts = hosts

    async def db(self, name: str, **options: Any) -> _FakeDatabase:
        return _FakeDatabase(self.version)

    async def close(self) -> None:
        pass


@pytest.mark.parametrize(("version", "supported"), [("3.12.4", True), ("3.12.0", False), ("3.11.9", False)])
async def test_open_reads_the_server_version(monkeypatch: pytest.MonkeyPatch, version: str, supported: bool) -> None:
    monkeypatch.setattr(_FakeClient, "version", version)
    monkeypatch.setattr(arango_module, "ArangoClient", _FakeClient)
    store = ArangoStore(ArangoSettings("http://localhost:8529", "metagate", "root", ""))
    assert store.compiled_reads is False  # not known before the store is open
    await store.open()
    assert store.compiled_reads is supported
    await store.close()


# --------------------------------------------------------------------------------------
# The encodings' AQL, evaluated by a small interpreter of the functions they call (as
# ArangoDB 3.12 documents them), against the executor's encodings.
# --------------------------------------------------------------------------------------

_TOKEN = re.compile(r'\s*(?:("(?:[^"\\]|\\.)*")|(@\w+)|([A-Za-z_][\w.]*)|(\d+)|(==|!=|<=|>=|\|\||&&|[<>()\[\],?:{}]))')
# Two stored times (format_time's fixed width) order as their characters do, whatever
# the server's language; so do two strings of hexadecimal digits (TO_HEX's).
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")
_HEX = re.compile(r"[0-9a-f]*")


def _truthy(value: Any) -> bool:
    """AQL's boolean of a value: null, false, 0 and "" are false; arrays and objects,
    even empty, are true."""
    if value is None or value is False:
        return False
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value != 0
    if isinstance(value, str):
        return value != ""
    return True


def _rank(value: Any) -> int:
    """AQL's type order: null < bool < number < string < array < object."""
    if value is None:
        return 0
    if isinstance(value, bool):
        return 1
    if isinstance(value, (int, float)):
        return 2
    if isinstance(value, str):
        return 3
    return 4 if isinstance(value, list) else 5


def _order(a: Any, b: Any) -> int:
    """AQL's comparison of two values, -1, 0 or 1. Strings are ordered by the server's
    collation (ICU, in the server's language), which this interpreter does not know: it
    orders only two times or two hexadecimal strings, whose order every collation
    agrees on, and fails on any other two different strings."""
    if _rank(a) != _rank(b):
        return -1 if _rank(a) < _rank(b) else 1
    if a == b:
        return 0
    if isinstance(a, str):
        known = (_TIME.fullmatch(a) and _TIME.fullmatch(b)) or (_HEX.fullmatch(a) and _HEX.fullmatch(b))
        assert known, f"AQL orders {a!r} and {b!r} by the server's collation"
    if isinstance(a, (list, dict)):
        raise AssertionError("arrays and objects are not ordered here")
    return -1 if a < b else 1


def _aql_functions() -> dict[str, Any]:
    def substitute(value: str, search: list[str], replace: list[str]) -> str:
        for i, s in enumerate(search):
            value = value.replace(s, replace[i] if i < len(replace) else "")
        return value

    def attributes(document: dict[str, Any], remove_system: bool = False) -> list[str]:
        # removeSystemAttrs drops every attribute whose name starts with "_".
        return [k for k in document if not (remove_system and k.startswith("_"))]

    def names(args: tuple[Any, ...]) -> set[str]:
        return {n for a in args for n in (a if isinstance(a, list) else [a])}

    return {
        "CONCAT": lambda *parts: "".join("" if p is None else str(p) for p in parts),
        "LEFT": lambda value, n: value[:n],
        "SUBSTRING": lambda value, offset, length: value[offset : offset + length],
        "TO_BASE64": lambda value: base64.b64encode(value.encode()).decode(),
        # The UTF-8 bytes of a string, two lowercase hexadecimal digits each.
        "TO_HEX": lambda value: value.encode().hex(),
        "SUBSTITUTE": substitute,
        # Compact, "/" unescaped, non-ASCII as it is (velocypack's Dumper).
        "JSON_STRINGIFY": lambda value: json.dumps(value, separators=(",", ":"), ensure_ascii=False),
        "NOT_NULL": lambda *values: next((v for v in values if v is not None), None),
        "IS_OBJECT": lambda value: isinstance(value, dict),
        "IS_STRING": lambda value: isinstance(value, str),
        "ATTRIBUTES": attributes,
        "MINUS": lambda first, *others: [v for v in first if all(v not in o for o in others)],
        # KEEP and UNSET keep the document's attribute order.
        "KEEP": lambda document, *keep: {k: v for k, v in document.items() if k in names(keep)},
        # Top-level attributes, the later object's over the earlier's.
        "MERGE": lambda *documents: {k: v for d in documents for k, v in d.items()},
        "UNSET": lambda document, *drop: {k: v for k, v in document.items() if k not in names(drop)},
    }


def evaluate(text: str, variables: dict[str, Any], bind: dict[str, Any]) -> Any:
    """The value of an AQL expression made of string and number literals, true, false,
    null, arrays, objects (of names), variables and their attributes, bind values, an
    index (``x[i]``), the comparisons, NOT, AND (&&), OR (||), ``? :`` and the
    functions above, with AQL's precedence."""
    tokens = [next(g for g in m.groups() if g is not None) for m in _TOKEN.finditer(text)]
    assert "".join(tokens) == re.sub(r"\s+", "", text), text  # every character read
    functions = _aql_functions()
    at = 0
    live = True  # False while reading an operand that AQL does not evaluate

    def lazily(read: Any, evaluated: bool) -> Any:
        """``read()`` with its functions called only when ``evaluated``: the branch of
        ``? :`` not chosen, and the right of AND and OR once the left decides, are not."""
        nonlocal live
        outer, live = live, live and evaluated
        try:
            return read()
        finally:
            live = outer

    def peek() -> str | None:
        return tokens[at] if at < len(tokens) else None

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
        if token in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[token]
        if token == "NOT":  # unary: binds tighter than any other operator
            return not _truthy(primary())
        if token == "(":
            value = expression()
            take(")")
            return value
        if token == "[":
            return items("]")
        if token == "{":
            pairs: dict[str, Any] = {}
            while tokens[at] != "}":
                key = take()
                take(":")
                pairs[key] = expression()
                if tokens[at] == ",":
                    take(",")
            take("}")
            return pairs
        if peek() == "(":
            take("(")
            arguments = items(")")
            return functions[token](*arguments) if live else None
        name, *path = token.split(".")
        value = variables[name]
        for attribute in path:
            value = value.get(attribute) if isinstance(value, dict) else None
        return value

    def indexed() -> Any:
        value = primary()
        while peek() == "[":  # an attribute or element by a value: null when there is none
            take("[")
            index = expression()
            take("]")
            if isinstance(value, dict):
                value = value.get(index)
            elif isinstance(value, list) and isinstance(index, int) and -len(value) <= index < len(value):
                value = value[index]
            else:
                value = None
        return value

    def comparison() -> Any:
        value = indexed()
        tests = {
            "==": lambda c: c == 0,
            "!=": lambda c: c != 0,
            "<": lambda c: c < 0,
            "<=": lambda c: c <= 0,
            ">": lambda c: c > 0,
            ">=": lambda c: c >= 0,
        }
        if peek() in tests:
            test = tests[take()]
            other = indexed()
            value = test(_order(value, other)) if live else None
        return value

    def conjunction() -> Any:
        value = comparison()
        while peek() in ("AND", "&&"):
            take()
            other = lazily(comparison, _truthy(value))
            value = other if _truthy(value) else value
        return value

    def disjunction() -> Any:
        value = conjunction()
        while peek() in ("OR", "||"):
            take()
            other = lazily(conjunction, not _truthy(value))
            value = value if _truthy(value) else other
        return value

    def expression() -> Any:
        value = disjunction()
        if peek() == "?":
            take("?")
            yes = lazily(expression, _truthy(value))
            take(":")
            no = lazily(expression, not _truthy(value))
            value = yes if _truthy(value) else no
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


# --------------------------------------------------------------------------------------
# Orders and cursors, evaluated by the interpreter above, against Python's comparison of
# the (sort value, id) keys SQLite and the executor compare: code point order.
# --------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(a=st.text(), b=st.text())
def test_utf8_in_hexadecimal_orders_strings_by_code_point(a: str, b: str) -> None:
    # UTF-8's byte order is code point order, and TO_HEX gives two digits a byte.
    assert (a.encode().hex() < b.encode().hex()) == (a < b)
    assert (a.encode().hex() == b.encode().hex()) == (a == b)


# Keys as ArangoDB allows them: letters of either case, digits and punctuation, whose
# orders differ between collations.
ANY_KEYS = st.text(alphabet="abzABZ019_-:.@()+,=;$!*'%", min_size=1, max_size=5)
NEIGHBOUR_TIMES = [UNKNOWN_TIME, "2026-11-01T10:00:00.000000Z", "2026-11-02T10:00:00.000000Z"]


def cursor_ids(kind: Kind) -> st.SearchStrategy[str]:
    """A cursor's id: one of ``kind``'s, another kind's, or any string at all (a cursor
    is the client's to send)."""
    near = [kind.value, kind.value + "/", kind.value + "s/x", kind.value[:-1], kind.value.upper() + "/x"]
    return st.one_of(
        ANY_KEYS.map(lambda key: f"{kind.value}/{key}"),
        st.sampled_from(["", "zzz", "a", "run/k0004b", "model/x", "servingperf/x", *near]),
        st.text(max_size=6),
    )


def neighbour_documents() -> st.SearchStrategy[list[dict[str, Any]]]:
    created = st.sampled_from([*NEIGHBOUR_TIMES, None, "", "missing"])
    docs = st.lists(st.tuples(ANY_KEYS, created), max_size=8, unique_by=lambda d: d[0])
    return docs.map(lambda ds: [{"_key": k} if at == "missing" else {"_key": k, "createdAt": at} for k, at in ds])


def _compare_rows(keys: list[tuple[str, bool]], variables: Any, bind: dict[str, Any]) -> Any:
    """A sort's comparison of two rows (each a dict of variables): its keys (expression,
    descending) evaluated and compared in AQL's order."""

    def compare(a: dict[str, Any], b: dict[str, Any]) -> int:
        for expr, descending in keys:
            c = _order(evaluate(expr, a, bind), evaluate(expr, b, bind))
            if c:
                return -c if descending else c
        return 0

    return functools.cmp_to_key(compare)


def _sort_keys(clause: str) -> list[tuple[str, bool]]:
    keys = []
    for key in clause.split(", "):
        expr, _, way = key.rpartition(" ")
        keys.append((expr, way == "DESC") if way in ("ASC", "DESC") else (key, False))
    return keys


_NEIGHBOURS = re.compile(r" FILTER (\w+) != null LET (\w+) = (.*?)(?: FILTER (.*))? SORT (.*) LIMIT\b")


def _neighbour_page(text: str, bind: dict[str, Any], docs: list[dict[str, Any]], extra: dict[str, Any]) -> list[str]:
    """The keys of ``newest_first``'s neighbours among ``docs``, in its order, before
    its LIMIT."""
    match = _NEIGHBOURS.search(text)
    assert match, text
    v, t, time, cut, order = match.groups()
    rows = []
    for doc in docs:
        row = {**extra, v: doc}
        row[t] = evaluate(time, row, bind)
        # The time a neighbour sorts by is the time its node reports.
        assert row[t] == layout.from_document({**doc, "_id": f"run/{doc['_key']}"}).created_at
        if cut is None or _truthy(evaluate(cut, row, bind)):
            rows.append(row)
    rows.sort(key=_compare_rows(_sort_keys(order), None, bind))
    return [row[v]["_key"] for row in rows]


def _expected_neighbours(kind: Kind, docs: list[dict[str, Any]], after: tuple[str, str] | None) -> list[str]:
    keyed = [((d.get("createdAt") or UNKNOWN_TIME, f"{kind.value}/{d['_key']}"), d["_key"]) for d in docs]
    keyed.sort(reverse=True)
    return [key for sort_key, key in keyed if after is None or sort_key < after]


@settings(max_examples=300, deadline=None)
@given(
    edge_kind=st.sampled_from(sorted(EDGE_KINDS)),
    step=st.sampled_from(list(Step)),
    docs=neighbour_documents(),
    data=st.data(),
)
def test_neighbour_pages_order_and_start_after_their_cursor_as_full_ids_compare(
    edge_kind: str, step: Step, docs: list[dict[str, Any]], data: st.DataObject
) -> None:
    edge = EDGE_KINDS[edge_kind]
    kind, start = (edge.to_kind, edge.from_kind) if step is Step.OUT else (edge.from_kind, edge.to_kind)
    after = data.draw(st.none() | st.tuples(st.sampled_from(NEIGHBOUR_TIMES), cursor_ids(kind)))
    expected = _expected_neighbours(kind, docs, after)
    # The compiled path: the cursor is the plan's, its comparison decided as it compiles.
    compiler = _Compiler()
    walk = compiler.neighbours("v", "s", edge_kind, step, "@n", after)
    assert _neighbour_page(walk, compiler.b.bind, docs, {}) == expected
    # The executor's: the cursor is one request's among those the query loops over.
    query = aql.neighbors([NeighborRequest(f"{start.value}/k1", edge_kind, step, 3, after)])
    [[request]] = [v for v in query.bind.values() if isinstance(v, list)]
    assert _neighbour_page(query.text, query.bind, docs, {"r": request}) == expected


@pytest.mark.parametrize(
    "cursor_id", ["zzz", "dataset/b", "", "mod", "model", "model/", "model/b", "modelparams/0", "models/0", "Model/b"]
)
def test_a_neighbour_cursor_of_another_kind_compares_as_its_whole_id(cursor_id: str) -> None:
    # A model's runs are models' ids "model/..."; "zzz" sorts after all of them, and
    # "dataset/b" before: the key after the "/" says nothing then.
    docs = [{"_key": key, "createdAt": NEIGHBOUR_TIMES[1]} for key in ("a", "b", "c")]
    after = (NEIGHBOUR_TIMES[1], cursor_id)
    expected = _expected_neighbours(Kind.MODEL, docs, after)
    compiler = _Compiler()
    walk = compiler.neighbours("v", "s", "run_model", Step.OUT, "@n", after)
    assert _neighbour_page(walk, compiler.b.bind, docs, {}) == expected
    query = aql.neighbors([NeighborRequest("run/r1", "run_model", Step.OUT, 3, after)])
    [[request]] = [v for v in query.bind.values() if isinstance(v, list)]
    assert _neighbour_page(query.text, query.bind, docs, {"r": request}) == expected


def _names() -> st.SearchStrategy[str]:
    return st.text(alphabet="aAbBzZ09 -_.éÉ☃\u0301", max_size=4)


def _list_page(q: ListQuery, docs: dict[Kind, list[dict[str, Any]]]) -> list[str]:
    """The ids ``list_rows`` answers for ``docs``: each kind's subquery filtered, sorted
    and cut, then the merge sorted and cut, as the interpreter evaluates them."""
    b = aql.Binder()
    text = aql.list_rows(b, q)
    check(aql.Query(text, b.bind))  # every placeholder bound, every bind variable used
    kinds = re.findall(
        r"\(FOR d IN @@(c\d+)((?: FILTER .*?)*) LET m = null((?: FILTER .*?)*) SORT (.*?) LIMIT @(v\d+)"
        r" RETURN \{d: d, m: m, lid: CONCAT\(@(v\d+), d\._key\)\}\)",
        text,
    )
    assert len(kinds) == len(q.kinds), text
    merged = re.search(r"^FOR x IN FLATTEN\(\[.*\]\) SORT (.*?) LIMIT @(v\d+) RETURN \{sv: (.*?), lid: x\.lid, d: x\.d\}$", text)
    assert merged, text
    rows = []
    for coll, where, then, order, limit, prefix in kinds:
        kind = layout.KINDS_BY_COLLECTION[b.bind[f"@{coll}"]]
        kept = []
        for doc in docs.get(kind, []):
            row = {"d": doc, "m": None}
            filters = [f for f in (where + then).split(" FILTER ") if f]
            if all(_truthy(evaluate(f, row, b.bind)) for f in filters):
                kept.append(row)
        kept.sort(key=_compare_rows(_sort_keys(order), None, b.bind))
        rows += [{"x": {**row, "lid": b.bind[prefix] + row["d"]["_key"]}} for row in kept[: b.bind[limit]]]
    rows.sort(key=_compare_rows(_sort_keys(merged.group(1)), None, b.bind))
    for row in rows:
        assert evaluate(merged.group(3), row, b.bind) == row["x"]["d"]["name"]  # the cursor's sort value
    return [row["x"]["lid"] for row in rows[: b.bind[merged.group(2)]]]


@settings(max_examples=200, deadline=None)
@given(
    kinds=st.lists(st.sampled_from([Kind.DATASET, Kind.RUN, Kind.MODEL]), min_size=1, max_size=3, unique=True),
    named=st.lists(st.tuples(ANY_KEYS, _names() | st.none()), max_size=10, unique_by=lambda d: d[0]),
    descending=st.booleans(),
    first=st.integers(1, 4),
    data=st.data(),
)
def test_lists_by_name_order_and_start_after_their_cursor_by_code_point(
    kinds: list[Kind], named: list[tuple[str, str | None]], descending: bool, first: int, data: st.DataObject
) -> None:
    docs: dict[Kind, list[dict[str, Any]]] = {}
    for i, (key, name) in enumerate(named):
        docs.setdefault(kinds[i % len(kinds)], []).append({"_key": key, "name": name})
    every = sorted(
        ((d["name"], f"{kind.value}/{d['_key']}") for kind, ds in docs.items() for d in ds if d["name"] is not None),
        reverse=descending,
    )
    ids = st.sampled_from([kinds[0].value + "/a", "zzz", "", "dataset/", "run/Z", "model/z"])
    after = data.draw(st.none() | st.sampled_from(every or [("a", "run/a")]) | st.tuples(_names(), ids))
    q = ListQuery(kinds=tuple(kinds), order_by=OrderField.NAME, descending=descending, first=first, after=after)
    rest = [k for k in every if after is None or (k < after if descending else k > after)]
    assert _list_page(q, docs) == [node_id for _, node_id in rest[: first + 1]]


def test_a_list_by_name_after_a_cursor_of_another_type_compares_as_sqlite_does() -> None:
    # SQLite orders every number before every string and answers nothing against null.
    docs = {Kind.RUN: [{"_key": "a", "name": "x"}, {"_key": "b", "name": "y"}]}
    for value, ascending, descending in [(3, ["run/a", "run/b"], []), (2.5, ["run/a", "run/b"], []), (None, [], [])]:
        for down, expected in ((False, ascending), (True, descending)):
            q = ListQuery(kinds=(Kind.RUN,), order_by=OrderField.NAME, descending=down, first=5, after=(value, "run/a"))
            assert _list_page(q, docs) == (expected[::-1] if down else expected), (value, down)


def test_the_attributes_of_a_document_arangopipe_wrote_are_those_its_node_holds() -> None:
    # Arangopipe keeps attributes at the top level; the node drops fields that start
    # with "_" (system or not) and those the layout gives meaning to.
    doc = {
        "_key": "k",
        "_id": "run/k",
        "_rev": "_r1",
        "zeta": 1,
        "_private": {"x": 1},
        "name": "nightly",
        "createdAt": "2026-11-01T10:00:00.000000Z",
        "tag": "t1",
        "deployment_tag": "dt",
        "alpha": [1, "b"],
        "_x": None,
        "scope": "model/m",
    }
    compiler = _Compiler()
    answered = evaluate(compiler.base("d", Kind.RUN, "attributes"), {"d": doc}, compiler.b.bind)
    held = layout.from_document(doc).attributes
    assert list(answered.items()) == list(held.items()) == [("zeta", 1), ("alpha", [1, "b"])]
    # A document of Metagate's holds them under ``attributes``.
    own = {**doc, "attributes": {"_a": 1, "b": 2}}
    assert evaluate(compiler.base("d", Kind.RUN, "attributes"), {"d": own}, compiler.b.bind) == {"_a": 1, "b": 2}
    assert layout.from_document(own).attributes == {"_a": 1, "b": 2}


def test_a_node_of_no_known_time_sorts_by_the_time_it_reports() -> None:
    compiler = _Compiler()
    walk = compiler.neighbours("v", "s", "run_model", Step.OUT, "@n", None)
    match = _NEIGHBOURS.search(walk)
    assert match, walk
    for doc in ({"_key": "a"}, {"_key": "a", "createdAt": None}, {"_key": "a", "createdAt": ""}):
        reported = evaluate(compiler.base("v", Kind.MODEL, "createdAt"), {"v": doc}, compiler.b.bind)
        assert reported == api_time(layout.from_document({**doc, "_id": "models/a"}).created_at) == api_time(UNKNOWN_TIME)
        assert evaluate(match.group(3), {"v": doc}, compiler.b.bind) == UNKNOWN_TIME


# --------------------------------------------------------------------------------------
# Soft delete, evaluated by the interpreter: what delete and restore write, the edges a
# hop follows, and the fields of a deleted node.
# --------------------------------------------------------------------------------------

DELETED = "2026-12-05T10:00:00.000000Z"
_WITH = re.compile(r" UPDATE d WITH (.*) IN @@c OPTIONS \{(.*)\}$")


def _updated(doc: dict[str, Any], changes: dict[str, Any], *, keep_null: bool) -> dict[str, Any]:
    """What an UPDATE with mergeObjects false makes of ``doc``, as ArangoDB documents it:
    each top-level attribute set, or, set to null when keepNull is false, removed."""
    out = dict(doc)
    for key, value in changes.items():
        if value is None and not keep_null:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def _delete_and_restore(doc: dict[str, Any], node_id: str, reason: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    [delete] = aql.delete_nodes([node_id], DELETED, reason)
    match = _WITH.search(delete.text)
    assert match and match.group(2) == "mergeObjects: false"
    deleted = _updated(doc, evaluate(match.group(1), {"d": doc}, delete.bind), keep_null=True)
    [restore] = aql.restore_nodes([node_id])
    match = _WITH.search(restore.text)
    assert match and match.group(2) == "keepNull: false, mergeObjects: false"
    return deleted, _updated(deleted, evaluate(match.group(1), {"d": deleted}, restore.bind), keep_null=False)


@pytest.mark.parametrize(
    "node",
    [
        Node(
            "run/r1",
            Kind.RUN,
            "trial",
            "2026-11-01T10:00:00.000000Z",
            "model/m1",
            ("a",),
            {"x": 1},
            {"tag": "t", "deploymentTag": "prod"},
        ),
        Node("run/r2", Kind.RUN, "trial", "2026-11-01T10:00:00.000000Z", "model/m1", fields={"status": "RUNNING"}),
        Node("deployment/p1", Kind.DEPLOYMENT, "prod", "2026-11-01T10:00:00.000000Z", "project/p", fields={"tag": "v1"}),
        Node("dataset/d1", Kind.DATASET, "raw", "2026-11-01T10:00:00.000000Z"),
    ],
)
def test_deleting_and_restoring_write_the_document_the_layout_reads(node: Node) -> None:
    doc = {"_id": layout.document_id(node.id), **layout.to_document(node)}
    deleted, restored = _delete_and_restore(doc, node.id, "a duplicate")
    gone = replace(node, deleted_at=DELETED, deleted_reason="a duplicate")
    # The document arango_layout describes, and the node with its real values.
    assert deleted == {"_id": doc["_id"], **layout.to_document(gone)}
    assert layout.from_document(deleted) == gone
    # As it was, but that a value set aside it never had is null now: the same to every read.
    assert restored == {**dict.fromkeys(layout.aside_attributes(node.kind)), **doc}
    assert layout.from_document(restored) == node


def test_a_document_arangopipe_wrote_is_restored_as_it_was() -> None:
    doc = {"_id": "run/7", "_key": "7", "name": "housing-run", "tag": "exp-3", "deployment_tag": "dep", "run_id": "c1f2"}
    deleted, restored = _delete_and_restore(doc, "run/7", None)
    node = layout.from_document(doc)
    assert layout.from_document(deleted) == replace(node, deleted_at=DELETED)
    assert (deleted["scope"], deleted["deployment_tag"]) == (None, None)
    # Its scope, which it never had, is null now: the same to every read.
    assert restored == {**doc, "scope": None}
    assert layout.from_document(restored) == node


def test_a_hop_follows_a_live_nodes_live_edges_and_a_deleted_nodes_hidden_ones() -> None:
    cases = [
        ({}, {}, True),  # Arangopipe's edges have no gone
        ({"gone": False}, {}, True),
        ({"gone": True}, {}, False),
        ({}, {"deletedAt": DELETED}, False),
        ({"gone": True}, {"deletedAt": DELETED}, True),
        ({"gone": True}, {"deletedAt": None}, False),
    ]
    for edge, parent, followed in cases:
        assert evaluate(aql.edge_of("e", "s"), {"e": edge, "s": parent}, {}) is followed, (edge, parent)
        hidden = parent.get("deletedAt") is not None
        assert evaluate("(e.gone == true) == r.hidden", {"e": edge, "r": {"hidden": hidden}}, {}) is followed
        assert evaluate(aql.live_edge("e"), {"e": edge}, {}) is (edge.get("gone") is not True)
    # The compiled hop and the executor's test the same.
    compiler = _Compiler()
    assert f"FILTER {aql.edge_of('e2', 's')} FILTER v != null" in compiler.neighbours("v", "s", "run_model", Step.OUT, "@n", None)


def test_a_deleted_nodes_fields_are_answered_as_the_executor_answers_them() -> None:
    compiler = _Compiler()
    bind = compiler.b.bind
    tag = Typed("deploymentTag", "deploymentTag", ValueType.TEXT)
    run = Node("run/k", Kind.RUN, "r", "2026-11-01T10:00:00.000000Z", "model/m", fields={"deploymentTag": "prod"})
    for node in (run, replace(run, deleted_at=DELETED), replace(run, deleted_at=DELETED, deleted_reason="dup")):
        doc = {"_id": "run/k", **layout.to_document(node)}
        read = layout.from_document(doc)
        assert evaluate(compiler.base("d", Kind.RUN, "deletedAt"), {"d": doc}, bind) == (
            api_time(read.deleted_at) if read.deleted_at else None
        )
        assert evaluate(compiler.base("d", Kind.RUN, "deletedReason"), {"d": doc}, bind) == read.deleted_reason
        # The tag set aside is the run's all the same.
        assert evaluate(compiler.typed("d", Kind.RUN, tag), {"d": doc}, bind) == read.fields["deploymentTag"] == "prod"


def test_roots_answer_deleted_nodes_by_id_and_leave_them_to_the_executor_elsewhere() -> None:
    # node(id) answers a deleted node; a live lineage or summary of one is not answered
    # (the executor says what); a lineage of deleted nodes too is.
    assert ".deletedAt == null" not in compile_plan(nodes_by_ids()).text
    assert "FILTER n2 != null AND n2.deletedAt == null LET" in compile_plan(lineage_upstream()).text
    assert "FILTER n2 != null AND n2.deletedAt == null LET" in compile_plan(project_summary()).text
    walk = compile_plan(lineage_with_deleted()).text
    assert "FILTER n2 != null LET" in walk and ".gone" not in walk
    assert "AND d.deletedAt == null SORT d.createdAt, d._key LIMIT 2" in compile_plan(named_in_scope()).text
    assert "FILTER d.deletedAt == null" not in compile_plan(deleted_runs_listed()).text


# --------------------------------------------------------------------------------------
# Reads as of a time: compiled, as the store's reads as of a time read.
# --------------------------------------------------------------------------------------

AS_OF = "2026-06-01T12:00:00.000000Z"


def test_a_nodes_fields_as_of_a_time_are_those_the_store_reads_then() -> None:
    compiler = _Compiler()
    compiler._then["d"] = ("P", "D")  # the state's variables: parts, deletion
    bind = compiler.b.bind
    tag = Typed("deploymentTag", "deploymentTag", ValueType.TEXT)
    run = Node("run/k", Kind.RUN, "r", "2026-05-01T10:00:00.000000Z", "model/m", ("now",), {"a": 2}, {"deploymentTag": "prod"})
    before = [[{"a": 1}], [["then"]], [{"deploymentTag": "dev"}]]
    states = [
        ([None, None, None], None),
        (before, None),
        ([None, [["then"]], None], [DELETED, "dup"]),
        (before, [DELETED, None]),
    ]
    for node in (run, replace(run, deleted_at=DELETED)):
        doc = {"_id": "run/k", **layout.to_document(node)}
        for parts, deleted in states:
            then = layout.node_as_of(doc, parts, deleted, AS_OF)
            state = {"d": doc, "P": parts, "D": deleted}
            assert evaluate(compiler.base("d", Kind.RUN, "deletedAt"), state, bind) == (
                api_time(then.deleted_at) if then.deleted_at else None
            )
            assert evaluate(compiler.base("d", Kind.RUN, "deletedReason"), state, bind) == then.deleted_reason
            assert evaluate(compiler.base("d", Kind.RUN, "tags"), state, bind) == list(then.tags)
            assert evaluate(compiler.base("d", Kind.RUN, "attributes"), state, bind) == then.attributes
            assert evaluate(compiler.typed("d", Kind.RUN, tag), state, bind) == then.fields["deploymentTag"]
            assert evaluate(compiler.base("d", Kind.RUN, "name"), state, bind) == then.name


def test_a_hop_as_of_a_time_follows_the_edges_the_stores_neighbours_follow_then() -> None:
    query = compile_plan(node_as_of())
    text, bind = query.text, query.bind
    [at] = [f"@{k}" for k, v in bind.items() if v == AS_OF]
    removed = next(f"@{k}" for k, v in bind.items() if v == layout.REMOVED_LINEAGE_COLLECTION)
    # Stored edges made by then, hidden or not, and the removed ones that stood then.
    assert f"FILTER e8.createdAt <= {at} RETURN n7)" in text
    assert f"OUTBOUND n2 {removed} FILTER e10.kind == " in text
    assert f"AND e10.createdAt <= {at} AND e10.removedAt > {at} RETURN o9))" in text
    assert "gone" not in text
    # Far ends made by then and, unless the near node was deleted then, live then.
    assert f"FILTER n5 != null AND n5.createdAt <= {at} AND ((dz4 != null) OR NOT (n5.deletedAt != null" in text
    assert "FILTER (dz4 != null) OR LENGTH(FOR s IN " in text
    # The node answered is one made by then, deleted then or not.
    assert f"FILTER n2 != null AND n2.createdAt <= {at} RETURN FIRST(LET as3_marks" in text
    assert ".deletedAt == null" not in text


def test_a_lineage_as_of_a_time_walks_as_the_stores_does_and_reads_its_nodes_then() -> None:
    plan = lineage_as_of()
    [root] = plan.roots
    assert isinstance(root, LineageRoot) and root.query.as_of is not None
    query = compile_plan(plan)
    text, bind = query.text, query.bind
    [at] = [f"@{k}" for k, v in bind.items() if v == AS_OF]
    [key] = [f"@{k}" for k, v in bind.items() if v == layout.descending_time(AS_OF)]
    walk = aql.lineage_walk(aql.Binder(), Direction.UPSTREAM, "@s", "@d", "@l", None, None, as_of=aql.AsOf(at, key))
    # lineage_walk with as_of: its revived spans, its PRUNE and its tests of each edge.
    for part in ("LET revivedSet = ZIP(revived, revived)", aql.existed_on_path(aql.AsOf(at, key))):
        assert part in walk and part in text
    assert f" PRUNE LENGTH(p.edges) >= reach OR {aql.absent_or_dead('v', aql.AsOf(at, key), False)} " in text
    # The start answers made by then, deleted then or not; the edges that stood then.
    assert f"FILTER n2 != null AND n2.createdAt <= {at} LET l3" in text
    assert f"FILTER {aql.existed('e', aql.AsOf(at, key))} FILTER v._id IN ids" in text
    assert "(q.removed == true ? e.kind : CONCAT(" in text


async def test_plans_as_of_a_time_are_answered_by_the_compiled_query() -> None:
    for plan in (node_as_of(), lineage_as_of()):
        reader = _Reader({"ok": True, "data": {"x": 1}})
        assert await _store(reader).answer(plan) == {"x": 1}
        assert reader.queries == [compile_plan(plan)]
    # The time travels as a bind variable, as every value does.
    query = compile_plan(node_as_of())
    assert AS_OF not in query.text and AS_OF in query.bind.values()

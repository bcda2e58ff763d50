"""Bind-variable hygiene of every AQL query the ArangoDB adapter sends: hostile values
never reach the query text, only its bind variables, and every placeholder in the text
is bound (ArangoDB rejects unused or missing bind parameters). No server needed."""

from __future__ import annotations

import difflib
import json
import math
import os
import re
from collections.abc import Collection
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metagate.resolvers.metrics import downsampled
from metagate.store import arango as arango_module
from metagate.store import arango_aql as aql
from metagate.store import arango_layout as layout
from metagate.store.arango import ArangoSettings, ArangoStore, ArangoTx
from metagate.store.arango_init import indexes
from metagate.store.changes import Action, ChangeItem, ChangeQuery, Origin, touches
from metagate.store.model import Direction, Edge, End, Kind, Node, Step
from metagate.store.port import (
    AllOf,
    AnyOf,
    AttributeEquals,
    Compare,
    HistoryQuery,
    LineageQuery,
    ListQuery,
    MetricFilter,
    MetricHistoryQuery,
    MetricPoint,
    NameKey,
    NeighborRequest,
    NotOf,
    Op,
    OrderField,
    Related,
    ServingPeriod,
    Subject,
    Where,
    contains_pattern,
    sampled_positions,
)

MARK = "\u2603MG"  # appears in no query text of ours
HOSTILE = st.one_of(
    st.sampled_from(
        [
            "'",
            '"',
            "`",
            "//",
            "/*",
            "*/",
            "@x",
            "@@c",
            "FOR d IN x REMOVE d IN x",
            "RETURN 1",
            "\\",
            "%",
            "_",
            "') OR true //",
            "\u0000",
            "é\u202e",
            "x" * 5000,
        ]
    ),
    st.text(min_size=0, max_size=40),
).map(lambda s: MARK + s)
KEYS = st.text(alphabet="abcdef0123456789", min_size=1, max_size=12)


def _placeholders(text: str) -> set[str]:
    return {m for m in re.findall(r"@@?[A-Za-z_][A-Za-z0-9_]*", text)}


def _bound(query: aql.Query) -> set[str]:
    return {f"@{name}" for name in query.bind}


def _values(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (_values(k) + _values(v))]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _values(v)]
    return []


def check(query: aql.Query, *hostile: str) -> None:
    assert MARK not in query.text
    assert _placeholders(query.text) == _bound(query), query.text
    carried = " ".join(_values(query.bind))
    for value in hostile:
        assert value in carried, value


@settings(max_examples=60, deadline=None)
@given(h=st.lists(HOSTILE, min_size=12, max_size=12), key=KEYS)
def test_reads_carry_hostile_values_only_as_bind_variables(h: list[str], key: str) -> None:
    check(aql.get_nodes([f"dataset/{key}{h[0]}"]), h[0])
    check(aql.find_named([NameKey(Kind.MODEL, h[1], h[2]), NameKey(Kind.DATASET, h[3])]), h[1], h[2], h[3])
    check(aql.find_by_field(Kind.RUN, "deploymentTag", h[4]), h[4])
    check(aql.find_by_field(Kind.DEPLOYMENT, "tag", h[4]), h[4])
    check(
        aql.neighbors([NeighborRequest(f"run/{key}{h[5]}", "run_model", Step.OUT, 3, (h[6], f"model/{h[7]}"))]),
        h[5],
        h[6],
        h[7],
    )
    check(aql.lineage(f"deployment/{h[8]}", Direction.BOTH, 5, 100, [Kind.DATASET]), h[8])
    check(aql.project_counts(f"project/{h[9]}"), h[9])
    check(aql.count_all())


@settings(max_examples=60, deadline=None)
@given(
    h=st.lists(HOSTILE, min_size=10, max_size=10),
    value=st.one_of(HOSTILE, st.integers(), st.floats(allow_nan=False), st.booleans(), st.none()),
    order=st.sampled_from(list(OrderField)),
    kinds=st.lists(st.sampled_from(list(Kind)), min_size=1, max_size=9, unique=True),
    deleted=st.booleans(),
)
def test_list_queries_carry_every_filter_as_bind_variables(
    h: list[str], value: Any, order: OrderField, kinds: list[Kind], deleted: bool
) -> None:
    query = ListQuery(
        kinds=tuple(kinds),
        name=h[0],
        name_contains=h[1],
        scope=h[2],
        tag=h[3],
        attribute=AttributeEquals(h[4], value),
        created_after=h[5],
        created_before=h[6],
        deployment_tag=h[7],
        metric=MetricFilter(h[8], lt=0.5, gte=-1.0),
        order_by=order,
        order_metric=h[8],
        after=(h[9], f"run/{h[9]}"),
        include_deleted=deleted,
    )
    # name_contains travels as an escaped LIKE pattern.
    always = [h[0], *h[2:7], h[9], contains_pattern(h[1])] + ([value] if isinstance(value, str) else [])
    # The deployment tag only filters runs, models and deployments; the metric only runs.
    if set(kinds) & {Kind.RUN, Kind.MODEL, Kind.DEPLOYMENT}:
        always.append(h[7])
    if Kind.RUN in kinds:
        always.append(h[8])
    check(aql.list_nodes(query), *always)


@settings(max_examples=40, deadline=None)
@given(h=st.lists(HOSTILE, min_size=6, max_size=6), key=KEYS)
def test_writes_carry_documents_as_bind_variables(h: list[str], key: str) -> None:
    node = Node(
        id=f"run/{key}",
        kind=Kind.RUN,
        name=h[0],
        created_at="2026-11-23T00:00:00.000000Z",
        scope=f"model/{h[1]}",
        tags=(h[2],),
        attributes={h[3]: h[4]},
        fields={"tag": h[5], "deploymentTag": h[5], "status": "COMPLETED"},
    )
    for query in aql.insert_nodes([node]):
        check(query, *h)
    for query in aql.insert_edges([Edge("run_model", node.id, f"model/{key}", node.created_at)]):
        check(query)
    check(aql.update_node(node.id, {"attributes": {h[3]: h[4]}, "tags": [h[2]]}), h[2], h[3], h[4])
    check(aql.insert_token({"_key": key, "name": h[0], "secretHash": h[1]}), h[0], h[1])
    check(aql.get_token(h[2]), h[2])
    check(aql.revoke_token(h[3], h[4]), h[3], h[4])
    check(aql.list_tokens())


@settings(max_examples=40, deadline=None)
@given(h=st.lists(HOSTILE, min_size=6, max_size=6), key=KEYS)
def test_the_hubs_queries_carry_every_value_as_bind_variables(h: list[str], key: str) -> None:
    check(
        aql.history([HistoryQuery(f"model/{h[0]}", h[1], 5), HistoryQuery(f"deployment/{h[2]}", h[3], 1, 7, h[4])]),
        h[0],
        h[1],
        h[2],
        h[3],
        h[4],
    )
    for query in aql.remove_edges([Edge("deployment_modelversion", f"deployment/{key}", f"modelversion/{key}{h[5]}", "")]):
        check(query, h[5])
    check(aql.update_node(f"deployment/{key}", layout.field_changes(Kind.DEPLOYMENT, {"tag": h[0], "status": h[1]})), h[0], h[1])


@settings(max_examples=60, deadline=None)
@given(h=st.lists(HOSTILE, min_size=8, max_size=8), key=KEYS)
def test_metric_and_openlineage_queries_carry_every_value_as_bind_variables(h: list[str], key: str) -> None:
    check(
        aql.metric_history(
            [MetricHistoryQuery(f"run/{key}{h[0]}", h[1], 3, (7, h[2], h[3])), MetricHistoryQuery("run/r", h[4], 0, most=9)]
        ),
        *h[:5],
    )
    check(aql.known_lineage_events([h[5]]), h[5])
    check(aql.lineage_events(5, (h[6], h[7])), h[6], h[7])
    check(aql.insert_lineage_events([{"_key": key, "event": {"x": h[0]}}]), h[0])
    check(aql.insert_metric_points([{"_key": key, "key": h[1]}]), h[1])
    check(aql.last_metric_points([[f"run/{key}", h[1]]]), h[1])
    check(aql.metric_points_from_step(f"run/{key}{h[0]}", h[1], 3), h[0], h[1])
    check(aql.remove_metric_points_from(f"run/{key}{h[0]}", h[1], 4), h[0], h[1])


def test_a_downsampled_history_keeps_the_first_point_of_each_even_run_and_the_last() -> None:
    query = aql.metric_history([MetricHistoryQuery("run/r2", "loss", 0, most=500)])
    # The positions kept, from the last one, and only their points read (by the index).
    assert query.text == (
        "RETURN [(LET last = FIRST(FOR p IN @@c0 FILTER p.run == @v1 AND p.key == @v2 SORT p.seq DESC LIMIT 1"
        " RETURN p.seq) LET kept = (last == null ? [] : (FOR i IN 0..MIN([@v3 - 1, last]) RETURN (last < @v3 ? i :"
        " (@v3 == 1 ? last : FLOOR((i * last + @v3 - 2) / (@v3 - 1)))))) FOR p IN @@c0 FILTER p.run == @v1"
        " AND p.key == @v2 AND p.seq IN kept SORT p.seq RETURN p)]"
    )

    def positions(n: int, most: int) -> list[int]:
        # The expression's arithmetic (AQL divides as floats), for a history of n points.
        last = n - 1
        top = min(most - 1, last)
        return [
            i if last < most else (last if most == 1 else math.floor((i * last + most - 2) / (most - 1))) for i in range(top + 1)
        ]

    for n, most in [(1, 1), (5, 1), (5, 5), (6, 5), (10_000, 500), (10_001, 500), (999_983, 10_000), (3, 2)]:
        assert positions(n, most) == sampled_positions(n, most), (n, most)
        reference = [MetricPoint("run/r2", "loss", float(i), 0, "", f"{i:07d}") for i in range(n)]
        assert [reference[i] for i in sampled_positions(n, most)] == downsampled(reference, most), (n, most)
    assert query.bind == {"@c0": "metagate_metric_points", "v1": "run/r2", "v2": "loss", "v3": 500}


def test_history_reads_each_subjects_topic_newest_first_within_its_bounds() -> None:
    query = aql.history(
        [HistoryQuery("model/m1", "alias:champion", 5), HistoryQuery("deployment/d1", "servedVersion", 1, 7, "T")]
    )
    assert query.text == (
        "RETURN [(FOR h IN @@c0 FILTER h.subject == @v1 AND h.topic == @v2 SORT h.seq DESC LIMIT @v3 RETURN h),"
        " (FOR h IN @@c0 FILTER h.subject == @v6 AND h.topic == @v7 AND h.seq < @v4 AND h.at <= @v5"
        " SORT h.seq DESC LIMIT @v8 RETURN h)]"
    )
    assert query.bind == {
        "@c0": "metagate_history",
        "v1": "model/m1",
        "v2": "alias:champion",
        "v3": 5,
        "v4": 7,
        "v5": "T",
        "v6": "deployment/d1",
        "v7": "servedVersion",
        "v8": 1,
    }


def test_removing_an_edge_finds_it_by_its_ends_whatever_its_key() -> None:
    [query] = aql.remove_edges([Edge("deployment_modelversion", "deployment/d1", "modelversion/v1", "")])
    assert query.text == "FOR p IN @pairs FOR e IN @@c FILTER e._from == p[0] AND e._to == p[1] REMOVE e IN @@c"
    assert query.bind == {"pairs": [["deployment/d1", "modelversions/v1"]], "@c": "deployment_modelversion"}
    # Declared edges of several kinds share a collection: only the edge's own kind goes.
    [query] = aql.remove_edges([Edge("custom:monitors", "deployment/d1", "custom/r1", "", upstream=End.FROM)])
    assert query.text == (
        "FOR p IN @pairs FOR e IN @@c FILTER e._from == p[0] AND e._to == p[1] AND e.kind == p[2] REMOVE e IN @@c"
    )
    assert query.bind == {
        "pairs": [["metagate_custom_nodes/r1", "deployment/d1", "monitors"]],
        "@c": "metagate_custom_lineage",
    }


def test_a_query_binds_exactly_what_it_uses() -> None:
    # A stray bind variable is an error in ArangoDB: the check above must catch one.
    broken = aql.Query("RETURN @a", {"a": 1, "b": 2})
    assert _placeholders(broken.text) != _bound(broken)


@settings(max_examples=40, deadline=None)
@given(h=st.lists(HOSTILE, min_size=6, max_size=6), key=KEYS)
def test_serving_period_queries_carry_every_value_as_bind_variables(h: list[str], key: str) -> None:
    check(aql.find_serving_perf([ServingPeriod(f"deployment/{key}{h[0]}", h[1], h[2]), ServingPeriod(h[3], h[4], h[5])]), *h)
    check(aql.repeated_serving_periods())
    check(aql.remove_documents("servingperf", [h[0], h[1]]), h[0], h[1])
    check(aql.remove_edges_to("deployment_servingperf", [h[2]]), h[2])
    check(aql.insert_documents("metagate_servingperf_duplicates", [{"_key": key, "keptId": h[3], "x": h[4]}]), h[3], h[4])


# The text of the queries behind re-logging, as the adapter sends them: a change to them
# shows here as a diff (no ArangoDB server runs these tests).


def test_the_serving_period_look_up_filters_on_the_unique_index_fields() -> None:
    query = aql.find_serving_perf(
        [
            ServingPeriod("deployment/d1", "2026-11-02T00:00:00.000000Z", "2026-11-09T00:00:00.000000Z"),
            ServingPeriod("deployment/d2", "2026-11-02T00:00:00.000000Z", "2026-11-09T00:00:00.000000Z"),
        ]
    )
    assert query.text == (
        "RETURN ["
        "FIRST(FOR d IN @@c0 FILTER d.scope == @v1 AND d.fields.periodStart == @v2 AND d.fields.periodEnd == @v3"
        " AND d.deletedAt == null SORT d.createdAt, d._key LIMIT 1 RETURN d), "
        "FIRST(FOR d IN @@c0 FILTER d.scope == @v4 AND d.fields.periodStart == @v5 AND d.fields.periodEnd == @v6"
        " AND d.deletedAt == null SORT d.createdAt, d._key LIMIT 1 RETURN d)]"
    )
    assert query.bind == {
        "@c0": "servingperf",
        "v1": "deployment/d1",
        "v2": "2026-11-02T00:00:00.000000Z",
        "v3": "2026-11-09T00:00:00.000000Z",
        "v4": "deployment/d2",
        "v5": "2026-11-02T00:00:00.000000Z",
        "v6": "2026-11-09T00:00:00.000000Z",
    }
    # The same attribute paths as the unique index init-db creates, so that it answers.
    [index] = [i for i in indexes() if i.name == "metagate_serving_period"]
    assert [f"d.{path} ==" in query.text for path in index.fields] == [True] * 3


def test_init_db_finds_repeated_periods_keeping_the_oldest_and_removes_the_others() -> None:
    assert aql.repeated_serving_periods() == aql.Query(
        "FOR d IN @@c0 FILTER d.scope != null AND d.fields.periodStart != null AND d.fields.periodEnd != null"
        " COLLECT k0 = d.scope, k1 = d.fields.periodStart, k2 = d.fields.periodEnd INTO grouped = d"
        " FILTER LENGTH(grouped) > 1"
        " LET ordered = (FOR g IN grouped SORT g.createdAt, g._key RETURN g)"
        " FOR r IN SLICE(ordered, 1) RETURN {kept: ordered[0]._id, doc: r}",
        {"@c0": "servingperf"},
    )
    assert aql.remove_documents("servingperf", ["k1"]) == aql.Query(
        "FOR k IN @keys REMOVE k IN @@c", {"keys": ["k1"], "@c": "servingperf"}
    )
    # deployment_servingperf is stored deployment -> servingperf: the records are at _to.
    assert aql.remove_edges_to("deployment_servingperf", ["servingperf/k1"]) == aql.Query(
        "FOR vid IN @ids FOR e IN @@c FILTER e._to == vid REMOVE e IN @@c",
        {"ids": ["servingperf/k1"], "@c": "deployment_servingperf"},
    )


def test_init_db_finds_values_that_repeat_where_an_index_would_make_them_unique() -> None:
    assert aql.repeated_values("run", ("deployment_tag",), sparse=True, shown=10, most=100) == aql.Query(
        "FOR d IN @@c0 FILTER d.@a1 != null"
        " COLLECT k0 = d.@a1 INTO keys = d._key"
        " FILTER LENGTH(keys) > 1 SORT k0 LIMIT @v2"
        " RETURN {value: [k0], count: LENGTH(keys), keys: SLICE(SORTED(keys), 0, @v3)}",
        {"@c0": "run", "a1": "deployment_tag", "v2": 101, "v3": 10},
    )
    # A sparse index leaves out documents that lack any of its fields; so does the check.
    assert aql.repeated_values("models", ("scope", "name"), sparse=True, shown=10, most=100) == aql.Query(
        "FOR d IN @@c0 FILTER d.@a1 != null AND d.@a2 != null"
        " COLLECT k0 = d.@a1, k1 = d.@a2 INTO keys = d._key"
        " FILTER LENGTH(keys) > 1 SORT k0, k1 LIMIT @v3"
        " RETURN {value: [k0, k1], count: LENGTH(keys), keys: SLICE(SORTED(keys), 0, @v4)}",
        {"@c0": "models", "a1": "scope", "a2": "name", "v3": 101, "v4": 10},
    )


def test_lineage_pushes_its_limit_into_the_walk() -> None:
    query = aql.lineage("deployment/d1", Direction.UPSTREAM, 5, 100, None)
    # Each walk names every lineage edge collection with its direction upstream, in the
    # layout's order (the directions themselves are held to DESIGN.md in test_arango_layout).
    directions = [d for _, d in layout.traversal(Direction.UPSTREAM)]
    n = len(directions)

    def walk(first: int) -> str:
        legs = [f"{d} @@c{first + i}" for i, d in enumerate(directions)]
        return f"{directions[0]} {{start}} @@c{first}, " + ", ".join(legs[1:])

    options = ' OPTIONS {order: "bfs", uniqueVertices: "global"}'
    # Along live edges only, tested on the path's every edge (the form the optimizer
    # moves into the traversal); without a kinds filter, no test of the collection.
    keep = " FILTER p.edges[*].gone NONE == true FILTER v._id != @start"
    vertices = ", ".join(sorted(set(layout.VERTEX_COLLECTIONS.values())))
    # start, depth and limit are bound first (collections only with a kinds filter).
    second, direction_value, third = 3 + n, f"v{3 + 2 * n}", 4 + 2 * n
    assert query.text == (
        # The vertex collections a cluster needs named, then the depth of the
        # (limit + 1)-th node kept: the first walk stops there.
        f"WITH {vertices}"
        f" LET c0 = FIRST(FOR v, e, p IN 1..@depth {walk(3).format(start='@start')}{options}{keep}"
        " LIMIT @limit, 1 RETURN LENGTH(p.edges))"
        " LET reach = MIN([@depth, c0])"
        # The walk that collects the nodes goes no deeper.
        f" LET w0 = (FOR v, e, p IN 1..@depth {walk(second).format(start='@start')}"
        f" PRUNE LENGTH(p.edges) >= reach{options}{keep}"
        f" RETURN {{v: v, depth: LENGTH(p.edges), dir: @{direction_value}}})"
        " LET hits = UNION(w0, [])"
        " LET cut = NTH((FOR h IN hits SORT h.depth RETURN h.depth), @limit)"
        " LET found = (FOR h IN hits FILTER cut == null OR h.depth <= cut RETURN h)"
        " LET ids = APPEND([@start], found[*].v._id)"
        f" LET e0 = (FOR vid IN ids FOR v, e IN 1..1 {walk(third).format(start='vid')}"
        " FILTER e.gone != true FILTER v._id IN ids RETURN DISTINCT {c: PARSE_IDENTIFIER(e._id).collection, d: e})"
        " RETURN {nodes: found, edges: UNION(e0, [])}"
    )
    collections = [query.bind[f"@c{i}"] for i in range(3, 3 + n)]
    assert collections == [c for c, _ in layout.traversal(Direction.UPSTREAM)]
    assert collections == [query.bind[f"@c{i}"] for i in range(second, second + n)]
    assert collections == [query.bind[f"@c{i}"] for i in range(third, third + n)]
    assert {k: v for k, v in query.bind.items() if not k.startswith("@c")} == {
        "start": "deployment/d1",
        "depth": 5,
        "limit": 100,
        direction_value: "upstream",
    }


def test_a_kinds_filter_walks_only_the_edge_collections_that_lead_to_a_kind_asked_for() -> None:
    from metagate.store import arango_layout as layout

    def walked(query: aql.Query, walk: str) -> set[str]:
        # The edge collections of the LET's first traversal.
        text = query.text.split(f"LET {walk} = ", 1)[1].split(" OPTIONS ", 1)[0]
        return {query.bind[name[1:]] for name in re.findall(r"@@c\d+", text)}

    deployments = aql.lineage("dataset/d1", Direction.DOWNSTREAM, 5, 10, [Kind.DEPLOYMENT])
    check(deployments)
    # A run's dev perf leads to no deployment; a run's model does.
    assert layout.EDGE_COLLECTIONS["run_devperf"].name not in walked(deployments, "c0")
    assert layout.EDGE_COLLECTIONS["run_model"].name in walked(deployments, "c0")
    assert walked(deployments, "c0") == walked(deployments, "w0")
    # Model params are downstream of nothing built-in: that way walks only the declared
    # edges while none is declared, and every collection once one is (the second form,
    # behind the gate); every bound value is used (ArangoDB refuses one that is not).
    params = aql.lineage("run/r1", Direction.BOTH, 5, 10, [Kind.MODELPARAMS])
    check(params)
    assert walked(params, "c1") == {layout.CUSTOM_LINEAGE_COLLECTION}
    assert "LET declared = LENGTH(FOR k IN @@" in params.text
    full = params.text.split("LET c1 = ", 1)[1].split("FOR g IN (declared ? [1] : []) ", 1)[1].split(" OPTIONS ", 1)[0]
    assert {params.bind[name[1:]] for name in re.findall(r"@@c\d+", full)} == {
        c for c, _ in layout.traversal(Direction.DOWNSTREAM)
    }
    # Without a kinds filter, nothing is gated: one form, every collection.
    assert "declared" not in aql.lineage("run/r1", Direction.BOTH, 5, 10, None).text
    assert walked(params, "c0")


def test_every_query_that_traverses_names_the_vertex_collections_first() -> None:
    traversing = [
        aql.lineage("run/r1", Direction.BOTH, 3, 10, None),
        aql.neighbors([NeighborRequest("model/m1", "run_model", Step.IN, 10)]),
        aql.list_nodes(ListQuery(kinds=(Kind.RUN,), first=5, metric=MetricFilter("rmse", lt=0.5))),
        aql.project_counts("project/p1"),
    ]
    for query in traversing:
        assert " IN 1..1 " in query.text or " IN 1..@depth " in query.text
        assert query.text.startswith(aql.WITH_VERTICES)


def test_neighbors_loop_over_bound_requests_so_the_plan_does_not_grow_with_them() -> None:
    def page(n: int) -> list[NeighborRequest]:
        # A page of n runs, each with its model, dataset and params, and one model's runs.
        out = []
        for i in range(n):
            out += [
                NeighborRequest(f"run/r{i}", "run_model", Step.OUT, 1),
                NeighborRequest(f"run/r{i}", "run_dataset", Step.OUT, 1),
                NeighborRequest(f"run/r{i}", "run_modelparams", Step.OUT, 1),
            ]
        return [*out, NeighborRequest("model/m0", "run_model", Step.IN, 20, ("2026-11-01T00:00:00.000000Z", "run/r9"))]

    small, large = aql.neighbors(page(2)), aql.neighbors(page(500))
    assert small.text == large.text  # four loops, whatever the page holds
    assert large.text.count("FOR r IN @") == 4
    assert aql.neighbor_groups(page(2)) == [[0, 3], [1, 4], [2, 5], [6]]
    [one_model] = [v for k, v in large.bind.items() if isinstance(v, list) and len(v) == 1]
    assert one_model == [{"s": "models/m0", "at": "2026-11-01T00:00:00.000000Z", "key": "r9", "before": False, "hidden": False}]
    # Each group fetches its largest page plus one; the adapter cuts each request's page.
    assert sorted(v for k, v in large.bind.items() if isinstance(v, int)) == [2, 2, 2, 21]
    assert large.text.startswith(aql.WITH_VERTICES + "RETURN [(FOR r IN @")


def test_a_global_name_arangopipe_holds_without_a_scope_is_found() -> None:
    # Arangopipe writes no scope; a name it holds must not be registered a second time.
    query = aql.find_named([NameKey(Kind.DATASET, "raw", ""), NameKey(Kind.MODEL, "m", "project/p1")])
    assert query.text == (
        "RETURN [(FOR d IN @@c0 FILTER d.name == @v1"
        " AND (@v2 == null OR d.scope == @v2 OR (@v2 == '' AND d.scope == null)) AND d.deletedAt == null"
        " SORT d.createdAt, d._key RETURN d),"
        " (FOR d IN @@c3 FILTER d.name == @v4"
        " AND (@v5 == null OR d.scope == @v5 OR (@v5 == '' AND d.scope == null)) AND d.deletedAt == null"
        " SORT d.createdAt, d._key RETURN d)]"
    )
    assert query.bind == {"@c0": "datasets", "v1": "raw", "v2": "", "@c3": "models", "v4": "m", "v5": "project/p1"}


def test_runs_by_a_metric_read_numbers_only_from_one_dev_perf_record() -> None:
    query = aql.list_nodes(ListQuery(kinds=(Kind.RUN,), first=5, metric=MetricFilter("rmse", lt=0.5)))
    assert query.text == aql.WITH_VERTICES + (
        "FOR x IN FLATTEN([(FOR d IN @@c1 FILTER d.deletedAt == null"
        # The run's first dev-perf edge that holds the metric as a number (a live one: a
        # deleted run's would be hidden).
        " LET m = FIRST(FOR p, e IN 1..1 OUTBOUND d @@c4 FILTER (e.gone == true) == (d.deletedAt != null)"
        " AND IS_NUMBER(p.fields.metrics[@v3]) SORT e.createdAt, p._key RETURN p.fields.metrics[@v3])"
        # Filtered, sorted and paged inside the kind's subquery; only the pages are merged.
        " FILTER IS_NUMBER(m) FILTER m < @v5 SORT d.createdAt DESC, d._key DESC LIMIT @v0"
        " RETURN {d: d, m: m, lid: CONCAT(@v2, d._key)})])"
        " SORT x.d.createdAt DESC, x.lid DESC LIMIT @v0 RETURN {sv: x.d.createdAt, lid: x.lid, d: x.d}"
    )
    assert query.bind == {"v0": 6, "@c1": "run", "v2": "run/", "v3": "rmse", "@c4": "run_devperf", "v5": 0.5}


def test_a_neighbour_cursor_travels_as_a_key_of_the_neighbours_kind_or_as_how_its_id_compares() -> None:
    # A model's runs: ids "run/...". The cursor's id compares with them by its key when
    # it is a run's; else all compare the same way, as "run/" does with it.
    at = "2026-11-01T00:00:00.000000Z"
    cursors = {
        "run/r9": ("r9", False),
        "run/": ("", False),
        "zzz": (None, True),
        "dataset/d1": (None, False),
        "ru": (None, False),
    }
    for cursor_id, (key, before) in cursors.items():
        query = aql.neighbors([NeighborRequest("model/m0", "run_model", Step.IN, 5, (at, cursor_id))])
        [[request]] = [v for v in query.bind.values() if isinstance(v, list)]
        assert request == {"s": "models/m0", "at": at, "key": key, "before": before, "hidden": False}, cursor_id
        assert ("run/k" < cursor_id) is (before if key is None else "k" < key)
    # Keys compare by code point (TO_HEX), in the filter as in the sort.
    assert (
        " FILTER r.at == null OR t < r.at OR (t == r.at AND (r.key == null ? r.before : TO_HEX(v._key) < TO_HEX(r.key)))"
        in query.text
    )
    assert " SORT t DESC, TO_HEX(v._key) DESC LIMIT " in query.text


def hostile_where(h: list[str]) -> Where:
    """A where tree of every kind of test, each value one of ``h`` (at least 10)."""
    return AllOf(
        (
            AnyOf((Compare(Subject.NAME, Op.EQ, h[0]), Compare(Subject.NAME, Op.IN, (h[1], h[2])))),
            NotOf(Compare(Subject.TAG, Op.CONTAINS, h[3])),
            Compare(Subject.ATTRIBUTE, Op.IN, (h[4], 3, None, True), key=h[5]),
            Compare(Subject.TEXT, Op.STARTS_WITH, h[6], key="deploymentTag"),
            Compare(Subject.TIME, Op.GTE, h[7], key="startTime"),
            Compare(Subject.CREATED_AT, Op.LT, h[8]),
            Related("run_model", Step.OUT, Related("project_model", Step.IN, Compare(Subject.NAME, Op.EQ, h[9]))),
            Related("run_devperf", Step.OUT, Compare(Subject.METRIC, Op.LT, 0.5, key="rmse")),
            Related("run_job", Step.OUT, Compare(Subject.CHOICE, Op.IN, (h[0], h[1]), key="status", default=h[2])),
        )
    )


@settings(max_examples=60, deadline=None)
@given(h=st.lists(HOSTILE, min_size=10, max_size=10))
def test_a_where_carries_hostile_values_only_as_bind_variables(h: list[str]) -> None:
    check(aql.list_nodes(ListQuery(kinds=(Kind.RUN,), where=hostile_where(h), first=5)), *h)


def test_repeated_values_refuses_a_nested_attribute_it_would_read_as_one_name() -> None:
    with pytest.raises(ValueError, match="top-level"):
        aql.repeated_values("servingperf", ["fields.periodStart"], sparse=True, shown=10, most=100)


@settings(max_examples=60, deadline=None)
@given(h=st.lists(HOSTILE, min_size=8, max_size=8), seq=st.integers(min_value=0, max_value=2**62), ascending=st.booleans())
def test_the_change_logs_queries_carry_every_value_as_bind_variables(h: list[str], seq: int, ascending: bool) -> None:
    items = [
        ChangeItem(Action.CHANGED, f"dataset/{h[0]}", "dataset", before={"attributes": {h[1]: h[2]}}, after={"tags": [h[3]]})
    ]
    entry = layout.to_change_document(Origin(h[4], h[5], h[6]), "2026-12-03T00:00:00.000000Z", items)
    check(aql.log_change(entry, [layout.to_change_node_document(t, h[7]) for t in touches(items)]), *h[:8])
    every = ChangeQuery(5, seq, ascending, None, h[0], (h[1],), (h[2],), h[3], h[4])
    check(aql.changes(every), *h[:5])
    check(aql.changes(ChangeQuery(5, seq, ascending, f"dataset/{h[5]}", h[0], (h[1],), (h[2],), h[3], h[4])), *h[:6])
    check(aql.changes(ChangeQuery(1)))


def test_the_change_logs_aql() -> None:
    """The AQL the change log sends, as a snapshot: an entry takes its number from the
    counter in the query that writes it; a node's history walks its marks by (node, seq)."""
    entry = aql.log_change({"at": "t", "items": []}, [])
    assert entry.text == (
        "LET seq = FIRST(UPSERT {_key: @counter} INSERT {_key: @counter, seq: 1} UPDATE {seq: OLD.seq + 1} IN @@seqs"
        " RETURN NEW.seq) LET marked = (FOR m IN @marks INSERT MERGE(m, {seq}) INTO @@marks RETURN 1)"
        " INSERT MERGE(@entry, {_key: TO_STRING(seq), seq}) INTO @@changes RETURN seq"
    )
    assert entry.bind["@seqs"] == layout.SEQUENCES_COLLECTION
    history = aql.changes(ChangeQuery(21, 40, node="model/k"))
    assert history.text == (
        "FOR m IN @@c0 FILTER m.node == @v1 AND m.seq < @v2 SORT m.seq DESC"
        " LET c = DOCUMENT(CONCAT(@v3, '/', m.seq)) FILTER c != null LIMIT @v4 RETURN c"
    )
    assert (history.bind["v1"], history.bind["v3"]) == ("models/k", layout.CHANGES_COLLECTION)
    audit = aql.changes(ChangeQuery(21, None, False, None, "tok", ("logRun",), ("run",)))
    assert audit.text == (
        "FOR c IN @@c0 FILTER c.tokenId == @v1 AND c.operation IN @v2 AND LENGTH(FOR k IN @@c3 FILTER k.seq == c.seq"
        " AND k.kind IN @v4 LIMIT 1 RETURN 1) > 0 SORT c.seq DESC LIMIT @v5 RETURN c"
    )
    feed = aql.changes(ChangeQuery(100, 7, True))
    assert feed.text == "FOR c IN @@c0 FILTER c.seq > @v1 SORT c.seq ASC LIMIT @v2 RETURN c"


# --------------------------------------------------------------------------------------
# Soft delete: delete, restore, gc, and the reads that leave deleted nodes out.
# --------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(h=st.lists(HOSTILE, min_size=6, max_size=6, unique=True), most=st.integers(min_value=1, max_value=10_000))
def test_soft_delete_and_gc_queries_carry_every_value_as_bind_variables(h: list[str], most: int) -> None:
    ids = [f"run/{h[0]}", f"dataset/{h[1]}", f"custom/{h[2]}", f"run/{h[3]}"]
    keys = h[:4]
    for query in aql.delete_nodes(ids, h[4], h[5]):
        check(query, h[4], h[5])
    for query in aql.restore_nodes(ids):
        check(query)
    for queries in (aql.delete_nodes(ids, h[4], h[5]), aql.restore_nodes(ids)):
        assert sorted(k for q in queries for k in q.bind["keys"]) == sorted(keys)
    for build in (aql.hide_edges, aql.show_edges):
        for query in build(ids):
            check(query, *keys)
    check(aql.count_deleted(h[4]), h[4])
    check(aql.deleted_before(h[4], most), h[4])
    for query in aql.purge(ids):
        check(query)
    carried = " ".join(s for q in aql.purge(ids) for s in _values(q.bind))
    assert all(key in carried for key in keys)


def test_deleting_marks_live_nodes_and_sets_their_unique_values_aside() -> None:
    # One query per collection, in the order of the kinds' first ids.
    run, dataset = aql.delete_nodes(["run/r1", "dataset/d1", "run/r2", "run/r1"], "2026-12-05T10:00:00.000000Z", "dup")
    assert run.text == (
        "FOR d IN @@c FILTER d._key IN @keys AND d.deletedAt == null"
        " UPDATE d WITH MERGE(@cleared, {deletedAt: @at, deletedReason: @reason, deletedAside: KEEP(d, @aside)})"
        " IN @@c OPTIONS {mergeObjects: false}"
    )
    assert run.bind == {
        "keys": ["r1", "r2"],
        "cleared": {"scope": None, "deployment_tag": None},
        "at": "2026-12-05T10:00:00.000000Z",
        "reason": "dup",
        "aside": ["scope", "deployment_tag"],
        "@c": "run",
    }
    assert (dataset.bind["keys"], dataset.bind["@c"]) == (["d1"], "datasets")
    assert dataset.bind["aside"] == list(layout.aside_attributes(Kind.DATASET)) == ["scope"]
    assert dataset.text == run.text  # one text, whatever the collection
    # The attributes the text writes are the layout's.
    for name in (layout.DELETED_AT, layout.DELETED_REASON, layout.DELETED_ASIDE):
        assert f"{name}: " in run.text


def test_restoring_puts_the_values_aside_back_and_removes_the_deletion() -> None:
    [query] = aql.restore_nodes(["deployment/p1", "deployment/p2"])
    assert query.text == (
        "FOR d IN @@c FILTER d._key IN @keys AND d.deletedAt != null"
        " UPDATE d WITH MERGE(d.deletedAside || {}, {deletedAt: null, deletedReason: null, deletedAside: null})"
        " IN @@c OPTIONS {keepNull: false, mergeObjects: false}"
    )
    assert query.bind == {"keys": ["p1", "p2"], "@c": "deployment"}


def test_a_deleted_nodes_edges_are_hidden_and_shown_again_in_each_collection_that_may_hold_them() -> None:
    hide = aql.hide_edges(["dataset/d1", "model/m1"])
    assert [q.bind["@c"] for q in hide] == layout.edge_collections_of({Kind.DATASET, Kind.MODEL})
    assert {q.text for q in hide} == {
        "FOR e IN @@c FILTER (e._from IN @ids OR e._to IN @ids) AND e.gone != true UPDATE e WITH {gone: true} IN @@c"
    }
    assert {tuple(q.bind["ids"]) for q in hide} == {("datasets/d1", "models/m1")}
    show = aql.show_edges(["dataset/d1", "model/m1"])
    assert [q.bind["@c"] for q in show] == [q.bind["@c"] for q in hide]
    assert {q.text for q in show} == {
        aql.WITH_VERTICES + "FOR e IN @@c FILTER (e._from IN @ids OR e._to IN @ids) AND e.gone == true"
        # Both ends live: read before the UPDATE (no document may be read after it).
        " FILTER DOCUMENT(e._from).deletedAt == null AND DOCUMENT(e._to).deletedAt == null"
        " UPDATE e WITH {gone: null} IN @@c OPTIONS {keepNull: false}"
    }
    assert f"{layout.EDGE_GONE}: true" in hide[0].text and aql.live_edge("e") == f"e.{layout.EDGE_GONE} != true"


def test_gc_counts_and_picks_the_oldest_deletions_by_the_sparse_index() -> None:
    vertices = list(layout.VERTEX_COLLECTIONS.values())
    count = aql.count_deleted("2026-12-01T00:00:00.000000Z")
    each = "FIRST(FOR d IN @@c{} FILTER d.deletedAt != null AND d.deletedAt < @v0 COLLECT WITH COUNT INTO n RETURN n)"
    assert count.text == f"RETURN SUM([{', '.join(each.format(i + 1) for i in range(len(vertices)))}])"
    assert [count.bind[f"@c{i + 1}"] for i in range(len(vertices))] == vertices
    oldest = aql.deleted_before("2026-12-01T00:00:00.000000Z", 50)
    one = (
        "(FOR d IN @@c{} FILTER d.deletedAt != null AND d.deletedAt < @v0 SORT d.deletedAt LIMIT @v1"
        " RETURN {{at: d.deletedAt, id: d._id}})"
    )
    assert oldest.text == (
        f"FOR x IN FLATTEN([{', '.join(one.format(i + 2) for i in range(len(vertices)))}]) SORT x.at LIMIT @v1 RETURN x"
    )
    assert (oldest.bind["v0"], oldest.bind["v1"]) == ("2026-12-01T00:00:00.000000Z", 50)
    # The index those read (a range that leaves null out: a sparse index serves it).
    [index] = {(i.fields, i.sparse) for i in indexes() if i.name == "metagate_deleted"}
    assert index == ((layout.DELETED_AT,), True) and f"d.{layout.DELETED_AT} != null AND" in oldest.text


def test_purging_removes_the_nodes_and_all_that_names_them() -> None:
    queries = aql.purge(["run/r1", "dataset/d1", "run/r1"])
    edges = layout.edge_collections_of({Kind.RUN, Kind.DATASET})
    texts = [(q.text, q.bind.get("@c")) for q in queries]
    # Its stored edges and the removed ones kept for reads as of a time alike.
    edges += layout.REMOVED_EDGE_COLLECTIONS
    assert texts == [
        *(("FOR e IN @@c FILTER e._from IN @ids OR e._to IN @ids REMOVE e IN @@c", c) for c in edges),
        ("FOR p IN @@c FILTER p.run IN @runs REMOVE p IN @@c", layout.METRIC_POINTS_COLLECTION),
        ("FOR h IN @@c FILTER h.subject IN @ids REMOVE h IN @@c", layout.HISTORY_COLLECTION),
        ("FOR m IN @@c FILTER m.node IN @ids REMOVE m IN @@c", layout.CHANGE_NODES_COLLECTION),
        ("FOR s IN @@c FILTER s.node IN @ids REMOVE s IN @@c", layout.DELETIONS_COLLECTION),
        (
            "FOR r IN @@c FILTER r.result.ids[0] IN @ids REMOVE r IN @@c",
            layout.IDEMPOTENCY_COLLECTION,
        ),
        ("FOR k IN @keys REMOVE k IN @@c", "run"),
        ("FOR k IN @keys REMOVE k IN @@c", "datasets"),
    ]
    # Edges, change marks and deletion spans name documents; points, moves and answers
    # name nodes.
    assert {tuple(q.bind["ids"]) for q in queries[: len(edges)]} == {("run/r1", "datasets/d1")}
    assert [q.bind.get("runs") or q.bind.get("ids") or q.bind.get("keys") for q in queries[len(edges) :]] == [
        ["run/r1"],
        ["run/r1", "dataset/d1"],
        ["run/r1", "datasets/d1"],
        ["run/r1", "datasets/d1"],
        ["run/r1", "dataset/d1"],
        ["r1"],
        ["d1"],
    ]
    # Without a run, no metric points to remove.
    assert all(q.bind.get("@c") != layout.METRIC_POINTS_COLLECTION for q in aql.purge(["dataset/d1"]))


def test_every_read_but_one_by_id_leaves_deleted_nodes_out() -> None:
    assert aql.get_nodes(["run/r1"]).text == "FOR id IN @ids RETURN DOCUMENT(id)"  # the adapter drops them unless asked
    for query in (
        aql.find_named([NameKey(Kind.MODEL, "m", "project/p1")]),
        aql.find_by_field(Kind.RUN, "deploymentTag", "prod"),
        aql.find_serving_perf([ServingPeriod("deployment/d1", "a", "b")]),
        aql.list_nodes(ListQuery(kinds=(Kind.RUN, Kind.MODEL), first=5)),
    ):
        assert aql.LIVE in query.text, query.text
    assert aql.LIVE == f"d.{layout.DELETED_AT} == null"
    # A list of deleted nodes too has no such test; its filters on values set aside read
    # them where they are.
    deleted = aql.list_nodes(
        ListQuery(kinds=(Kind.RUN, Kind.DEPLOYMENT), scope="model/m1", deployment_tag="prod", first=5, include_deleted=True)
    )
    assert aql.LIVE not in deleted.text
    assert "NOT_NULL(d.scope, d.deletedAside.scope) == @" in deleted.text
    assert "NOT_NULL(d.deployment_tag, d.deletedAside.deployment_tag) == @" in deleted.text
    assert "NOT_NULL(d.tag, d.deletedAside.tag) == @" in deleted.text
    live = aql.list_nodes(ListQuery(kinds=(Kind.RUN,), scope="model/m1", first=5))
    assert "FILTER d.scope == @" in live.text  # as the index reads it
    # The project's counts follow live edges only.
    counts = aql.project_counts("project/p1").text
    assert counts.count(" IN 1..1 ") == counts.count(".gone != true") == 5


def test_lineage_walks_live_edges_unless_asked_for_deleted_nodes_too() -> None:
    live = aql.lineage("run/r1", Direction.BOTH, 5, 10, None)
    hidden = aql.lineage("run/r1", Direction.BOTH, 5, 10, None, hidden=True)
    walks = live.text.count(" IN 1..@depth ")
    # Every walk tests the path's every edge; every edge read back, its own.
    assert walks == 4 and live.text.count(" FILTER p.edges[*].gone NONE == true FILTER v._id != @start") == walks
    assert live.text.count(" FILTER e.gone != true FILTER v._id IN ids") == 2
    assert "gone" not in hidden.text
    assert hidden.text == live.text.replace(" FILTER p.edges[*].gone NONE == true", "").replace(" FILTER e.gone != true", "")
    assert hidden.bind == live.bind
    # No OR in a walk's filters: the optimizer moves a condition into a traversal only
    # from a conjunction.
    for text in (live.text, aql.lineage("run/r1", Direction.UPSTREAM, 5, 10, [Kind.DATASET]).text):
        for walk in re.findall(r"OPTIONS \{[^}]*\}( FILTER .*?)(?= LIMIT | RETURN )", text):
            assert " OR " not in walk, walk


def test_neighbours_follow_a_deleted_nodes_hidden_edges_when_asked() -> None:
    asked = [
        NeighborRequest("model/m1", "run_model", Step.IN, 5),
        NeighborRequest("model/m2", "run_model", Step.IN, 5, from_deleted=True),
    ]
    query = aql.neighbors(asked)
    [requests] = [v for v in query.bind.values() if isinstance(v, list)]
    assert [r["hidden"] for r in requests] == [False, True]
    # One text either way: the request says which edges.
    assert query.text == aql.neighbors(asked[:1]).text
    assert " (FOR v, e IN 1..1 OUTBOUND r.s @@c1 FILTER (e.gone == true) == r.hidden FILTER v != null " in query.text


# The adapter's soft-delete writes and gc, their statements kept instead of sent.


class _Tx(ArangoTx):
    def __init__(self, answers: dict[str, list[Any]] | None = None) -> None:
        super().__init__(ArangoStore(ArangoSettings("http://localhost:8529", "m", "root", "")), None)
        self.answers = answers or {}
        self.sent: list[aql.Query] = []

    async def run(self, query: aql.Query, *, leave: Collection[int] = ()) -> list[Any]:
        self.sent.append(query)
        return next((rows for start, rows in self.answers.items() if query.text.startswith(start)), [])


async def test_deleting_marks_the_nodes_then_hides_their_edges_and_records_it() -> None:
    tx = _Tx()
    await tx.delete_nodes(["run/r1", "dataset/d1"], "2026-12-05T10:00:00.000000Z", "dup")
    ids = ["run/r1", "dataset/d1"]
    # Each live one's deletion span begins first (read while they are live).
    assert tx.sent == [
        *aql.start_deletions(ids, "2026-12-05T10:00:00.000000Z", "dup"),
        *aql.delete_nodes(ids, "2026-12-05T10:00:00.000000Z", "dup"),
        *aql.hide_edges(ids),
    ]
    assert tx.recorder is not None
    assert [(i.action, i.node, i.after) for i in tx.recorder.items()] == [
        (Action.DELETED, "run/r1", {"reason": "dup"}),
        (Action.DELETED, "dataset/d1", {"reason": "dup"}),
    ]
    await tx.delete_nodes([], "t", None)
    assert len(tx.sent) == 2 * len(aql.delete_nodes(ids, "t", None)) + len(aql.hide_edges(ids))


async def test_restoring_brings_the_nodes_back_before_it_reads_which_edges_show_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(arango_module, "utcnow", lambda: "2026-12-06T08:00:00.000000Z")
    tx = _Tx()
    await tx.restore_nodes(["model/m1"])
    # Its deletion span closed now, in the same write.
    assert tx.sent == [
        *aql.restore_nodes(["model/m1"]),
        aql.end_deletions(["model/m1"], "2026-12-06T08:00:00.000000Z"),
        *aql.show_edges(["model/m1"]),
    ]
    assert tx.recorder is not None
    assert [(i.action, i.node) for i in tx.recorder.items()] == [(Action.RESTORED, "model/m1")]


async def test_a_deleted_node_is_read_by_id_only_when_asked_for() -> None:
    live = {"_id": "run/r1", "_key": "r1", "name": "a", "createdAt": "2026-12-01T00:00:00.000000Z"}
    deleted = {**live, "_id": "run/r2", "_key": "r2", "deletedAt": "2026-12-05T10:00:00.000000Z"}
    tx = _Tx({"FOR id IN @ids": [live, deleted, None]})
    plain = await tx.get_nodes(["run/r1", "run/r2", "run/r3"])
    assert [n.id if n else None for n in plain] == ["run/r1", None, None]
    asked = await tx.get_nodes(["run/r1", "run/r2", "run/r3"], deleted=True)
    assert [(n.id, n.deleted_at) if n else None for n in asked] == [
        ("run/r1", None),
        ("run/r2", "2026-12-05T10:00:00.000000Z"),
        None,
    ]


async def test_gc_purges_the_oldest_deletions_in_one_write_and_counts_the_rest() -> None:
    store = ArangoStore(ArangoSettings("http://localhost:8529", "m", "root", ""))
    found = [
        {"at": "2026-12-02T00:00:00.000000Z", "id": "models/b"},
        {"at": "2026-12-01T00:00:00.000000Z", "id": "datasets/z"},
        {"at": "2026-12-02T00:00:00.000000Z", "id": "datasets/a"},
    ]
    tx = _Tx({"FOR x IN FLATTEN(": found})
    writes = []

    async def transact(work: Any) -> Any:
        writes.append(work)
        return await work(tx)

    store.transact = transact  # type: ignore[method-assign]
    ids = await store.purge_deleted("2026-12-03T00:00:00.000000Z", 2)
    # Oldest first, ties by id (as SQLite orders them), at most ``most``.
    assert ids == ["dataset/z", "dataset/a"]
    assert len(writes) == 1
    assert tx.sent == [aql.deleted_before("2026-12-03T00:00:00.000000Z", 2), *aql.purge(ids)]
    assert await store.purge_deleted("2026-12-03T00:00:00.000000Z", 0) == [] and len(writes) == 1

    class _Counts:
        async def one(self, query: aql.Query) -> Any:
            assert query == aql.count_deleted("2026-12-03T00:00:00.000000Z")
            return 7

    store._reader = lambda: _Counts()  # type: ignore[assignment,method-assign,return-value]
    assert await store.count_deleted("2026-12-03T00:00:00.000000Z") == 7


# --------------------------------------------------------------------------------------
# Reads as of a time: what the writes keep for them (deletion spans, removed edges, the
# time of each change mark), and the reads of the graph as it was. The queries' text and
# bind variables are snapshots under tests/snapshots/aql/as_of (METAGATE_UPDATE_SNAPSHOTS=1
# rewrites them): a change to them shows as a diff.
# --------------------------------------------------------------------------------------

AS_OF = "2026-12-05T10:00:00.000000Z"
AS_OF_SNAPSHOTS = Path(__file__).parent.parent / "snapshots" / "aql" / "as_of"
UPDATE_SNAPSHOTS = os.environ.get("METAGATE_UPDATE_SNAPSHOTS") == "1"
THEN = aql.AsOf("@at", "@atKey")  # the placeholders of a lineage walk as of a time


def _as_of_queries() -> dict[str, list[aql.Query]]:
    removed = [
        Edge("run_model", "run/r1", "model/m1", ""),
        Edge("featureset_dataset", "featureset/f1", "dataset/d1", ""),
        Edge("project_model", "project/p1", "model/m1", ""),
        Edge("custom:monitors", "deployment/p1", "custom/r1", "", upstream=End.FROM),
        Edge("custom:owned_by", "dataset/d1", "custom/t1", ""),
    ]
    return {
        "lineage_upstream": [aql.lineage("deployment/d1", Direction.UPSTREAM, 5, 100, None, as_of=AS_OF)],
        "lineage_both_kinds": [aql.lineage("run/r1", Direction.BOTH, 5, 10, [Kind.DATASET, Kind.DEPLOYMENT], as_of=AS_OF)],
        "lineage_with_deleted": [aql.lineage("run/r1", Direction.DOWNSTREAM, 3, 10, None, hidden=True, as_of=AS_OF)],
        "neighbors": [
            aql.neighbors(
                [
                    NeighborRequest("model/m1", "run_model", Step.IN, 5, ("2026-12-01T00:00:00.000000Z", "run/r9"), as_of=AS_OF),
                    NeighborRequest("run/r1", "run_model", Step.OUT, 1, as_of=AS_OF),
                    NeighborRequest("model/m2", "run_model", Step.IN, 5, from_deleted=True, as_of="2026-12-06T00:00:00.000000Z"),
                    NeighborRequest("model/m1", "project_model", Step.IN, 1, as_of=AS_OF),
                    NeighborRequest("model/m3", "run_model", Step.IN, 5),
                ]
            )
        ],
        "get_nodes": [aql.get_nodes_as_of(["run/r1", "dataset/d1"], AS_OF)],
        "deletion_spans": [
            *aql.start_deletions(["run/r1", "dataset/d1", "run/r2"], AS_OF, "a duplicate"),
            aql.end_deletions(["run/r1", "dataset/d1", "run/r1"], "2026-12-06T00:00:00.000000Z"),
        ],
        "removed_edges": aql.keep_removed_edges(removed, AS_OF),
        "purge": aql.purge(["run/r1", "dataset/d1"]),
        "backfill": [
            aql.begin_backfill(),
            aql.backfill_mark(),
            aql.logged_deletions(),
            aql.logged_edge_removals(41),
            aql.deleted_documents(),
            aql.existing_documents(["run/r1", "datasets/d1"]),
            aql.insert_absent(
                layout.DELETIONS_COLLECTION,
                [
                    {
                        "_key": layout.backfill_key("span", 7, "run/r1"),
                        **layout.to_deletion_document("run/r1", AS_OF, "dup", AS_OF),
                    }
                ],
            ),
            aql.insert_open_spans(
                [{"_key": layout.backfill_key("span", 9, "run/r1"), **layout.to_deletion_document("run/r1", AS_OF, "dup")}]
            ),
            aql.end_backfill(),
        ],
    }


def _snapshot(queries: list[aql.Query]) -> str:
    return "\n\n".join(f"{q.text}\n{json.dumps(q.bind, sort_keys=True)}" for q in queries) + "\n"


@pytest.mark.parametrize("name", sorted(_as_of_queries()))
def test_the_aql_of_reads_as_of_a_time_and_of_what_they_read_is_its_snapshot(name: str) -> None:
    from tests.store.test_arango_compile import balanced

    queries = _as_of_queries()[name]
    for query in queries:
        assert balanced(query.text), query.text
        check(query)
    path = AS_OF_SNAPSHOTS / f"{name}.aql"
    text = _snapshot(queries)
    if UPDATE_SNAPSHOTS and (not path.exists() or path.read_text() != text):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"no snapshot {path}: run with METAGATE_UPDATE_SNAPSHOTS=1 to write it"
    expected = path.read_text()
    if expected != text:
        diff = difflib.unified_diff(expected.split(" "), text.split(" "), "snapshot", "built", lineterm="")
        pytest.fail(f"{path.name} differs (METAGATE_UPDATE_SNAPSHOTS=1 rewrites it):\n" + "\n".join(diff))


@settings(max_examples=60, deadline=None)
@given(h=st.lists(HOSTILE, min_size=10, max_size=10), key=KEYS, hidden=st.booleans())
def test_reads_as_of_a_time_carry_hostile_values_only_as_bind_variables(h: list[str], key: str, hidden: bool) -> None:
    kinds = [Kind.DATASET] if hidden else None
    check(aql.lineage(f"deployment/{key}{h[0]}", Direction.BOTH, 5, 100, kinds, hidden, as_of=h[1]), h[0], h[1])
    check(
        aql.neighbors(
            [
                NeighborRequest(f"run/{key}{h[2]}", "run_model", Step.OUT, 3, (h[3], f"model/{h[4]}"), as_of=h[5]),
                NeighborRequest(f"model/{h[6]}", "run_model", Step.IN, 3, from_deleted=hidden, as_of=h[7]),
            ]
        ),
        *h[2:8],
    )
    check(aql.get_nodes_as_of([f"dataset/{key}{h[8]}"], h[9]), h[8], h[9])


@settings(max_examples=60, deadline=None)
@given(h=st.lists(HOSTILE, min_size=6, max_size=6), key=KEYS)
def test_what_reads_as_of_a_time_keep_carries_hostile_values_only_as_bind_variables(h: list[str], key: str) -> None:
    ids = [f"run/{h[0]}", f"dataset/{key}{h[1]}"]
    for query in aql.start_deletions(ids, h[2], h[3]):
        check(query, h[2], h[3])
    check(aql.end_deletions(ids, h[4]), h[0], h[1], h[4])
    edges = [
        Edge("run_model", f"run/{key}{h[0]}", f"model/{h[1]}", h[2]),
        Edge("custom:monitors", f"deployment/{h[3]}", f"custom/{key}", h[2], upstream=End.FROM),
    ]
    for query in aql.keep_removed_edges(edges, h[5]):
        check(query, h[5])
    check(aql.existing_documents([h[0], h[1]]), h[0], h[1])
    spans = [{"_key": h[0], **layout.to_deletion_document(f"run/{key}", h[2], h[3])}]
    check(aql.insert_absent(layout.DELETIONS_COLLECTION, spans), h[0], h[2], h[3])
    check(aql.insert_open_spans(spans), h[0], h[2], h[3])
    for query in (
        aql.logged_deletions(),
        aql.logged_edge_removals(7),
        aql.deleted_documents(),
        aql.begin_backfill(),
        aql.backfill_mark(),
        aql.end_backfill(),
    ):
        check(query)


def test_a_walk_as_of_a_time_follows_the_edges_that_existed_then_between_nodes_live_then() -> None:
    query = aql.lineage("run/r1", Direction.BOTH, 5, 10, None, as_of=AS_OF)
    assert (query.bind["at"], query.bind["atKey"]) == (AS_OF, layout.descending_time(AS_OF))
    walks = query.text.count(" IN 1..@depth ")
    assert walks == 4
    # Each walk tests each edge of its path as the live test did (the form moved into
    # the traversal): created then, and not removed by then; whether it is hidden now
    # plays no part.
    assert aql.existed_on_path(THEN) == " FILTER p.edges[*].createdAt ALL <= @at FILTER p.edges[*].removedKey ALL < @atKey"
    assert query.text.count(aql.existed_on_path(THEN) + " FILTER v._id != @start AND ") == walks
    assert "gone" not in query.text
    # It stops at a node that did not exist then or was deleted then (its start too), and
    # leaves such a node out; the counting walks at any depth, the collecting ones at
    # the depth reached too.
    stop = aql.absent_or_dead("v", THEN, False)
    # The spans closed since that held then, read once, are looked up (HAS), not scanned
    # (IN), at each node visited.
    assert stop == "v.createdAt > @at OR (v.deletedAt != null AND v.deletedAt <= @at) OR HAS(revivedSet, v._id)"
    assert aql.present_and_live("v", THEN, False) == (
        "v.createdAt <= @at AND (v.deletedAt == null ? true : v.deletedAt > @at) AND NOT HAS(revivedSet, v._id)"
    )
    assert " IN revived" not in query.text
    assert query.text.count(f" PRUNE {stop} OPTIONS ") == 2
    assert query.text.count(f" PRUNE LENGTH(p.edges) >= reach OR {stop} OPTIONS ") == 2
    assert query.text.count(f"FILTER v._id != @start AND {aql.present_and_live('v', THEN, False)}") == walks
    assert query.text.startswith(
        aql.WITH_VERTICES + "LET revived = (FOR s IN @@c5 FILTER s.restoredAt > @at AND s.deletedAt <= @at RETURN s.node)"
        " LET revivedSet = ZIP(revived, revived) LET c0 = "
    )
    assert query.bind["@c5"] == layout.DELETIONS_COLLECTION
    # No OR in a walk's filters (a condition the optimizer cannot write as one conjunction
    # is moved into no traversal at all): the PRUNE holds them.
    for text in (query.text, aql.lineage("run/r1", Direction.UPSTREAM, 5, 10, [Kind.DATASET], as_of=AS_OF).text):
        filters = re.findall(r"OPTIONS \{[^}]*\}( FILTER .*?)(?= LIMIT | RETURN )", text)
        assert len(filters) >= 4
        for walk in filters:
            assert " OR " not in walk, walk
    # Every edge read back existed then, between nodes kept and the start, when it was
    # there and live then (a loop on it: the walk stepped along it only then); the
    # nodes come with what they were then.
    assert query.text.count(f" FILTER {aql.existed('e', THEN)} FILTER v._id IN ids ") == 2
    # A start that is no document (null, whose createdAt compares as null: before any
    # time) has no edges either.
    start = aql.present_and_live("origin", THEN, False)
    assert f" LET origin = DOCUMENT(@start) LET ids = APPEND((origin != null AND {start}) ? [@start] : [], found[*].v._id) " in (
        query.text
    )
    lets, state = aql.node_state(aql.Binder(), "h.v", "@at")
    assert " RETURN {nodes: (FOR h IN found LET as_marks = UNION(" in query.text
    assert f" RETURN {{v: h.v, depth: h.depth, dir: h.dir, {state}}}), edges: UNION(e0, e1, [])}}" in query.text
    # Without as_of, the walk is the one of now, to the letter.
    assert aql.lineage("run/r1", Direction.BOTH, 5, 10, None, as_of=None) == aql.lineage("run/r1", Direction.BOTH, 5, 10, None)


def test_a_walk_as_of_a_time_steps_along_the_removed_lineage_edges_in_its_direction() -> None:
    for direction, way in ((Direction.UPSTREAM, "OUTBOUND"), (Direction.DOWNSTREAM, "INBOUND")):
        query = aql.lineage("run/r1", direction, 5, 10, None, as_of=AS_OF)
        removed = [name for name, value in query.bind.items() if value == layout.REMOVED_LINEAGE_COLLECTION]
        # In both walks and the edges read back: stored from the end derived to its
        # upstream end, as declared lineage edges are.
        assert len(removed) == 3
        for name in removed:
            assert f"{way} @{name}" in query.text
        assert layout.traversal(direction, removed=True)[-1] == (layout.REMOVED_LINEAGE_COLLECTION, way)
        assert layout.traversal(direction)[-1][0] == layout.CUSTOM_LINEAGE_COLLECTION
    # A kinds filter walks them with the declared edges, whatever their kind.
    kinds = aql.lineage("dataset/d1", Direction.DOWNSTREAM, 5, 10, [Kind.DEPLOYMENT], as_of=AS_OF)
    removed = [name for name, value in kinds.bind.items() if value == layout.REMOVED_LINEAGE_COLLECTION]
    assert len(removed) == 2 * 2 + 1  # each walk's two forms, and the edges read back


def test_a_walk_as_of_a_time_with_deleted_nodes_goes_through_them_but_answers_when_they_were_deleted() -> None:
    query = aql.lineage("run/r1", Direction.DOWNSTREAM, 3, 10, None, hidden=True, as_of=AS_OF)
    # Every node that existed then, deleted then or not: no test of deletion in the walk.
    assert "revived" not in query.text
    assert query.text.count(" PRUNE v.createdAt > @at OPTIONS ") == 1
    assert query.text.count(" PRUNE LENGTH(p.edges) >= reach OR v.createdAt > @at OPTIONS ") == 1
    assert query.text.count(" FILTER v._id != @start AND v.createdAt <= @at RETURN ") == 1
    assert aql.absent_or_dead("v", THEN, True) == "v.createdAt > @at"
    assert aql.present_and_live("v", THEN, True) == "v.createdAt <= @at"
    assert " LET ids = APPEND((origin != null AND origin.createdAt <= @at) ? [@start] : [], found[*].v._id) " in query.text
    # The nodes answered say whether they were deleted then.
    assert "deleted: ((h.v.deletedAt != null AND h.v.deletedAt <= @at)" in query.text


def test_a_node_as_of_a_time_is_read_from_its_changes_after_it_and_the_deletion_span_that_held_it() -> None:
    b = aql.Binder()
    lets, state = aql.node_state(b, "d", "@at")
    assert lets == (
        " LET as_marks = UNION((FOR m IN @@c0 FILTER m.node == d._id AND m.action == @v1 AND m.at > @at"
        " RETURN {seq: m.seq, before: m.before}),"
        " (FOR m IN @@c0 FILTER m.node == d._id AND m.action == @v1 AND m.at == null"
        " FILTER DOCUMENT(CONCAT(@v2, '/', m.seq)).at > @at RETURN {seq: m.seq, before: m.before}))"
        # In log order: the first change of each part after the time holds it as it was.
        " LET as_before = (FOR m IN as_marks SORT m.seq RETURN m.before)"
        " LET as_parts = (FOR part IN @v3 RETURN FIRST(FOR x IN as_before FILTER HAS(x, part) LIMIT 1 RETURN [x[part]]))"
        " LET as_span = FIRST(FOR s IN @@c4 FILTER s.node == d._id AND s.deletedAt <= @at"
        " SORT s.deletedAt DESC LIMIT 1 RETURN s)"
    )
    assert state == (
        "parts: as_parts, deleted: ((d.deletedAt != null AND d.deletedAt <= @at) ? [d.deletedAt, d.deletedReason]"
        " : (as_span.restoredAt > @at ? [as_span.deletedAt, as_span.reason] : null))"
    )
    assert b.bind == {
        "@c0": layout.CHANGE_NODES_COLLECTION,
        "v1": Action.CHANGED.value,
        "v2": layout.CHANGES_COLLECTION,
        "v3": ["attributes", "tags", "fields"],
        "@c4": layout.DELETIONS_COLLECTION,
    }
    # Each read has its index: a node's CHANGED marks by time (those of no time at null,
    # an equality the index serves too), its spans by their start, the closed spans by
    # when they closed (sparse: an open span has none, and > excludes null).
    by_name = {i.name: i for i in indexes()}
    assert by_name["metagate_change_nodes_changed"].fields == ("node", "action", "at")
    assert by_name["metagate_deletions_node"].fields == ("node", "deletedAt")
    restored = by_name["metagate_deletions_restored"]
    assert (restored.collection, restored.fields, restored.sparse) == (layout.DELETIONS_COLLECTION, ("restoredAt",), True)
    assert aql.revived(aql.Binder(), "@at") == ("(FOR s IN @@c0 FILTER s.restoredAt > @at AND s.deletedAt <= @at RETURN s.node)")


def query_name(query: aql.Query, value: object) -> str:
    """The placeholder that binds ``value`` in ``query``."""
    [name] = [k for k, v in query.bind.items() if v == value]
    return f"@{name}"


def test_neighbours_as_of_a_time_follow_stored_and_removed_edges_that_existed_then() -> None:
    asked = [
        NeighborRequest("model/m1", "run_model", Step.IN, 5, as_of=AS_OF),
        NeighborRequest("model/m2", "run_model", Step.IN, 5, from_deleted=True, as_of="2026-12-06T00:00:00.000000Z"),
        NeighborRequest("model/m3", "run_model", Step.IN, 5),
        NeighborRequest("model/m4", "run_model", Step.IN, 2, as_of=AS_OF),
    ]
    # As of a time or not, and as of a time from a deleted node or not: their own loops
    # (the one of now as it is).
    assert aql.neighbor_groups(asked) == [[0, 3], [1], [2]]
    query = aql.neighbors(asked)

    def shape(text: str) -> str:
        return re.sub(r"@(@?)[a-z]+\d+", r"@\1x", text)

    assert shape(query.text).endswith(", " + shape(aql.neighbors(asked[2:3]).text).removeprefix(aql.WITH_VERTICES + "RETURN ["))
    [live, hidden] = [v for v in query.bind.values() if isinstance(v, list) and v and "asOf" in v[0]]
    assert [(r["s"], r["hidden"], r["asOf"]) for r in live + hidden] == [
        ("models/m1", False, AS_OF),
        ("models/m4", False, AS_OF),
        ("models/m2", True, "2026-12-06T00:00:00.000000Z"),
    ]
    # A model's runs: stored model -> run (run_models), removed model -> run (a run is
    # run_model's upstream end), both read out from the model.
    union = (
        " RETURN (FOR v IN UNION_DISTINCT((FOR n, ne IN 1..1 OUTBOUND r.s @@c1 FILTER ne.createdAt <= r.asOf RETURN n),"
        " (FOR o, oe IN 1..1 OUTBOUND r.s @@c2 FILTER oe.kind == @v3 AND oe.createdAt <= r.asOf"
        " AND oe.removedAt > r.asOf RETURN o))"
    )
    # Live then: not deleted now since then or before, and no span of its held then,
    # probed by the index on (node, deletedAt) for each candidate past the cursor (no
    # scan of the spans closed since, per request).
    cursor = " FILTER r.at == null OR t < r.at OR (t == r.at AND (r.key == null ? r.before : TO_HEX(v._key) < TO_HEX(r.key)))"
    assert (
        f"{union} FILTER v != null AND v.createdAt <= r.asOf AND NOT (v.deletedAt != null AND v.deletedAt <= r.asOf)"
        f" LET t = (v.createdAt || @v0){cursor} FILTER LENGTH(FOR s IN @@c6 FILTER s.node == v._id AND s.deletedAt <= r.asOf"
        " AND (s.restoredAt == null ? true : s.restoredAt > r.asOf) LIMIT 1 RETURN 1) == 0 SORT t DESC"
    ) in query.text
    assert query.bind["@c6"] == layout.DELETIONS_COLLECTION
    assert aql.no_span_held(aql.Binder(), "v", "r.asOf") == (
        "LENGTH(FOR s IN @@c0 FILTER s.node == v._id AND s.deletedAt <= r.asOf"
        " AND (s.restoredAt == null ? true : s.restoredAt > r.asOf) LIMIT 1 RETURN 1) == 0"
    )
    as_of = query.text[: query.text.rindex("(FOR r IN ")]  # the loops as of a time
    assert "revived" not in as_of and "r.hidden" not in as_of
    # From a deleted node: every node at the end of an edge it had then, no deletion
    # tested (so no probe).
    [from_deleted] = [p for p in as_of.split("(FOR r IN ")[1:] if p.startswith(query_name(query, hidden))]
    assert f" FILTER v != null AND v.createdAt <= r.asOf LET t = (v.createdAt || @v0){cursor} SORT t DESC" in from_deleted
    assert from_deleted.count("FOR s IN @@") == 1  # node_state's span, of the nodes answered
    assert (query.bind["@c1"], query.bind["@c2"], query.bind["v3"]) == (
        "run_models",
        layout.REMOVED_LINEAGE_COLLECTION,
        "run_model",
    )
    # Newest first from the cursor, as now; each answered with what it was then.
    assert " SORT t DESC, TO_HEX(v._key) DESC LIMIT @v5 LET as_marks = " in query.text
    assert layout.removed_hop("run_model", Step.OUT) == (layout.REMOVED_LINEAGE_COLLECTION, "INBOUND")
    assert layout.removed_hop("project_model", Step.IN) == (layout.REMOVED_LINKS_COLLECTION, "INBOUND")
    assert layout.removed_hop("featureset_dataset", Step.OUT) == (layout.REMOVED_LINEAGE_COLLECTION, "OUTBOUND")


def test_the_writes_keep_deletion_spans_and_removed_edges() -> None:
    run, dataset = aql.start_deletions(["run/r1", "dataset/d1", "run/r1"], AS_OF, "dup")
    # The documents delete_nodes marks (live, of these keys), read before it marks them.
    assert run.text == (
        "FOR d IN @@c FILTER d._key IN @keys AND d.deletedAt == null"
        " INSERT {node: d._id, deletedAt: @at, reason: @reason, restoredAt: null} INTO @@spans"
    )
    assert run.text.split(" INSERT ")[0] == aql.delete_nodes(["run/r1"], AS_OF, "dup")[0].text.split(" UPDATE ")[0]
    assert run.bind == {"keys": ["r1"], "at": AS_OF, "reason": "dup", "@c": "run", "@spans": layout.DELETIONS_COLLECTION}
    assert (dataset.bind["keys"], dataset.bind["@c"]) == (["d1"], "datasets")
    end = aql.end_deletions(["run/r1", "dataset/d1", "run/r1"], "2026-12-06T00:00:00.000000Z")
    assert end == aql.Query(
        "FOR s IN @@spans FILTER s.node IN @ids AND s.restoredAt == null UPDATE s WITH {restoredAt: @at} IN @@spans",
        {"ids": ["run/r1", "datasets/d1"], "at": "2026-12-06T00:00:00.000000Z", "@spans": layout.DELETIONS_COLLECTION},
    )
    # An edge is kept with the stored one's own time (Arangopipe's: none), as
    # remove_edges finds it: by its ends, whatever its key; once, however often it is named.
    edge = Edge("run_model", "run/r1", "model/m1", "")
    [kept] = aql.keep_removed_edges([edge, edge], AS_OF)
    assert kept.text == (
        "FOR p IN @edges FOR e IN @@c FILTER e._from == p.f AND e._to == p.t"
        " INSERT MERGE(p.doc, {createdAt: e.createdAt}) INTO @@removed"
    )
    _, doc = layout.to_removed_edge_document(edge, AS_OF)
    assert kept.bind == {
        "edges": [{"f": "models/m1", "t": "run/r1", "doc": doc}],
        "@c": "run_models",
        "@removed": layout.REMOVED_LINEAGE_COLLECTION,
    }
    [removal] = aql.remove_edges([edge])
    assert removal.bind["pairs"] == [[p["f"], p["t"]] for p in kept.bind["edges"]]
    # Declared edges of several kinds share a collection: only the edge's own kind.
    [custom] = aql.keep_removed_edges([Edge("custom:monitors", "deployment/d1", "custom/r1", "", upstream=End.FROM)], AS_OF)
    assert " AND e.kind == p.k INSERT " in custom.text and custom.bind["edges"][0]["k"] == "monitors"


async def test_deleting_edges_keeps_each_stored_one_then_removes_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(arango_module, "utcnow", lambda: AS_OF)
    edges = [Edge("run_model", "run/r1", "model/m1", ""), Edge("project_model", "project/p1", "model/m1", "")]
    tx = _Tx({"FOR d IN @ids LET e = DOCUMENT(d)": [{"createdAt": "2026-12-01T00:00:00.000000Z"}, None]})
    await tx.delete_edges(edges)
    assert tx.sent == [
        aql.stored_edges([layout.edge_document_id(e) for e in edges]),
        *aql.keep_removed_edges(edges, AS_OF),
        *aql.remove_edges(edges),
    ]
    assert tx.recorder is not None
    assert [(i.action, i.edge, i.before) for i in tx.recorder.items()] == [
        (Action.DELETED, ("run_model", "run/r1", "model/m1"), {"createdAt": "2026-12-01T00:00:00.000000Z"})
    ]


async def test_an_entrys_marks_carry_its_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(arango_module, "utcnow", lambda: AS_OF)
    tx = _Tx()
    await tx.insert_nodes([Node("dataset/d1", Kind.DATASET, "raw", "2026-12-01T00:00:00.000000Z")])
    await tx.log_changes()
    logged = tx.sent[-1]
    assert logged.bind["entry"]["at"] == AS_OF
    assert logged.bind["marks"] == [{"node": "datasets/d1", "kind": "dataset", "action": "created", "before": None, "at": AS_OF}]


def _document(node: Node) -> dict[str, Any]:
    return {"_id": layout.document_id(node.id), "_key": node.id.partition("/")[2], **layout.to_document(node)}


async def test_nodes_are_read_as_of_a_time_as_they_were_then() -> None:
    now = Node(
        "run/r1",
        Kind.RUN,
        "trial",
        "2026-12-01T00:00:00.000000Z",
        scope="model/m1",
        tags=("late",),
        attributes={"lr": 0.2},
        fields={"status": "COMPLETED", "deploymentTag": "prod"},
        deleted_at="2026-12-07T00:00:00.000000Z",
        deleted_reason="later",
    )
    then = {"attributes": {"lr": 0.1}}, None  # one change of its attributes since; live then
    gone = Node("run/r2", Kind.RUN, "old", "2026-11-01T00:00:00.000000Z")
    rows = [
        {"d": _document(now), "parts": [[then[0]["attributes"]], None, None], "deleted": then[1]},
        {"d": _document(gone), "parts": [None, None, None], "deleted": ["2026-12-02T00:00:00.000000Z", "dup"]},
        None,
    ]
    tx = _Tx({"FOR id IN @v0 LET d = DOCUMENT(id)": rows, "FOR id IN @ids RETURN DOCUMENT(id)": [_document(now)]})
    ids = ["run/r1", "run/r2", "run/r3"]
    live = await tx.get_nodes(ids, as_of=AS_OF)
    assert tx.sent == [aql.get_nodes_as_of(ids, AS_OF)]
    [r1, r2, r3] = await tx.get_nodes(ids, deleted=True, as_of=AS_OF)
    assert r1 == replace(now, attributes={"lr": 0.1}, deleted_at=None, deleted_reason=None)
    assert r1 is not None and r1.as_of == AS_OF and r1.fields == now.fields and r1.scope == "model/m1"
    assert r2 == replace(gone, deleted_at="2026-12-02T00:00:00.000000Z", deleted_reason="dup")
    assert r3 is None
    # Deleted then: read only when asked for.
    assert [n.id if n else None for n in live] == ["run/r1", None, None]
    # As it is now (deleted), without as_of.
    assert await tx.get_nodes(["run/r1"]) == [None]
    assert tx.sent[-1] == aql.get_nodes(["run/r1"])


async def test_neighbours_as_of_a_time_come_back_as_they_were_then_in_request_order() -> None:
    run = Node("run/r1", Kind.RUN, "trial", "2026-12-01T00:00:00.000000Z", tags=("now",))
    asked = [
        NeighborRequest("model/m1", "run_model", Step.IN, 1, as_of=AS_OF),
        NeighborRequest("model/m2", "run_model", Step.IN, 1),
    ]
    state = {"d": _document(run), "parts": [None, [["then"]], None], "deleted": None}
    tx = _Tx({aql.WITH_VERTICES + "RETURN [": [[[[state, state]], [[_document(run)]]]]})
    [then, now] = await tx.neighbors(asked)
    assert tx.sent == [aql.neighbors(asked)]
    [(node, key)] = then.items
    assert (node.tags, node.as_of, key, then.has_next) == (("then",), AS_OF, (run.created_at, run.id), True)
    assert [(n.tags, n.as_of) for n, _ in now.items] == [(("now",), None)]


async def test_lineage_as_of_a_time_answers_the_nodes_as_they_were_and_the_edges_that_existed() -> None:
    store = ArangoStore(ArangoSettings("http://localhost:8529", "m", "root", ""))
    model = Node("model/m1", Kind.MODEL, "m", "2026-11-01T00:00:00.000000Z", attributes={"v": 2})
    run = Node("run/r1", Kind.RUN, "r", "2026-11-02T00:00:00.000000Z")
    dataset = Node("dataset/d1", Kind.DATASET, "d", "2026-11-03T00:00:00.000000Z")
    removed = layout.to_removed_edge_document(Edge("run_model", "run/r1", "model/m1", "2026-11-02T00:00:00.000000Z"), AS_OF)
    stored = layout.to_edge_document(Edge("run_dataset", "run/r1", "dataset/d1", "2026-11-03T00:00:00.000000Z"))
    result = {
        "nodes": [
            {"v": _document(dataset), "depth": 2, "dir": "upstream", "parts": [None, None, None], "deleted": None},
            {"v": _document(run), "depth": 1, "dir": "upstream", "parts": [None, None, None], "deleted": ["t", "why"]},
        ],
        "edges": [{"c": c, "d": {**doc, "_id": f"{c}/x"}} for c, doc in (removed, stored)],
    }
    asked: list[aql.Query] = []

    class _Reader:
        async def one(self, query: aql.Query) -> Any:
            asked.append(query)
            return result

    store._reader = lambda: _Reader()  # type: ignore[assignment,method-assign,return-value]
    query = LineageQuery(model.id, Direction.UPSTREAM, 3, 1, include_deleted=True, as_of=AS_OF)
    answer = await store.lineage(query)
    assert asked == [aql.lineage(model.id, Direction.UPSTREAM, 3, 1, None, True, AS_OF)]
    # Walk order and cut as now (depth, kind, time, id): one node, more found.
    assert [(n.node.id, n.depth, n.node.deleted_at, n.node.as_of) for n in answer.nodes] == [("run/r1", 1, "t", AS_OF)]
    assert answer.truncated
    # The removed edge the walk stepped along, read back as the logical edge it was.
    assert answer.edges == [Edge("run_model", "run/r1", "model/m1", "2026-11-02T00:00:00.000000Z")]


async def test_every_write_declares_what_reads_as_of_a_time_read() -> None:
    declared: list[list[str]] = []

    class _Database:
        async def begin_transaction(self, *, write: list[str], **_: Any) -> Any:
            declared.append(write)
            raise RuntimeError("no server")

    store = ArangoStore(ArangoSettings("http://localhost:8529", "m", "root", ""))
    store._db = _Database()
    with pytest.raises(RuntimeError):
        async with store.write():
            pass
    [write] = declared
    assert {layout.DELETIONS_COLLECTION, *layout.REMOVED_EDGE_COLLECTIONS, layout.CHANGE_NODES_COLLECTION} <= set(write)

"""Metric history over every store adapter: points appended in batches, paged in step
order, downsampled by row (not by step) to at most N points keeping the first and the
last, the latest value per key in the run's dev performance (so runs filter and order by
it), and bad points refused whole."""

from __future__ import annotations

import random
from typing import Any

import pytest

from metagate.resolvers.metrics import downsampled
from metagate.store.port import MetricPoint
from tests.conftest import GraphQLClient
from tests.pipeline import record_pipeline

LOG = "mutation($i: LogMetricsInput!) { logMetrics(input: $i) { run { id devPerf { metrics } } points } }"
HISTORY = """query($r: ID!, $k: String!, $first: Int, $after: String) { node(id: $r) { ... on Run {
  metricHistory(key: $k, first: $first, after: $after) { points { key value step timestamp } hasNextPage endCursor } } } }"""
CURVES = """query($ids: [ID!]!, $k: String!, $n: Int) { nodes(ids: $ids) { id ... on Run {
  metricCurve(key: $k, maxPoints: $n) { value step } } } }"""


def _points(key: str, values: list[tuple[int, float]], **extra: Any) -> list[dict[str, Any]]:
    return [{"key": key, "value": v, "step": s, **extra} for s, v in values]


async def test_points_are_appended_paged_in_step_order_and_the_latest_is_the_dev_perf(gql: GraphQLClient) -> None:
    pipeline = await record_pipeline(gql, runs=1)
    run = pipeline.runs[0]
    # Out of step order, across two calls; "acc" only in the second.
    first = await gql(LOG, i={"runId": run, "metrics": _points("loss", [(2, 0.5), (0, 0.9), (1, 0.7)])})
    assert first["logMetrics"]["points"] == 3 and first["logMetrics"]["run"]["devPerf"]["metrics"]["loss"] == 0.5
    second = await gql(LOG, i={"runId": run, "metrics": _points("loss", [(1, 0.65)]) + _points("acc", [(3, 0.8)])})
    metrics = second["logMetrics"]["run"]["devPerf"]["metrics"]
    # The latest loss is still step 2's; rmse, logged with the run, stays.
    assert (metrics["loss"], metrics["acc"], metrics["rmse"]) == (0.5, 0.8, 0.5)

    page = (await gql(HISTORY, r=run, k="loss", first=3))["node"]["metricHistory"]
    assert [(p["step"], p["value"]) for p in page["points"]] == [(0, 0.9), (1, 0.7), (1, 0.65)]
    assert page["hasNextPage"] is True
    rest = (await gql(HISTORY, r=run, k="loss", first=3, after=page["endCursor"]))["node"]["metricHistory"]
    assert [(p["step"], p["value"]) for p in rest["points"]] == [(2, 0.5)] and rest["hasNextPage"] is False

    # The run filters and orders by the latest value, through the same index as before.
    found = await gql(
        "query($m: ID!, $f: MetricFilterInput!) { runs(filter: {modelId: $m, metric: $f}) { nodes { id } } }",
        m=pipeline.model,
        f={"name": "acc", "gte": 0.75},
    )
    assert [n["id"] for n in found["runs"]["nodes"]] == [run]


async def test_a_long_history_is_downsampled_by_row_even_when_every_point_shares_a_step(gql: GraphQLClient) -> None:
    pipeline = await record_pipeline(gql, runs=2)
    a, b = pipeline.runs
    # Run a: 1,000 points on 10 steps (100 each); run b: 7 points.
    await gql(LOG, i={"runId": a, "metrics": _points("loss", [(i // 100, float(i)) for i in range(1000)])})
    await gql(LOG, i={"runId": b, "metrics": _points("loss", [(i, float(i)) for i in range(7)])})
    curves = {n["id"]: n["metricCurve"] for n in (await gql(CURVES, ids=[a, b], k="loss", n=50))["nodes"]}
    values = [p["value"] for p in curves[a]]
    assert len(values) == 50 and values[0] == 0.0 and values[-1] == 999.0
    assert values == sorted(values) and len({p["step"] for p in curves[a]}) == 10
    # The same sample as the reference, whatever the store.
    reference = [MetricPoint(a, "loss", float(i), i // 100, "", f"{i:04d}") for i in range(1000)]
    assert values == [p.value for p in downsampled(reference, 50)]
    assert [p["value"] for p in curves[b]] == [float(i) for i in range(7)]  # short: all of it
    one = (await gql(CURVES, ids=[a], k="loss", n=1))["nodes"][0]["metricCurve"]
    assert one == [{"value": 999.0, "step": 9}]


def test_the_reference_downsampling_keeps_first_and_last_and_at_most_n() -> None:
    points = [MetricPoint("run/r", "k", float(i), 0, "", f"{i:05d}") for i in range(10_000)]
    for most in (2, 3, 500, 9_999, 10_000, 20_000):
        kept = downsampled(points, most)
        assert len(kept) == min(most, len(points)) and kept[0] == points[0] and kept[-1] == points[-1]
        assert [p.id for p in kept] == sorted(p.id for p in kept)


@pytest.mark.parametrize(
    ("point", "field"),
    [
        ({"key": "1bad", "value": 1.0}, "metrics[1].key"),
        ({"key": "loss", "value": 1.0, "step": -1}, "metrics[1].step"),
        ({"key": "loss", "value": 1.0, "timestamp": "0001-01-01T00:00:00+01:00"}, "metrics[1].timestamp"),
    ],
)
async def test_a_bad_point_refuses_the_whole_call(gql: GraphQLClient, point: dict[str, Any], field: str) -> None:
    pipeline = await record_pipeline(gql, runs=1)
    error = await gql.error(LOG, i={"runId": pipeline.runs[0], "metrics": [{"key": "loss", "value": 0.1}, point]})
    assert (error["extensions"]["code"], error["extensions"]["field"]) == ("BAD_USER_INPUT", field)
    page = (await gql(HISTORY, r=pipeline.runs[0], k="loss"))["node"]["metricHistory"]
    assert page["points"] == []
    error = await gql.error(LOG, i={"runId": pipeline.runs[0], "metrics": []})
    assert error["extensions"]["field"] == "metrics"


async def test_a_series_gives_a_keys_values_at_once_beside_single_points(gql: GraphQLClient) -> None:
    pipeline = await record_pipeline(gql, runs=1)
    run = pipeline.runs[0]
    logged = await gql(
        LOG,
        i={
            "runId": run,
            "series": [
                {"key": "loss", "values": [0.9, 0.7, 0.6], "steps": [10, 11, 12], "timestamp": "2026-12-01T08:00:00Z"},
                {"key": "lr", "values": [0.1, 0.1]},
            ],
            "metrics": _points("loss", [(13, 0.55)]),
        },
    )
    assert logged["logMetrics"]["points"] == 6
    assert logged["logMetrics"]["run"]["devPerf"]["metrics"]["loss"] == 0.55
    page = (await gql(HISTORY, r=run, k="loss", first=10))["node"]["metricHistory"]["points"]
    assert [(p["step"], p["value"]) for p in page] == [(10, 0.9), (11, 0.7), (12, 0.6), (13, 0.55)]
    assert page[0]["timestamp"] == "2026-12-01T08:00:00+00:00"
    lr = (await gql(HISTORY, r=run, k="lr", first=10))["node"]["metricHistory"]["points"]
    assert [(p["step"], p["value"]) for p in lr] == [(0, 0.1), (0, 0.1)]

    before = (await gql(HISTORY, r=run, k="loss", first=100))["node"]["metricHistory"]["points"]
    cases: list[tuple[dict[str, Any], str]] = [
        ({"series": [{"key": "loss", "values": [1.0, 2.0], "steps": [1]}]}, "series[0].steps"),
        ({"series": [{"key": "loss", "values": [1.0, 2.0], "steps": [1, -1]}]}, "series[0].steps[1]"),
        ({"series": [{"key": " ", "values": [1.0]}]}, "series[0].key"),
        ({"series": [{"key": "loss", "values": [0.0] * 9_000}], "metrics": _points("loss", [(1, 1.0)] * 1_001)}, "metrics"),
        ({}, "metrics"),
    ]
    for bad, field in cases:
        error = await gql.error(LOG, i={"runId": run, **bad})
        assert (error["extensions"]["code"], error["extensions"]["field"]) == ("BAD_USER_INPUT", field), field
    assert (await gql(HISTORY, r=run, k="loss", first=100))["node"]["metricHistory"]["points"] == before


async def test_a_curve_as_columns_is_the_same_points(gql: GraphQLClient) -> None:
    pipeline = await record_pipeline(gql, runs=1)
    run = pipeline.runs[0]
    await gql(
        LOG,
        i={"runId": run, "series": [{"key": "loss", "values": [1 / (s + 1) for s in range(3000)], "steps": list(range(3000))}]},
    )
    found = await gql(
        """query($r: ID!) { node(id: $r) { ... on Run { metricCurve(key: "loss", maxPoints: 40) { step value timestamp }
             metricSeries(key: "loss", maxPoints: 40) { key steps values timestamps } } } }""",
        r=run,
    )
    curve, series = found["node"]["metricCurve"], found["node"]["metricSeries"]
    assert len(curve) == 40 and series["key"] == "loss"
    assert list(zip(series["steps"], series["values"], series["timestamps"])) == [
        (p["step"], p["value"], p["timestamp"]) for p in curve
    ]
    error = await gql.error(
        'query($r: ID!) { node(id: $r) { ... on Run { metricSeries(key: "loss", maxPoints: 0) { key } } } }', r=run
    )
    assert (error["extensions"]["code"], error["extensions"]["field"]) == ("BAD_USER_INPUT", "maxPoints")


async def test_points_logged_out_of_order_take_their_place_and_a_cursor_still_follows_its_point(gql: GraphQLClient) -> None:
    run = (await record_pipeline(gql, runs=1)).runs[0]
    rng = random.Random(15)
    logged: list[tuple[int, float]] = []
    # Calls whose steps rise, and calls that reach back before points already stored.
    for call in range(12):
        base = call * 10 if call % 3 else rng.randrange(0, 100)
        batch = [(base + rng.randrange(0, 15), float(call * 100 + i)) for i in range(rng.randrange(1, 30))]
        await gql(LOG, i={"runId": run, "metrics": _points("loss", batch)})
        logged += batch
    # A history is in step order, points of a step in the order they came in.
    expected = [v for _, v in sorted(logged, key=lambda p: p[0])]
    page = (await gql(HISTORY, r=run, k="loss", first=1000))["node"]["metricHistory"]
    assert [p["value"] for p in page["points"]] == expected
    for n in (1, 2, 7, 50, len(logged) - 1, len(logged), 1000):
        curve = (await gql(CURVES, ids=[run], k="loss", n=n))["nodes"][0]["metricCurve"]
        reference = [MetricPoint(run, "loss", v, 0, "", f"{i:04d}") for i, v in enumerate(expected)]
        assert [p["value"] for p in curve] == [p.value for p in downsampled(reference, n)], n

    # A page's cursor, then points logged before its point: the next page starts right
    # after the point it ended on, though that point has moved on.
    first = (await gql(HISTORY, r=run, k="loss", first=40))["node"]["metricHistory"]
    await gql(LOG, i={"runId": run, "metrics": _points("loss", [(0, -1.0), (1, -2.0), (200, -3.0)])})
    rest = (await gql(HISTORY, r=run, k="loss", first=1000, after=first["endCursor"]))["node"]["metricHistory"]
    assert [p["value"] for p in first["points"]] + [p["value"] for p in rest["points"]] == expected + [-3.0]
    bad = await gql.error(HISTORY, r=run, k="loss", first=5, after="bm90IGEgY3Vyc29y")
    assert bad["extensions"]["code"] == "BAD_USER_INPUT"

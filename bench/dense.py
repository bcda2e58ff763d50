"""Lineage on dense graphs: one model with a hyper-parameter sweep of thousands of runs
(all on one dataset and featureset, each with its params and dev performance), one
deployment of the sweep's best run. Measures, in process through the GraphQL schema, a
deployment's upstream lineage and a dataset's downstream impact with `limit: 100`, and
the deployment's complete upstream lineage, at 5,000 and 50,000 runs; and, as the
baseline measured in the same run, the walk the SQLite adapter used before (rows that
carried each edge, the limit applied after the whole walk) beside today's, at sweeps
small enough for the old walk to finish. Writes bench/results-dense.md.

    make bench-dense
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiosqlite

from bench.stats import percentile
from metagate.resolvers.ids import encode_id
from metagate.resolvers.queries import Limits
from metagate.schema import build_schema
from metagate.schema.context import make_context
from metagate.store.model import LINEAGE_EDGE_KINDS, Direction, Edge, Kind, Node, format_time
from metagate.store.port import LineageQuery
from metagate.store.sqlite import SQLiteStore
from metagate.store.sqlite_sql import NODE_COLUMNS

EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
LINEAGE = """query($id: ID!, $d: LineageDirection!, $limit: Int, $kinds: [NodeKind!]) {
  lineage(id: $id, direction: $d, depth: 10, limit: $limit, kinds: $kinds) {
    nodes { depth node { id kind name } } edges { kind from to } truncated } }"""

# The walk of the SQLite adapter before issue #11's first step, kept here only to be
# measured against: each row carried the edge it came by, so its UNION kept a node once
# per edge, and LIMIT applied after the whole walk.
PREVIOUS_WALK = f"""
WITH RECURSIVE
  steps(ek, dir, step) AS (SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(:steps)),
  walk(id, depth, dir, ek, efrom, eto, ecreated) AS (
    SELECT :start, 0, value, NULL, NULL, NULL, NULL FROM json_each(:dirs)
    UNION
    SELECT e.to_id, w.depth + 1, w.dir, e.kind, e.from_id, e.to_id, e.created_at
      FROM walk w JOIN edges e ON e.from_id = w.id JOIN steps s ON s.ek = e.kind AND s.dir = w.dir AND s.step = 'out'
     WHERE w.depth < :depth
    UNION
    SELECT e.from_id, w.depth + 1, w.dir, e.kind, e.from_id, e.to_id, e.created_at
      FROM walk w JOIN edges e ON e.to_id = w.id JOIN steps s ON s.ek = e.kind AND s.dir = w.dir AND s.step = 'in'
     WHERE w.depth < :depth
  ),
  best(id, dir, depth) AS (SELECT id, dir, MIN(depth) FROM walk WHERE depth > 0 GROUP BY id, dir),
  picked AS (
    SELECT b.depth, b.dir, {NODE_COLUMNS} FROM best b JOIN nodes n ON n.id = b.id
     WHERE :kinds IS NULL OR n.kind IN (SELECT value FROM json_each(:kinds))
     ORDER BY b.depth, n.kind, n.created_at, n.id LIMIT :limit + 1
  )
SELECT 'n', depth, dir, id FROM picked
UNION ALL
SELECT DISTINCT 'e', NULL, NULL, ek || efrom || eto FROM walk WHERE depth > 0
"""


# Its table of steps, as it was bound: (edge kind, walk direction, way to follow).
PREVIOUS_STEPS = json.dumps(
    [[e.name, d.value, e.step(d).value] for e in LINEAGE_EDGE_KINDS for d in (Direction.UPSTREAM, Direction.DOWNSTREAM)]
)


async def load_sweep(store: SQLiteStore, runs: int) -> tuple[str, str]:
    """The sweep, through the store port; returns the deployment's and the dataset's ids."""
    clock = [0]

    def node(kind: Kind, name: str | None, scope: str = "", **fields: object) -> Node:
        clock[0] += 1
        return Node(
            f"{kind.value}/{clock[0]:012d}",
            kind,
            name,
            format_time(EPOCH + dt.timedelta(milliseconds=clock[0])),
            scope,
            (),
            {},
            dict(fields),
        )

    project, dataset = node(Kind.PROJECT, "sweep"), node(Kind.DATASET, "sweep-data")
    featureset, model = node(Kind.FEATURESET, "sweep-features"), node(Kind.MODEL, "sweep-model", project.id)
    nodes = [project, dataset, featureset, model]
    edges = [
        Edge("featureset_dataset", featureset.id, dataset.id, featureset.created_at),
        Edge("project_model", project.id, model.id, model.created_at),
    ]
    best = None
    for r in range(runs):
        run = node(Kind.RUN, f"trial-{r}", model.id, status="COMPLETED")
        params = node(Kind.MODELPARAMS, None, run.id, params={"trial": r})
        perf = node(Kind.DEVPERF, None, run.id, metrics={"rmse": 1 / (r + 2)})
        nodes += [run, params, perf]
        edges += [Edge(kind, run.id, other.id, run.created_at) for kind, other in (
            ("run_model", model), ("run_dataset", dataset), ("run_featureset", featureset),
            ("run_modelparams", params), ("run_devperf", perf))]  # fmt: skip
        best = params
    assert best is not None
    deployment = node(Kind.DEPLOYMENT, "sweep-prod", tag="sweep-prod")
    nodes.append(deployment)
    edges += [Edge(kind, deployment.id, other.id, deployment.created_at) for kind, other in (
        ("deployment_model", model), ("deployment_featureset", featureset), ("deployment_modelparams", best))]  # fmt: skip
    for chunk in range(0, len(nodes), 20000):
        async with store.write() as tx:
            await tx.insert_nodes(nodes[chunk : chunk + 20000])
    for chunk in range(0, len(edges), 20000):
        async with store.write() as tx:
            await tx.insert_edges(edges[chunk : chunk + 20000])
    return deployment.id, dataset.id


async def _p50(call: Callable[[], Awaitable[Any]], seconds: float, minimum: int) -> tuple[float, int]:
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(latencies) < minimum:
        started = time.perf_counter()
        await call()
        latencies.append(time.perf_counter() - started)
    return percentile(latencies, 0.5), len(latencies)


async def bench_sweep(runs: int, seconds: float, workdir: Path) -> list[tuple[str, float, int, int]]:
    """(scenario, p50 ms, requests, walk rows per request) for one sweep."""
    store = SQLiteStore(str(workdir / f"sweep-{runs}.db"))
    await store.open()
    # The complete walk's answer (10,000 nodes and their edges) is above the default
    # cost limit: a deployment that wants it raises MAX_QUERY_COST, as this does.
    limits = Limits(max_query_cost=100_000)
    schema = build_schema(limits)
    rows: list[tuple[str, float, int, int]] = []
    try:
        deployment, dataset = await load_sweep(store, runs)

        async def graphql(variables: dict[str, Any]) -> None:
            result = await schema.execute(
                LINEAGE, variable_values=variables, context_value=make_context(store, Limits(), "bench")
            )
            assert not result.errors, result.errors

        scenarios = [
            ("deployment upstream, limit 100", {"id": encode_id(deployment), "d": "UPSTREAM", "limit": 100}),
            (
                "dataset impact (deployments), limit 100",
                {"id": encode_id(dataset), "d": "DOWNSTREAM", "limit": 100, "kinds": ["DEPLOYMENT"]},
            ),
            ("deployment upstream, complete (limit 10,000)", {"id": encode_id(deployment), "d": "UPSTREAM", "limit": 10000}),
        ]
        for scenario, variables in scenarios:
            walked = store.lineage_rows
            p50, count = await _p50(lambda v=variables: graphql(v), seconds, 5)
            rows.append((scenario, p50, count, (store.lineage_rows - walked) // count))
    finally:
        await store.close()
    return rows


async def bench_previous(runs: int, seconds: float, workdir: Path) -> list[tuple[str, float, float]]:
    """(scenario, p50 ms of the previous walk, p50 ms of today's) at one sweep size, both
    at the store, the same query (deployment upstream, limit 100, depth 10)."""
    path = workdir / f"previous-{runs}.db"
    store = SQLiteStore(str(path))
    await store.open()
    try:
        deployment, _ = await load_sweep(store, runs)
        query = LineageQuery(start=deployment, direction=Direction.UPSTREAM, depth=10, limit=100)
        today, _ = await _p50(lambda: store.lineage(query), seconds, 3)
        params = {
            "steps": PREVIOUS_STEPS,
            "dirs": '["upstream"]',
            "start": deployment,
            "depth": 10,
            "kinds": None,
            "limit": 100,
        }
        async with aiosqlite.connect(path) as conn:

            async def previous() -> None:
                await conn.execute_fetchall(PREVIOUS_WALK, params)

            before, _ = await _p50(previous, seconds, 3)
    finally:
        await store.close()
    return [(f"deployment upstream, limit 100, {runs:,} runs", before, today)]


def main() -> None:
    parser = argparse.ArgumentParser(description="Metagate: lineage on dense graphs")
    parser.add_argument("--sweeps", default="5000,50000", help="runs on the one model")
    parser.add_argument("--previous", default="500,2000", help="sweep sizes at which the previous walk is measured too")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--output", type=Path, default=Path(__file__).with_name("results-dense.md"))
    args = parser.parse_args()
    sweeps = [int(s) for s in args.sweeps.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        measured = {runs: asyncio.run(bench_sweep(runs, args.seconds, Path(tmp))) for runs in sweeps}
        previous = [
            row for runs in args.previous.split(",") for row in asyncio.run(bench_previous(int(runs), args.seconds, Path(tmp)))
        ]
    lines = [
        "# Lineage on dense graphs",
        "",
        "Written by `make bench-dense` (bench/dense.py): one model with a sweep of runs, each with its params and",
        "dev performance, on one dataset and featureset; one deployment. In process through the GraphQL schema,",
        "SQLite store, one request after another. Walk rows: rows the lineage walk produced per request",
        "(its cost, counted by the adapter).",
        "",
        "| runs | scenario | p50 (ms) | requests | walk rows / request |",
        "|---|---|---|---|---|",
    ]
    for runs, rows in measured.items():
        lines += [f"| {runs:,} | {scenario} | {p50:.2f} | {count} | {walked:,} |" for scenario, p50, count, walked in rows]
    if len(sweeps) >= 2:
        small, large = measured[sweeps[0]], measured[sweeps[-1]]
        lines += ["", f"p50 at {sweeps[-1]:,} runs / p50 at {sweeps[0]:,} runs (the issue's target: <= 1.5x):", ""]
        lines += [f"- {a[0]}: {b[1] / a[1]:.2f}x" for a, b in zip(small, large)]
    lines += [
        "",
        "The previous walk (rows that carried each edge; the limit applied after the whole walk) beside",
        "today's, at the store, measured in the same run:",
        "",
        "| scenario | previous p50 (ms) | today p50 (ms) | previous / today |",
        "|---|---|---|---|",
    ]
    lines += [f"| {s} | {before:.2f} | {today:.2f} | {before / today:.1f}x |" for s, before, today in previous]
    args.output.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

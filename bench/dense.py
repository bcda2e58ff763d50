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
import json
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiosqlite
import httpx

from bench.generate import sweep
from bench.peers.run import MLMD, PeerError, ensure_venv, run_script
from bench.stats import percentile
from metagate.resolvers.ids import encode_id
from metagate.resolvers.queries import Limits
from metagate.schema import build_schema
from metagate.schema.context import make_context
from metagate.store.model import LINEAGE_EDGE_KINDS, Direction
from metagate.store.port import LineageQuery
from metagate.store.sqlite import SQLiteStore
from metagate.store.sqlite_sql import NODE_COLUMNS
from tests.server import Server

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
    """The sweep (bench.generate.sweep), through the store port; returns the deployment's
    and the dataset's ids."""
    made = sweep(runs)
    nodes, edges = made.batch.nodes, made.batch.edges
    for chunk in range(0, len(nodes), 20000):
        async with store.write() as tx:
            await tx.insert_nodes(nodes[chunk : chunk + 20000])
    for chunk in range(0, len(edges), 20000):
        async with store.write() as tx:
            await tx.insert_edges(edges[chunk : chunk + 20000])
    return made.deployment, made.dataset


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
            ("dataset downstream (every kind), limit 100", {"id": encode_id(dataset), "d": "DOWNSTREAM", "limit": 100}),
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


async def complete_over_http(runs: int, seconds: float, workdir: Path) -> tuple[float, int, int]:
    """(p50 ms, requests, nodes answered) of a sweep's deployment's complete upstream
    lineage over HTTP, against `metagate serve` (tokens on) on a store of the sweep."""
    db = workdir / f"http-sweep-{runs}.db"
    store = SQLiteStore(str(db))
    await store.open()
    deployment, _ = await load_sweep(store, runs)
    await store.close()
    server = Server(db)
    try:
        headers = {"authorization": f"Bearer {server.token}"}
        async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=120) as http:
            # Every node up the sweep: the limit is above the 2 x runs + 4 there are.
            variables = {"id": encode_id(deployment), "d": "UPSTREAM", "limit": 2 * runs + 10}

            async def call() -> dict[str, Any]:
                body: dict[str, Any] = (await http.post("/graphql", json={"query": LINEAGE, "variables": variables})).json()
                assert "errors" not in body and not body["data"]["lineage"]["truncated"], body
                return body

            answered = len((await call())["data"]["lineage"]["nodes"]) + 1  # and the deployment itself
            assert answered == 2 * runs + 4, (runs, answered)
            p50, count = await _p50(call, seconds, 5)
    finally:
        server.stop()
    return p50, count, answered


def side_by_side(sizes: list[int], seconds: float, workdir: Path) -> list[str]:
    """The complete upstream lineage of a sweep's deployment: Metagate over HTTP beside ML
    Metadata's get_lineage_subgraph in process, in its own environment (bench/peers)."""
    ours = {runs: asyncio.run(complete_over_http(runs, seconds, workdir)) for runs in sizes}
    try:
        peer = run_script(MLMD, ensure_venv(MLMD), ["--sweeps", ",".join(map(str, sizes)), "--seconds", str(seconds)])
        theirs: dict[int, dict[str, Any]] = {(r["nodes"] - 5) // 2: r for r in peer}
        label, note = peer[0]["peer"], ""
    except PeerError as error:
        theirs, label, note = {}, "ML Metadata", f"ML Metadata was not measured: {error}"
    lines = [
        "",
        "A sweep's deployment, its complete upstream lineage: Metagate over HTTP (`metagate serve`, tokens on, the",
        f"query above with a limit above the node count) beside {label}'s get_lineage_subgraph in process (SQLite,",
        "no field mask, in its own environment: bench/peers/mlmd_lineage.py --sweeps), measured in the same run.",
        "MLMD's answer holds one node more (the Featurize execution between a featureset and its dataset).",
        "The issue's target: Metagate at most 0.5x ML Metadata's time.",
        "",
        "| runs | nodes (Metagate / MLMD) | Metagate p50 (ms) | ML Metadata p50 (ms) | Metagate / ML Metadata |",
        "|---|---|---|---|---|",
    ]
    for runs, (p50, _, answered) in ours.items():
        peer_row = theirs.get(runs)
        if peer_row is None:
            lines.append(f"| {runs:,} | {answered:,} / – | {p50:.2f} | not measured | – |")
        else:
            ratio = p50 / peer_row["p50_ms"]
            verdict = "met" if ratio <= 0.5 else f"missed by {ratio / 0.5:.1f}x"
            nodes = f"{answered:,} / {peer_row['nodes']:,}"
            lines.append(f"| {runs:,} | {nodes} | {p50:.2f} | {peer_row['p50_ms']:.2f} | {ratio:.2f}x ({verdict}) |")
    if note:
        lines += ["", note]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description="Metagate: lineage on dense graphs")
    parser.add_argument("--sweeps", default="5000,50000", help="runs on the one model")
    parser.add_argument("--previous", default="500,2000", help="sweep sizes at which the previous walk is measured too")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument(
        "--beside-mlmd", default="30,300,3000", help="sweeps whose complete lineage is measured beside ML Metadata ('' for none)"
    )
    parser.add_argument("--output", type=Path, default=Path(__file__).with_name("results-dense.md"))
    args = parser.parse_args()
    sweeps = [int(s) for s in args.sweeps.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        measured = {runs: asyncio.run(bench_sweep(runs, args.seconds, Path(tmp))) for runs in sweeps}
        previous = [
            row for runs in args.previous.split(",") for row in asyncio.run(bench_previous(int(runs), args.seconds, Path(tmp)))
        ]
        beside = side_by_side([int(s) for s in args.beside_mlmd.split(",")], args.seconds, Path(tmp)) if args.beside_mlmd else []
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
    lines += beside
    args.output.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

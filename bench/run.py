"""The benchmark harness: loads generated pipeline graphs of several sizes into the
SQLite store and measures the lineage scenarios in process and over HTTP. Writes
bench/results.md with the machine and the date.

    make bench-quick        # ~10k nodes
    make bench              # ~10k, ~100k and ~1M nodes
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.generate import load, runs_for
from resolvers.queries import Limits
from schema import build_schema
from schema.context import make_context
from store.sqlite import SQLiteStore
from tests.server import Server, free_port

NESTED = """query($id: ID!) { node(id: $id) { ... on Deployment { name
  model { runs { nodes { name featureset { name dataset { name } } devPerf { metrics } modelParams { params } } } }
  servingPerf(first: 1) { nodes { periodStart metrics } } } } }"""
LINEAGE = """query($id: ID!, $d: LineageDirection!, $depth: Int, $kinds: [NodeKind!]) {
  lineage(id: $id, direction: $d, depth: $depth, kinds: $kinds) { nodes { depth node { id kind } } truncated } }"""


NOTES = """## Levers and what they bought

Measured at ~10k nodes, p50, in process unless said otherwise.

1. Depth and alias validation rules made once instead of per request, so that
   strawberry's ValidationCache hits: nested deployment lineage 8.6 -> 4.0 ms, lineage
   depth 1 5.4 -> 2.0 ms, the same over HTTP 15.4 -> 8.7 ms; a `logRun` through the
   schema 5.6 -> 2.9 ms (a cProfile of 100 logRun requests showed graphql-core's
   validation visitor in about half of the time).

## Not measured yet

ML Metadata and MLflow side by side, and the PNG chart; ingestion is measured under mixed load by
`make bench-load` (bench/results-load.md), not yet as its own scenario with 1 and 16
clients.
"""


@dataclass
class Row:
    size: int
    scenario: str
    p50: float
    p95: float
    p99: float
    throughput: float
    round_trips: float

    def markdown(self) -> str:
        return (f"| {self.size:,} | {self.scenario} | {self.p50:.2f} | {self.p95:.2f} | {self.p99:.2f} |"
                f" {self.throughput:,.0f} | {self.round_trips:.1f} |")


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def _measure(size: int, scenario: str, call: Callable[[int], Awaitable[Any]], store: SQLiteStore | None,
                   seconds: float) -> Row:
    latencies: list[float] = []
    statements = store.statements if store else 0
    deadline = time.perf_counter() + seconds
    number = 0
    while time.perf_counter() < deadline or number < 20:
        started = time.perf_counter()
        await call(number)
        latencies.append(time.perf_counter() - started)
        number += 1
    trips = (store.statements - statements) / number if store else float("nan")
    total = sum(latencies)
    return Row(size, scenario, _percentile(latencies, 0.5), _percentile(latencies, 0.95),
               _percentile(latencies, 0.99), number / total, trips)


async def bench_size(nodes: int, seconds: float, workdir: Path) -> tuple[list[Row], dict[str, Any]]:
    db = workdir / f"graph-{nodes}.db"
    store = SQLiteStore(str(db))
    await store.open()
    catalog, load_rate = await load(store, runs_for(nodes))
    schema = build_schema()
    rows: list[Row] = []

    async def in_process(query: str, variables: dict[str, Any]) -> None:
        result = await schema.execute(query, variable_values=variables,
                                      context_value=make_context(store, Limits(), "bench"))
        assert not result.errors, result.errors

    deployments, datasets = catalog.deployments, catalog.datasets
    rows.append(await _measure(catalog.nodes, "nested deployment lineage, in process",
                               lambda i: in_process(NESTED, {"id": _gid(deployments[i % len(deployments)])}),
                               store, seconds))
    for direction, start in (("UPSTREAM", deployments), ("DOWNSTREAM", datasets)):
        for depth in (1, 2, 5, 10):
            rows.append(await _measure(
                catalog.nodes, f"lineage {direction.lower()} depth {depth}, in process",
                lambda i, d=direction, s=start, k=depth: in_process(LINEAGE, {"id": _gid(s[i % len(s)]), "d": d,
                                                                             "depth": k}),
                store, seconds / 4))
    rows.append(await _measure(
        catalog.nodes, "impact: deployments downstream of a dataset, in process",
        lambda i: in_process(LINEAGE, {"id": _gid(datasets[i % len(datasets)]), "d": "DOWNSTREAM",
                                       "kinds": ["DEPLOYMENT"]}),
        store, seconds))
    await store.close()

    rows += await _graphql_against_plain_route(db, catalog.nodes, deployments, seconds)
    server = Server(db)
    try:
        async with httpx.AsyncClient(base_url=server.url, headers={"authorization": f"Bearer {server.token}"}) as http:
            async def over_http(i: int) -> None:
                response = await http.post("/graphql", json={"query": NESTED, "variables": {
                    "id": _gid(deployments[i % len(deployments)])}})
                assert "errors" not in response.json()

            rows.append(await _measure(catalog.nodes, "nested deployment lineage, over HTTP", over_http, None,
                                       seconds))
    finally:
        server.stop()
    with sqlite3.connect(db) as conn:
        size_mb = conn.execute("PRAGMA page_count").fetchone()[0] * conn.execute("PRAGMA page_size").fetchone()[0] / 2**20
    return rows, {"nodes": catalog.nodes, "load_rate": load_rate, "db_mb": size_mb}


async def _graphql_against_plain_route(db: Path, size: int, deployments: list[str], seconds: float) -> list[Row]:
    """The same nested answer over HTTP from one process: through GraphQL, and through
    a plain Starlette JSON route making the same store calls (bench/baseline.py)."""
    port = free_port()
    env = {**os.environ, "METAGATE_STORE": str(db)}
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "bench.baseline:create", "--port", str(port),
         "--log-level", "warning"], env=env,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            for _ in range(100):
                try:
                    if (await http.get("/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)

            async def graphql(i: int) -> None:
                body = (await http.post("/graphql", json={"query": NESTED, "variables": {
                    "id": _gid(deployments[i % len(deployments)])}})).json()
                assert "errors" not in body, body

            async def plain(i: int) -> None:
                body = (await http.get(f"/baseline/deployment/{_gid(deployments[i % len(deployments)])}")).json()
                assert body["data"]["node"], body

            through_graphql = await _measure(size, "nested deployment lineage, GraphQL over HTTP (no auth)",
                                             graphql, None, seconds)
            through_plain = await _measure(size, "the same answer, plain Starlette JSON route", plain, None, seconds)
    finally:
        process.terminate()
        process.wait(timeout=10)
    ratio = through_graphql.throughput / through_plain.throughput
    through_graphql.scenario += f" ({ratio:.2f}x the plain route)"
    return [through_graphql, through_plain]


def _gid(node_id: str) -> str:
    from resolvers.ids import encode_id

    return encode_id(node_id)


def main() -> None:
    parser = argparse.ArgumentParser(description="Metagate benchmarks")
    parser.add_argument("--sizes", default="10000,100000,1000000", help="graph sizes in nodes")
    parser.add_argument("--seconds", type=float, default=5.0, help="time per scenario")
    parser.add_argument("--output", type=Path, default=Path(__file__).with_name("results.md"))
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rows: list[Row] = []
    loads: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            measured, info = asyncio.run(bench_size(size, args.seconds, Path(tmp)))
            rows += measured
            loads.append(info)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    lines = [
        "# Metagate benchmarks",
        "",
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; {platform.machine()}, {os.cpu_count()} cores,"
        f" Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}; SQLite store (WAL), one process.",
        f"Peak RSS of the harness process (in-process scenarios): {peak_mb:.0f} MB.",
        "",
        "| graph nodes | scenario | p50 (ms) | p95 (ms) | p99 (ms) | throughput (/s) | store round trips / request |",
        "|---:|---|---:|---:|---:|---:|---:|",
        *[row.markdown() for row in rows],
        "",
        "| graph nodes | bulk load (nodes/s) | database size (MB) |",
        "|---:|---:|---:|",
        *[f"| {info['nodes']:,} | {info['load_rate']:,.0f} | {info['db_mb']:.0f} |" for info in loads],
        "",
    ]
    lines.append(NOTES)
    args.output.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()

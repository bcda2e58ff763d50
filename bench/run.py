"""The benchmark harness: loads generated pipeline graphs of several sizes into the
SQLite store and measures every scenario of the performance issue, in process and over
HTTP against real gateway processes, beside ML Metadata and MLflow (bench/peers/).
Writes bench/results.md (the tables, the targets, a profile) and bench/results.png.

    make bench-quick        # ~10k nodes, no peers
    make bench              # ~10k, ~100k and ~1M nodes, peers when their venvs build
    make bench-peers        # the same, and a peer that cannot be built is an error
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import dataclasses
import json
import math
import os
import pstats
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench import report
from bench.generate import Catalog, load, runs_for
from bench.ingest import ingest_all
from bench.stats import Row, own_peak_rss_mb, peak_rss_mb, percentile, store_round_trips
from metagate.resolvers.ids import encode_id
from metagate.resolvers.queries import Limits
from metagate.schema import build_schema
from metagate.schema.context import make_context
from metagate.store.sqlite import SQLiteStore
from tests.server import Server, free_port

NESTED = """query($id: ID!) { node(id: $id) { ... on Deployment { name
  model { runs { nodes { name featureset { name dataset { name } } devPerf { metrics } modelParams { params } } } }
  servingPerf(first: 1) { nodes { periodStart metrics } } } } }"""
LINEAGE = """query($id: ID!, $d: LineageDirection!, $depth: Int, $kinds: [NodeKind!]) {
  lineage(id: $id, direction: $d, depth: $depth, kinds: $kinds) { nodes { depth node { id kind } } truncated } }"""
BEST_RUNS = """query($lt: Float!, $after: String) {
  runs(first: 100, after: $after, filter: {metric: {name: "rmse", lt: $lt}},
       orderBy: {field: METRIC, metric: "rmse", direction: ASC}) {
    pageInfo { hasNextPage endCursor } nodes { name devPerf { metrics } } } }"""
BEST_RUNS_WANTED = 1000
# The 200-byte reader query: 100 x 100 x 100 runs, a cost far above MAX_QUERY_COST.
COSTLY = """query($id: ID!) { node(id: $id) { ... on Model { runs(first: 100) { nodes { model { runs(first: 100) {
  nodes { model { runs(first: 100) { nodes { id } } } } } } } } } } }"""
REFUSING_CLIENTS = 8


@dataclass
class SizeResult:
    nodes: int
    runs: int
    load_rate: float
    db_mb: float
    rows: list[Row] = field(default_factory=list)
    server_rss_mb: float = float("nan")
    profile: str = ""


async def _measure(
    size: int,
    scenario: str,
    call: Callable[[int], Awaitable[Any]],
    seconds: float,
    *,
    store: SQLiteStore | None = None,
    http: httpx.AsyncClient | None = None,
    pid: int | None = None,
    minimum: int = 20,
) -> Row:
    """Calls `call` one request after another for `seconds` (and at least `minimum` times)."""
    latencies: list[float] = []
    trips_before = store.statements if store else (await store_round_trips(http) if http else math.nan)
    deadline = time.perf_counter() + seconds
    number = 0
    while time.perf_counter() < deadline or number < minimum:
        started = time.perf_counter()
        await call(number)
        latencies.append(time.perf_counter() - started)
        number += 1
    trips_after = store.statements if store else (await store_round_trips(http) if http else math.nan)
    rss = peak_rss_mb(pid) if pid else own_peak_rss_mb()
    return Row(
        size,
        scenario,
        percentile(latencies, 0.5),
        percentile(latencies, 0.95),
        percentile(latencies, 0.99),
        number / sum(latencies),
        (trips_after - trips_before) / number,
        rss_mb=rss,
    )


async def _in_process(store: SQLiteStore, catalog: Catalog, seconds: float) -> list[Row]:
    schema = build_schema()

    async def run(query: str, variables: dict[str, Any]) -> None:
        result = await schema.execute(query, variable_values=variables, context_value=make_context(store, Limits(), "bench"))
        assert not result.errors, result.errors

    deployments, datasets = catalog.deployments, catalog.datasets
    rows = [
        await _measure(
            catalog.nodes,
            "nested deployment lineage, in process",
            lambda i: run(NESTED, {"id": encode_id(deployments[i % len(deployments)])}),
            seconds,
            store=store,
        )
    ]
    for direction, start in (("UPSTREAM", deployments), ("DOWNSTREAM", datasets)):
        for depth in (1, 2, 5, 10):
            rows.append(
                await _measure(
                    catalog.nodes,
                    f"lineage {direction.lower()} depth {depth}, in process",
                    lambda i, d=direction, s=start, k=depth: run(LINEAGE, {"id": encode_id(s[i % len(s)]), "d": d, "depth": k}),
                    seconds / 4,
                    store=store,
                )
            )
    rows.append(
        await _measure(
            catalog.nodes,
            "impact: deployments downstream of a dataset, in process",
            lambda i: run(LINEAGE, {"id": encode_id(datasets[i % len(datasets)]), "d": "DOWNSTREAM", "kinds": ["DEPLOYMENT"]}),
            seconds,
            store=store,
        )
    )
    return rows


async def _wait_ready(http: httpx.AsyncClient, process: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        if process.poll() is not None:
            raise RuntimeError("the baseline server exited")
        try:
            if (await http.get("/readyz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError("the baseline server did not become ready")


async def _graphql_against_plain_route(db: Path, size: int, deployments: list[str], seconds: float) -> list[Row]:
    """The same nested answer over HTTP from one process: through GraphQL, through a
    plain Starlette JSON route making the store calls the resolvers made, and through a
    bare route answering from one hand-written SQL query (bench/baseline.py)."""
    port = free_port()
    env = {**os.environ, "METAGATE_STORE": str(db)}
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "bench.baseline:create", "--port", str(port), "--log-level", "warning"],
        env=env,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            await _wait_ready(http, process)

            async def graphql(i: int) -> None:
                body = (
                    await http.post(
                        "/graphql", json={"query": NESTED, "variables": {"id": encode_id(deployments[i % len(deployments)])}}
                    )
                ).json()
                assert "errors" not in body, body

            async def plain(i: int) -> None:
                body = (await http.get(f"/baseline/deployment/{encode_id(deployments[i % len(deployments)])}")).json()
                assert body["data"]["node"], body

            async def bare(i: int) -> None:
                body = (await http.get(f"/baseline-sql/deployment/{encode_id(deployments[i % len(deployments)])}")).json()
                assert body["data"]["node"], body

            through_graphql = await _measure(
                size, "nested deployment lineage, GraphQL over HTTP (no auth)", graphql, seconds, http=http, pid=process.pid
            )
            through_plain = await _measure(
                size, "the same answer, plain Starlette JSON route", plain, seconds, http=http, pid=process.pid
            )
            through_sql = await _measure(
                size, "the same answer, bare route, one hand-written SQL query", bare, seconds, http=http, pid=process.pid
            )
    finally:
        process.terminate()
        process.wait(timeout=10)
    ratio = through_graphql.throughput / through_plain.throughput
    bare_ratio = through_graphql.throughput / through_sql.throughput
    through_graphql.scenario += f" ({ratio:.2f}x the plain route, {bare_ratio:.2f}x the bare SQL route)"
    return [through_graphql, through_plain, through_sql]


async def _refusals_and_health(
    http: httpx.AsyncClient, clients: int, size: int, node_id: str, seconds: float, pid: int
) -> list[Row]:
    """``clients`` clients sending the costly query over and over, and /healthz asked
    meanwhile on a connection of its own (as a probe asks it), one request after another:
    how fast the refusal comes, and whether the cheap request keeps answering. The cost
    is the query's own, whatever ``node_id`` is: the refusal comes before the store."""
    refusals: list[float] = []
    health: list[float] = []
    deadline = time.perf_counter() + seconds

    async def refuse() -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            body = (await http.post("/graphql", json={"query": COSTLY, "variables": {"id": encode_id(node_id)}})).json()
            refusals.append(time.perf_counter() - started)
            assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body

    async def healthz(probe: httpx.AsyncClient) -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            assert (await probe.get("/healthz")).status_code == 200
            health.append(time.perf_counter() - started)
            await asyncio.sleep(0.01)

    trips_before = await store_round_trips(http)
    async with httpx.AsyncClient(base_url=http.base_url) as probe:
        await asyncio.gather(healthz(probe), *(refuse() for _ in range(clients)))
    trips = (await store_round_trips(http) - trips_before) / max(1, len(refusals) + len(health))
    rss = peak_rss_mb(pid)

    def row(scenario: str, latencies: list[float]) -> Row:
        p50, p95, p99 = (percentile(latencies, q) for q in (0.5, 0.95, 0.99))
        return Row(size, scenario, p50, p95, p99, len(latencies) / seconds, trips, rss_mb=rss, count=len(latencies))

    who = "1 client" if clients == 1 else f"{clients} clients at once"
    return [
        row(f"cost-limit refusal of the 100 x 100 x 100 runs query over HTTP, {who}", refusals),
        row(f"/healthz meanwhile ({who} refused; a probe of its own, 10 ms apart)", health),
    ]


async def _over_http(db: Path, catalog: Catalog, seconds: float, ingest_seconds: float) -> tuple[list[Row], float]:
    """Against `metagate serve` (tokens on): nested lineage, the best 1,000 runs by a
    metric, then ingestion into the same store. Returns the rows and the server's peak RSS."""
    server = Server(db)
    deployments = catalog.deployments
    # rmse is uniform in [0.1, 1.0]: this bound lets about 1,000 runs through.
    bound = 0.1 + 0.9 * min(1.0, BEST_RUNS_WANTED / catalog.runs)
    try:
        headers = {"authorization": f"Bearer {server.token}"}
        async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=60) as http:

            async def nested(i: int) -> None:
                body = (
                    await http.post(
                        "/graphql", json={"query": NESTED, "variables": {"id": encode_id(deployments[i % len(deployments)])}}
                    )
                ).json()
                assert "errors" not in body, body

            pages = [0, 0]  # GraphQL requests, calls of best_runs

            async def best_runs(_: int) -> None:
                after, fetched, previous = None, 0, -1.0
                pages[1] += 1
                while True:
                    pages[0] += 1
                    body = (
                        await http.post("/graphql", json={"query": BEST_RUNS, "variables": {"lt": bound, "after": after}})
                    ).json()
                    assert "errors" not in body, body
                    page = body["data"]["runs"]
                    for run in page["nodes"]:
                        rmse = run["devPerf"]["metrics"]["rmse"]
                        assert previous <= rmse < bound, (previous, rmse)
                        previous = rmse
                    fetched += len(page["nodes"])
                    if not page["pageInfo"]["hasNextPage"]:
                        break
                    after = page["pageInfo"]["endCursor"]
                assert fetched > BEST_RUNS_WANTED * 0.8 or catalog.runs < BEST_RUNS_WANTED, fetched

            rows = [
                await _measure(
                    catalog.nodes, "nested deployment lineage, over HTTP", nested, seconds, http=http, pid=server.process.pid
                ),
                await _measure(
                    catalog.nodes,
                    f"the ~{min(BEST_RUNS_WANTED, catalog.runs):,} runs with rmse below"
                    f" {bound:.3f}, best first, in pages of 100, over HTTP (one request = all pages)",
                    best_runs,
                    seconds,
                    http=http,
                    pid=server.process.pid,
                    minimum=3,
                ),
            ]
            # Its store round trips per GraphQL request (one page), the token check included.
            rows[-1].round_trips *= pages[1] / pages[0]
            rows[-1].scenario += "; round trips per page"
            for clients in (1, REFUSING_CLIENTS):
                rows += await _refusals_and_health(http, clients, catalog.nodes, deployments[0], seconds, server.process.pid)
        for row in await ingest_all(server.url, server.token, size=catalog.nodes, seconds=ingest_seconds):
            row.rss_mb = peak_rss_mb(server.process.pid)
            rows.append(row)
        rss = peak_rss_mb(server.process.pid)
    finally:
        server.stop()
    return rows, rss


async def profile_nested(db: Path, deployments: list[str], requests: int = 300) -> str:
    """Where a nested deployment lineage request spends its time, in process: cProfile's
    own time per function, summed by the package it lives in."""
    store = SQLiteStore(str(db))
    await store.open()
    schema = build_schema()
    profiler = cProfile.Profile()
    try:
        for i in range(requests + 20):
            if i == 20:  # after the caches are warm
                profiler.enable()
            result = await schema.execute(
                NESTED,
                variable_values={"id": encode_id(deployments[i % len(deployments)])},
                context_value=make_context(store, Limits(), "bench"),
            )
            assert not result.errors
        profiler.disable()
    finally:
        await store.close()
    stats = pstats.Stats(profiler)
    by_package: dict[str, float] = defaultdict(float)
    for (filename, _, function), (_, _, own, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        by_package[_package(filename, function)] += own
    total = sum(by_package.values())
    lines = ["| where | share of the time |", "|---|---:|"]
    for package, own in sorted(by_package.items(), key=lambda item: -item[1])[:10]:
        lines.append(f"| {package} | {own / total:.0%} |")
    lines.append("")
    lines.append(
        f"{requests} requests, {total / requests * 1000:.2f} ms each under cProfile (which slows Python code more than C code)."
    )
    return "\n".join(lines)


def _package(filename: str, function: str) -> str:
    if "select.epoll" in function:
        return "event loop idle: waiting for SQLite's thread to answer"
    path = filename.replace("\\", "/")
    for marker, name in (
        ("/graphql/", "graphql-core (parse, validate, execute)"),
        ("/strawberry/", "strawberry"),
        ("/aiosqlite/", "aiosqlite (thread hand-off)"),
        ("/asyncio/", "asyncio event loop"),
        ("/store/", "Metagate store adapter (SQL, row decoding)"),
        ("/resolvers/", "Metagate resolvers"),
        ("/schema/", "Metagate schema types"),
    ):
        if marker in path:
            return name
    if filename.startswith("~") or filename.startswith("<"):
        return f"built-ins ({function})" if "sqlite3" in function or "orjson" in function else "other built-ins"
    return "other Python"


async def bench_size(nodes: int, seconds: float, workdir: Path, *, profile: bool = False) -> SizeResult:
    db = workdir / f"graph-{nodes}.db"
    store = SQLiteStore(str(db))
    await store.open()
    try:
        catalog, load_rate = await load(store, runs_for(nodes))
        rows = await _in_process(store, catalog, seconds)
    finally:
        await store.close()
    with sqlite3.connect(db) as conn:
        size_mb = conn.execute("PRAGMA page_count").fetchone()[0] * conn.execute("PRAGMA page_size").fetchone()[0] / 2**20
    result = SizeResult(catalog.nodes, catalog.runs, load_rate, size_mb, rows)
    result.rows += await _graphql_against_plain_route(db, catalog.nodes, catalog.deployments, seconds)
    more, result.server_rss_mb = await _over_http(db, catalog, seconds, max(2.0, seconds / 2))
    result.rows += more
    if profile:
        result.profile = await profile_nested(db, catalog.deployments)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description="Metagate benchmarks")
    parser.add_argument("--sizes", default="10000,100000,1000000", help="graph sizes in nodes")
    parser.add_argument("--seconds", type=float, default=5.0, help="time per scenario")
    parser.add_argument(
        "--peers",
        choices=("no", "optional", "required"),
        default="optional",
        help="measure ML Metadata and MLflow too (bench/peers/)",
    )
    parser.add_argument(
        "--peers-from",
        type=Path,
        default=None,
        help="take the peers' rows from a results-peers.json written earlier instead of measuring them",
    )
    parser.add_argument("--output", type=Path, default=Path(__file__).with_name("results.md"))
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    results: list[SizeResult] = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            results.append(asyncio.run(bench_size(size, args.seconds, Path(tmp), profile=size == sizes[0])))
    peer_rows: list[Row] = []
    peer_notes: list[str] = []
    # Kept before anything else can fail, so that a report can be made again from them.
    args.output.with_name(args.output.stem + "-metagate.json").write_text(
        json.dumps([dataclasses.asdict(r) for r in results], indent=1)
    )
    if args.peers != "no":
        from bench.peers.run import run_peers

        # Measured whatever happens; with --peers required a peer that could not be
        # measured fails the run after the report is written.
        peers = json.loads(args.peers_from.read_text()) if args.peers_from else run_peers(sizes, required=False)
        peer_rows, peer_notes = report.peer_rows(peers)
        if args.peers_from:
            peer_notes.insert(0, f"- The peers' rows come from {args.peers_from}, measured on this machine earlier.")
    report.write_report(args.output, results, peer_rows, peer_notes)
    missing = [note for note in peer_notes if "not measured" in note]
    if args.peers == "required" and missing:
        raise SystemExit("peers not measured:\n" + "\n".join(missing))


if __name__ == "__main__":
    main()

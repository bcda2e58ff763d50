"""Load: concurrent writers (logRun) and readers (nested deployment lineage, runs by
metric) against a real `metagate serve` process for a bounded time. Reports latency
percentiles and throughput, and checks that nothing failed and no write was lost.

    .venv/bin/python -m bench.load --seconds 20 --writers 8 --readers 8
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import sqlite3
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.ingest import client_session, gql, setup
from bench.stats import percentile
from tests.server import Server

LOG_RUN = """mutation($m: ID!, $d: ID!, $f: ID!, $n: String!, $rmse: Float!) {
  logRun(input: {name: $n, modelId: $m, datasetId: $d, featuresetId: $f,
                 params: {depth: 3}, metrics: {rmse: $rmse}}) { run { id } } }"""
NESTED = """query($id: ID!) { node(id: $id) { ... on Deployment { name
  model { runs(first: 20) { nodes { name featureset { dataset { name } } devPerf { metrics } modelParams { params } } } }
  servingPerf(first: 1) { nodes { metrics } } } } }"""
BEST_RUNS = """{ runs(first: 20, filter: {metric: {name: "rmse", lt: 0.5}},
  orderBy: {field: METRIC, metric: "rmse", direction: ASC}) { nodes { name model { name } } } }"""


@dataclass
class Result:
    seconds: float
    writers: int
    readers: int
    latencies: dict[str, list[float]] = field(default_factory=lambda: {"logRun": [], "lineage": [], "bestRuns": []})
    errors: list[str] = field(default_factory=list)
    acknowledged: int = 0
    stored: int = 0

    def percentile(self, name: str, q: float) -> float:
        return percentile(self.latencies[name], q)

    def table(self) -> str:
        rows = [
            "| operation | requests | throughput (/s) | p50 (ms) | p99 (ms) |",
            "|---|---:|---:|---:|---:|",
        ]
        for name, values in self.latencies.items():
            rows.append(
                f"| {name} | {len(values)} | {len(values) / self.seconds:.0f} |"
                f" {self.percentile(name, 0.5):.2f} | {self.percentile(name, 0.99):.2f} |"
            )
        return "\n".join(rows)


async def _setup(client: aiohttp.ClientSession) -> dict[str, str]:
    target = await setup(client, "load")
    ids = {"m": target.model, "d": target.dataset, "f": target.featureset}
    seed = await gql(client, LOG_RUN.replace("run { id }", "run { id } modelParams { id }"), n="seed", rmse=0.1, **ids)
    deployment = (
        await gql(
            client,
            'mutation($m: ID!, $f: ID!, $mp: ID!) { registerDeployment(input: {name: "load-dep", modelId: $m,'
            " featuresetId: $f, modelParamsId: $mp}) { deployment { id } } }",
            m=ids["m"],
            f=ids["f"],
            mp=seed["logRun"]["modelParams"]["id"],
        )
    )["registerDeployment"]
    return {**ids, "deployment": deployment["deployment"]["id"]}


async def run_load(server: Server, *, seconds: float, writers: int, readers: int) -> Result:
    result = Result(seconds=seconds, writers=writers, readers=readers)
    headers = {"authorization": f"Bearer {server.token}"}
    async with client_session(server.url, headers, writers + readers + 2) as client:
        ids = await _setup(client)
        deadline = time.perf_counter() + seconds

        async def call(name: str, query: str, variables: dict[str, Any]) -> dict[str, Any] | None:
            started = time.perf_counter()
            try:
                async with client.post("/graphql", json={"query": query, "variables": variables}) as response:
                    body = await response.json()
            except (aiohttp.ClientError, ValueError) as error:
                result.errors.append(f"{name}: {error!r}")
                return None
            result.latencies[name].append(time.perf_counter() - started)
            if response.status != 200 or body.get("errors"):
                result.errors.append(f"{name}: {response.status} {body.get('errors')}")
                return None
            return body["data"]  # type: ignore[no-any-return]

        async def writer(number: int) -> None:
            count = 0
            while time.perf_counter() < deadline:
                variables = {"m": ids["m"], "d": ids["d"], "f": ids["f"], "n": f"w{number}-{count}", "rmse": (count % 100) / 100}
                if await call("logRun", LOG_RUN, variables):
                    result.acknowledged += 1
                count += 1

        async def reader(number: int) -> None:
            while time.perf_counter() < deadline:
                if number % 2:
                    await call("lineage", NESTED, {"id": ids["deployment"]})
                else:
                    await call("bestRuns", BEST_RUNS, {})

        await asyncio.gather(*[writer(i) for i in range(writers)], *[reader(i) for i in range(readers)])
    return result


def _gateway_times(log: str) -> list[float]:
    """Seconds each /graphql request took inside the gateway, from its JSON access log."""
    times = []
    for line in log.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("message") == "request" and entry.get("path") == "/graphql":
            times.append(entry["duration_ms"] / 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--readers", type=int, default=8)
    parser.add_argument("--workers", type=int, default=1, help="Gateway processes (metagate serve --workers).")
    parser.add_argument("--output", type=Path, default=Path(__file__).with_name("results-load.md"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "load.db"
        server = Server(db, None, "--workers", str(args.workers))
        try:
            result = asyncio.run(run_load(server, seconds=args.seconds, writers=args.writers, readers=args.readers))
        finally:
            server.stop()
        with sqlite3.connect(db) as conn:
            result.stored = conn.execute("SELECT count(*) FROM nodes WHERE kind = 'run'").fetchone()[0] - 1
        inside = _gateway_times(server.output())
    lost = result.acknowledged - result.stored
    processes = "one gateway process" if args.workers == 1 else f"{args.workers} gateway processes (--workers)"
    report = (
        f"# Load: {args.writers} writers (logRun), {args.readers} readers, {args.seconds:g} s\n\n"
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {platform.processor() or platform.machine()},"
        f" {os.cpu_count()} cores, Python {platform.python_version()}, SQLite store, {processes};"
        " the clients are one asyncio process (aiohttp) on the same machine.\n\n"
        f"{result.table()}\n\n"
        f"Errors: {len(result.errors)}. Acknowledged runs: {result.acknowledged}; stored: {result.stored};"
        f" lost: {lost}.\n\n"
        f"Time in the gateway, from its access log (every /graphql request, all operations): p50"
        f" {percentile(inside, 0.5):.2f} ms, p99 {percentile(inside, 0.99):.2f} ms over {len(inside)} requests."
        " What the clients measured beyond it is waiting: for a core, and in the clients' own process.\n"
    )
    args.output.write_text(report)
    print(report)
    if result.errors or lost:
        raise SystemExit(f"load failed: {len(result.errors)} errors, {lost} lost writes: {result.errors[:3]}")


if __name__ == "__main__":
    main()

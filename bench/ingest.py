"""Ingestion: pipeline steps logging runs over HTTP against a real gateway process.

Two ways to log, each from 1, 8 and 16 concurrent clients:
- one run per request (`logRun`);
- batched: many runs per request (`logRuns`), written in one transaction.

Every run is unique (its own name), references the same model, dataset and featureset,
and carries params and metrics. Throughput counts runs, not requests.

    .venv/bin/python -m bench.ingest --seconds 5
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bench.stats import Row, percentile

LOG_RUN = """mutation($m: ID!, $d: ID!, $f: ID!, $n: String!, $rmse: Float!) {
  logRun(input: {name: $n, modelId: $m, datasetId: $d, featuresetId: $f,
                 params: {depth: 3, eta: 0.1}, metrics: {rmse: $rmse}}) { run { id } } }"""
LOG_RUNS = """mutation($runs: [LogRunInput!]!) { logRuns(input: {runs: $runs}) { runs { run { id } } } }"""


@dataclass(frozen=True)
class Target:
    """The model, dataset and featureset that logged runs refer to."""

    model: str
    dataset: str
    featureset: str


async def gql(http: aiohttp.ClientSession, query: str, **variables: Any) -> dict[str, Any]:
    async with http.post("/graphql", json={"query": query, "variables": variables}) as response:
        body = await response.json()
    if response.status != 200 or body.get("errors"):
        raise RuntimeError(f"{response.status}: {body.get('errors')}")
    return body["data"]  # type: ignore[no-any-return]


def client_session(url: str, headers: dict[str, str], connections: int) -> aiohttp.ClientSession:
    """The load's HTTP client: aiohttp, whose C parser lets one process send several
    thousand requests a second (httpx managed about 340 /healthz a second here, so the
    clients, not the gateway, set the figures). Kept-alive connections expire before
    the gateway's 5 s, so that none is used as the gateway closes it."""
    connector = aiohttp.TCPConnector(limit=connections, keepalive_timeout=2)
    return aiohttp.ClientSession(url, headers=headers, connector=connector, timeout=aiohttp.ClientTimeout(total=60))


async def setup(http: aiohttp.ClientSession, label: str) -> Target:
    project = await gql(
        http, "mutation($n: String!) { createProject(input: {name: $n}) { project { id } } }", n=f"ingest-{label}"
    )
    dataset = await gql(
        http, "mutation($n: String!) { registerDataset(input: {name: $n}) { dataset { id } } }", n=f"ingest-{label}"
    )
    featureset = await gql(
        http,
        "mutation($n: String!, $d: ID!) { registerFeatureset(input: {name: $n, datasetId: $d}) { featureset { id } } }",
        n=f"ingest-{label}",
        d=dataset["registerDataset"]["dataset"]["id"],
    )
    model = await gql(
        http,
        "mutation($n: String!, $p: ID!) { registerModel(input: {name: $n, projectId: $p}) { model { id } } }",
        n=f"ingest-{label}",
        p=project["createProject"]["project"]["id"],
    )
    return Target(
        model["registerModel"]["model"]["id"],
        dataset["registerDataset"]["dataset"]["id"],
        featureset["registerFeatureset"]["featureset"]["id"],
    )


def _run_input(target: Target, name: str, number: int) -> dict[str, Any]:
    return {
        "name": name,
        "modelId": target.model,
        "datasetId": target.dataset,
        "featuresetId": target.featureset,
        "params": {"depth": 3, "eta": 0.1},
        "metrics": {"rmse": (number % 1000) / 1000},
    }


async def ingest(url: str, token: str | None, *, size: int, clients: int, batch: int, seconds: float, label: str) -> Row:
    """Logs runs for `seconds` from `clients` concurrent clients, `batch` runs per request
    (1: `logRun`; more: `logRuns`). Returns a row whose throughput is runs per second and
    whose latencies are per request."""
    headers = {"authorization": f"Bearer {token}"} if token else {}
    async with client_session(url, headers, clients + 1) as http:
        target = await setup(http, label)
        latencies: list[float] = []
        runs = [0]
        started = time.perf_counter()
        deadline = started + seconds

        async def client(number: int) -> None:
            count = 0
            while time.perf_counter() < deadline:
                begin = time.perf_counter()
                if batch == 1:
                    await gql(
                        http,
                        LOG_RUN,
                        m=target.model,
                        d=target.dataset,
                        f=target.featureset,
                        n=f"{label}-{number}-{count}",
                        rmse=(count % 1000) / 1000,
                    )
                else:
                    data = await gql(
                        http,
                        LOG_RUNS,
                        runs=[_run_input(target, f"{label}-{number}-{count + i}", count + i) for i in range(batch)],
                    )
                    assert len(data["logRuns"]["runs"]) == batch
                latencies.append(time.perf_counter() - begin)
                count += batch
                runs[0] += batch

        await asyncio.gather(*[client(i) for i in range(clients)])
        elapsed = time.perf_counter() - started
    how = "one run per request (logRun)" if batch == 1 else f"{batch} runs per request (logRuns)"
    return Row(
        size,
        f"ingestion over HTTP, {how}, {clients} client{'s' if clients > 1 else ''}",
        percentile(latencies, 0.5),
        percentile(latencies, 0.95),
        percentile(latencies, 0.99),
        runs[0] / elapsed,
        float("nan"),
        unit="runs",
        count=runs[0],
    )


SHAPES = [(1, 1), (8, 1), (16, 1), (1, 100), (16, 100)]  # (clients, runs per request)


async def ingest_all(url: str, token: str | None, *, size: int, seconds: float) -> list[Row]:
    rows = []
    for clients, batch in SHAPES:
        rows.append(
            await ingest(url, token, size=size, clients=clients, batch=batch, seconds=seconds, label=f"{size}-{clients}x{batch}")
        )
    return rows


WORKER_SHAPES = [(8, 1), (16, 1), (16, 100)]  # what several gateway processes are for


def _by_workers(workers: list[int], seconds: float) -> str:
    """The same shapes against one gateway each with 1, 2, ... worker processes, each
    with a fresh store, in one run: throughput as a ratio to the first count's."""
    import datetime as dt
    import os
    import platform

    from tests.server import Server

    measured: dict[int, list[Row]] = {}
    for count in workers:
        with tempfile.TemporaryDirectory() as tmp:
            server = Server(Path(tmp) / "ingest.db", None, "--workers", str(count))
            try:
                measured[count] = [
                    asyncio.run(
                        ingest(server.url, server.token, size=0, clients=c, batch=b, seconds=seconds, label=f"w{count}-{c}x{b}")
                    )
                    for c, b in WORKER_SHAPES
                ]
            finally:
                server.stop()
    base = measured[workers[0]]
    first = f"{workers[0]} worker{'s' if workers[0] > 1 else ''}"
    lines = [
        f"# Ingestion by gateway processes ({seconds:g} s per shape)",
        "",
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, {os.cpu_count()} cores,"
        f" Python {platform.python_version()}, SQLite store (WAL), `metagate serve --workers N`; the"
        " clients are one asyncio process (aiohttp) on the same machine.",
        "",
        f"| workers | scenario | p50 (ms) | p99 (ms) | throughput | ratio to {first} |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for count, rows in measured.items():
        for row, baseline in zip(rows, base, strict=True):
            scenario = row.scenario.removeprefix("ingestion over HTTP, ")
            lines.append(
                f"| {count} | {scenario} | {row.p50:.2f} | {row.p99:.2f} | {row.throughput:,.0f} runs/s |"
                f" {row.throughput / baseline.throughput:.2f} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    from tests.server import Server

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--workers", default=None, help="Worker counts to compare, e.g. 1,2 (with --output).")
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()
    if args.workers:
        report = _by_workers([int(n) for n in args.workers.split(",")], args.seconds)
        if args.output:
            args.output.write_text(report)
        print(report)
        return
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp) / "ingest.db")
        try:
            rows = asyncio.run(ingest_all(server.url, server.token, size=0, seconds=args.seconds))
        finally:
            server.stop()
    for row in rows:
        print(row.markdown())


if __name__ == "__main__":
    main()

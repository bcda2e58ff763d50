"""Metric history over HTTP against a real gateway process: ``logMetrics`` in batches
(points per second), and a 10,000-point history read downsampled to 500 points
(``Run.metricCurve``), each beside a baseline measured in the same run: the
one-run-per-request ``logRun`` for writing, and reading the same run without its curve
(``node(id:) { ... on Run { id name } }``) for reading.

Each of 8 clients appends to its own run: 5,000 points a request over 10 keys, steps
rising, as a training loop flushing its metrics would; as a point each
(``metrics``), and as a series per key (``series``).

    .venv/bin/python -m bench.metrics --seconds 10 --output bench/results-metrics.md
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.ingest import _run_input, client_session, gql, ingest, setup
from bench.stats import Row, percentile

CLIENTS = 8
BATCH = 5_000  # points per logMetrics request
KEYS = 10
HISTORY = 10_000  # points of the history read back
CURVE = 500  # points it is read as
READS = 300

LOG_RUN = "mutation($i: LogRunInput!) { logRun(input: $i) { run { id } } }"
LOG_METRICS = "mutation($i: LogMetricsInput!) { logMetrics(input: $i) { points } }"
CURVE_QUERY = (
    'query($id: ID!, $n: Int) { node(id: $id) { ... on Run { id name metricCurve(key: "loss", maxPoints: $n) { step value } } } }'
)
SERIES_QUERY = " ".join(
    [
        "query($id: ID!, $n: Int) { node(id: $id) { ... on Run { id name",
        'metricSeries(key: "loss", maxPoints: $n) { steps values } } } }',
    ]
)
PLAIN_QUERY = "query($id: ID!) { node(id: $id) { ... on Run { id name } } }"


def _series(first_step: int, count: int) -> list[dict[str, Any]]:
    """The same points as ``_points``, a series per key."""
    now = dt.datetime.now(dt.UTC).isoformat()
    per = count // KEYS
    return [
        {
            "key": f"m{k}",
            "values": [1.0 / (first_step + i * KEYS + k + 1) for i in range(per)],
            "steps": [(first_step + i * KEYS + k) // KEYS for i in range(per)],
            "timestamp": now,
        }
        for k in range(KEYS)
    ]


def _points(first_step: int, count: int) -> list[dict[str, Any]]:
    now = dt.datetime.now(dt.UTC).isoformat()
    return [
        {"key": f"m{i % KEYS}", "value": 1.0 / (first_step + i + 1), "step": (first_step + i) // KEYS, "timestamp": now}
        for i in range(count)
    ]


async def append(url: str, token: str | None, *, seconds: float, series: bool) -> Row:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    async with client_session(url.removesuffix("/graphql"), headers, CLIENTS + 1) as http:
        target = await setup(http, "metrics-series" if series else "metrics-points")
        runs = [
            (await gql(http, LOG_RUN, i=_run_input(target, f"training-{n}", n)))["logRun"]["run"]["id"] for n in range(CLIENTS)
        ]
        latencies: list[float] = []
        points = [0]
        started = time.perf_counter()
        deadline = started + seconds

        async def client(run: str) -> None:
            step = 0
            while time.perf_counter() < deadline:
                body = (
                    {"runId": run, "series": _series(step, BATCH)} if series else {"runId": run, "metrics": _points(step, BATCH)}
                )
                begin = time.perf_counter()
                answer = await gql(http, LOG_METRICS, i=body)
                latencies.append(time.perf_counter() - begin)
                points[0] += answer["logMetrics"]["points"]
                step += BATCH

        await asyncio.gather(*[client(r) for r in runs])
        elapsed = time.perf_counter() - started
    return Row(
        0,
        f"logMetrics, {BATCH:,} points per request as {'10 series' if series else 'points'}, {CLIENTS} clients",
        percentile(latencies, 0.5),
        percentile(latencies, 0.95),
        percentile(latencies, 0.99),
        points[0] / elapsed,
        float("nan"),
        unit="points",
        count=points[0],
    )


async def read(url: str, token: str | None) -> tuple[Row, Row, Row]:
    """The plain read of a run, then its 10,000-point curve as 500, one client, one
    request at a time (latency, not throughput, is what a chart waits for)."""
    headers = {"authorization": f"Bearer {token}"} if token else {}
    async with client_session(url.removesuffix("/graphql"), headers, 2) as http:
        target = await setup(http, "curve")
        run = (await gql(http, LOG_RUN, i=_run_input(target, "long-training", 0)))["logRun"]["run"]["id"]
        for start in range(0, HISTORY, BATCH):
            points = [{"key": "loss", "value": 1.0 / (s + 1), "step": s} for s in range(start, min(start + BATCH, HISTORY))]
            await gql(http, LOG_METRICS, i={"runId": run, "metrics": points})
        checked = await gql(http, CURVE_QUERY, id=run, n=CURVE)
        if len(checked["node"]["metricCurve"]) != CURVE:
            raise RuntimeError(f"the curve has {len(checked['node']['metricCurve'])} points, not {CURVE}")
        rows = []
        for label, query, variables in (
            ("the run alone (baseline)", PLAIN_QUERY, {"id": run}),
            (f"the run with its {HISTORY:,}-point curve as {CURVE} points (metricCurve)", CURVE_QUERY, {"id": run, "n": CURVE}),
            (
                f"the run with its {HISTORY:,}-point curve as {CURVE} columns (metricSeries)",
                SERIES_QUERY,
                {"id": run, "n": CURVE},
            ),
        ):
            for _ in range(20):  # warm
                await gql(http, query, **variables)
            latencies = []
            started = time.perf_counter()
            for _ in range(READS):
                begin = time.perf_counter()
                await gql(http, query, **variables)
                latencies.append(time.perf_counter() - begin)
            elapsed = time.perf_counter() - started
            rows.append(
                Row(
                    0,
                    label,
                    percentile(latencies, 0.5),
                    percentile(latencies, 0.95),
                    percentile(latencies, 0.99),
                    READS / elapsed,
                    float("nan"),
                    unit="reads",
                    count=READS,
                )
            )
    return rows[0], rows[1], rows[2]


def report(seconds: float, workers: int) -> str:
    from tests.server import Server

    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp) / "metrics.db", None, "--workers", str(workers))
        try:
            baseline = asyncio.run(
                ingest(server.url, server.token, size=0, clients=CLIENTS, batch=1, seconds=seconds, label="baseline")
            )
            appended = [asyncio.run(append(server.url, server.token, seconds=seconds, series=s)) for s in (False, True)]
            plain, curve, series = asyncio.run(read(server.url, server.token))
        finally:
            server.stop()
    head = (
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, {os.cpu_count()} cores,"
        f" Python {platform.python_version()}, SQLite store (WAL), `metagate serve --workers {workers}`; the clients"
        " are one asyncio process (aiohttp) on the same machine."
    )
    lines = [
        f"# Metric history ({seconds:g} s of writing per shape, {READS} reads)",
        "",
        head,
        "",
        "## Writing (baseline: logRun, one run per request, 8 clients, measured in the same run)",
        "",
        "| scenario | p50 (ms) | p99 (ms) | throughput | ratio to the baseline |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in (baseline, *appended):
        unit = "runs" if row is baseline else "points"
        lines.append(
            f"| {row.scenario.removeprefix('ingestion over HTTP, ')} | {row.p50:.2f} | {row.p99:.2f} |"
            f" {row.throughput:,.0f} {unit}/s | {row.throughput / baseline.throughput:.2f} |"
        )
    lines += [
        "",
        "## Reading (baseline: the same run without its curve; one client, one request at a time)",
        "",
        "| scenario | p50 (ms) | p95 (ms) | p99 (ms) | p50 ratio to the baseline |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in (plain, curve, series):
        lines.append(f"| {row.scenario} | {row.p50:.2f} | {row.p95:.2f} | {row.p99:.2f} | {row.p50 / plain.p50:.2f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()
    text = report(args.seconds, args.workers)
    if args.output:
        args.output.write_text(text)
    print(text)


if __name__ == "__main__":
    main()

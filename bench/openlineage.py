"""OpenLineage ingestion over HTTP (``POST /api/v1/lineage``) against a real gateway
process, beside the one-run-per-request logRun of the same run (the baseline: no
published Marquez figure exists, MarquezProject/marquez#2210).

Each job run sends START (what it read) and then COMPLETE (what it read and wrote),
under a parent run; the datasets are drawn from a pool of 200, so that most exist and
some are new. Events are sent one per request, and in batches of 100 (a JSON array, one
transaction). Throughput counts events.

    .venv/bin/python -m bench.openlineage --seconds 10 --output bench/results-openlineage.md
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import orjson

from bench.ingest import client_session, ingest
from bench.stats import Row, percentile

PRODUCER = "https://github.com/OpenLineage/OpenLineage/tree/1.54.0/client/python"
SCHEMA_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
POOL = 200
SHAPES = [(8, 1), (8, 100)]  # (clients, events per request)


def _dataset(number: int) -> dict[str, Any]:
    schema = {"_producer": PRODUCER, "_schemaURL": "https://openlineage.io/spec/facets/1-1-1/SchemaDatasetFacet.json"}
    return {
        "namespace": "s3://lake",
        "name": f"table-{number % POOL}",
        "facets": {"schema": {**schema, "fields": [{"name": "x"}]}},
    }


def run_events(parent: str, number: int) -> list[dict[str, Any]]:
    """A job run's START and COMPLETE."""
    run_id = str(uuid.uuid4())
    now = dt.datetime.now(dt.UTC)
    base = {
        "producer": PRODUCER,
        "schemaURL": SCHEMA_URL,
        "job": {"namespace": "airflow", "name": f"task-{number % 20}", "facets": {}},
    }
    facets = {
        "parent": {
            "_producer": PRODUCER,
            "_schemaURL": "x",
            "run": {"runId": parent},
            "job": {"namespace": "airflow", "name": "dag"},
        }
    }
    read = [_dataset(number), _dataset(number + 1)]
    return [
        {**base, "eventType": "START", "eventTime": now.isoformat(), "run": {"runId": run_id, "facets": facets}, "inputs": read},
        {
            **base,
            "eventType": "COMPLETE",
            "eventTime": (now + dt.timedelta(seconds=1)).isoformat(),
            "run": {"runId": run_id, "facets": facets},
            "inputs": read,
            "outputs": [_dataset(number + 2)],
        },
    ]


async def send(url: str, token: str | None, *, clients: int, batch: int, seconds: float) -> Row:
    headers = {"content-type": "application/json", **({"authorization": f"Bearer {token}"} if token else {})}
    base = url.removesuffix("/graphql")
    async with client_session(base, headers, clients + 1) as http:
        latencies: list[float] = []
        events = [0]
        started = time.perf_counter()
        deadline = started + seconds

        async def post(body: Any) -> None:
            begin = time.perf_counter()
            async with http.post("/api/v1/lineage", data=orjson.dumps(body)) as response:
                answer = await response.read()
            if response.status != 201:
                raise RuntimeError(f"{response.status}: {answer[:300]!r}")
            latencies.append(time.perf_counter() - begin)

        async def client(number: int) -> None:
            parent = str(uuid.uuid4())
            count = 0
            while time.perf_counter() < deadline:
                pending: list[dict[str, Any]] = []
                while len(pending) < batch:
                    pending += run_events(parent, number * 1_000_003 + count)
                    count += 1
                if batch == 1:
                    for event in pending:
                        await post(event)
                        events[0] += 1
                else:
                    await post(pending)
                    events[0] += len(pending)

        await asyncio.gather(*[client(i) for i in range(clients)])
        elapsed = time.perf_counter() - started
    how = "one event per request" if batch == 1 else f"{batch} events per request"
    return Row(
        0,
        f"OpenLineage events, {how}, {clients} clients",
        percentile(latencies, 0.5),
        percentile(latencies, 0.95),
        percentile(latencies, 0.99),
        events[0] / elapsed,
        float("nan"),
        unit="events",
        count=events[0],
    )


def report(seconds: float, workers: int) -> str:
    from tests.server import Server

    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp) / "openlineage.db", None, "--workers", str(workers))
        try:
            baseline = asyncio.run(
                ingest(server.url, server.token, size=0, clients=8, batch=1, seconds=seconds, label="baseline")
            )
            rows = [asyncio.run(send(server.url, server.token, clients=c, batch=b, seconds=seconds)) for c, b in SHAPES]
        finally:
            server.stop()
    lines = [
        f"# OpenLineage ingestion ({seconds:g} s per shape)",
        "",
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, {os.cpu_count()} cores,"
        f" Python {platform.python_version()}, SQLite store (WAL), `metagate serve --workers {workers}`; the clients"
        " are one asyncio process (aiohttp) on the same machine. Baseline: logRun, one run per request, 8 clients,"
        " measured in the same run.",
        "",
        "| scenario | p50 (ms) | p99 (ms) | throughput | ratio to the baseline |",
        "|---|---:|---:|---:|---:|",
    ]
    for row, unit in ((baseline, "runs"), *((r, "events") for r in rows)):
        lines.append(
            f"| {row.scenario.removeprefix('ingestion over HTTP, ')} | {row.p50:.2f} | {row.p99:.2f} |"
            f" {row.throughput:,.0f} {unit}/s | {row.throughput / baseline.throughput:.2f} |"
        )
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

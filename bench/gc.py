"""What `metagate gc` does to readers: a store holding 100,000 deleted nodes (runs with
their params and dev performance, deleted 60 days ago) beside live ones, a gateway
process serving reads of the live ones, and `metagate gc --older-than 30d` run as its
own process on the same store file. Readers ask the gateway for a page of runs with
their datasets and for a deployment's lineage, one request after another, while gc runs
and, for the baseline, for as long again without it: their latencies are compared in
the same run.

    .venv/bin/python -m bench.gc --deleted 100000 --output bench/results-gc.md
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.stats import percentile
from metagate.resolvers.ids import encode_id
from metagate.store.model import Edge, Kind, Node, format_time, new_id
from metagate.store.sqlite import SQLiteStore
from tests.server import Server

TARGET_MS = 50.0  # the bound on how long gc may hold a reader up at a time
READS = [
    "{ runs(first: 20) { nodes { id name dataset { name } devPerf { metrics } } } }",
    "query($id: ID!) { lineage(id: $id, direction: UPSTREAM, depth: 3, limit: 50) { nodes { node { id } } } }",
]


async def build(path: Path, deleted: int, live_runs: int) -> str:
    """The store: one model, dataset and deployment, ``live_runs`` live runs, and
    ``deleted`` deleted nodes (a third of them runs, each with its params and dev perf).
    Returns the deployment's id."""
    store = SQLiteStore(str(path))
    await store.open()
    old = format_time(dt.datetime.now(dt.UTC) - dt.timedelta(days=60))
    now = format_time(dt.datetime.now(dt.UTC))
    try:
        project = Node(new_id(Kind.PROJECT), Kind.PROJECT, "bench", now)
        model = Node(new_id(Kind.MODEL), Kind.MODEL, "gbr", now, scope=project.id)
        dataset = Node(new_id(Kind.DATASET), Kind.DATASET, "data", now)
        deployment = Node(new_id(Kind.DEPLOYMENT), Kind.DEPLOYMENT, "prod", now)
        async with store.write() as tx:
            await tx.insert_nodes([project, model, dataset, deployment])
            await tx.insert_edges(
                [Edge("project_model", project.id, model.id, now), Edge("deployment_model", deployment.id, model.id, now)]
            )
        runs = deleted // 3 + live_runs
        for start in range(0, runs, 2000):
            nodes: list[Node] = []
            edges: list[Edge] = []
            gone: list[str] = []
            for i in range(start, min(start + 2000, runs)):
                run = Node(new_id(Kind.RUN), Kind.RUN, f"run-{i}", now, scope=model.id, fields={"status": "COMPLETED"})
                params = Node(new_id(Kind.MODELPARAMS), Kind.MODELPARAMS, None, now, scope=run.id, fields={"params": {"d": i}})
                perf = Node(new_id(Kind.DEVPERF), Kind.DEVPERF, None, now, scope=run.id, fields={"metrics": {"rmse": 0.5}})
                nodes += [run, params, perf]
                edges += [
                    Edge("run_model", run.id, model.id, now),
                    Edge("run_dataset", run.id, dataset.id, now),
                    Edge("run_modelparams", run.id, params.id, now),
                    Edge("run_devperf", run.id, perf.id, now),
                ]
                if i >= live_runs:
                    gone += [run.id, params.id, perf.id]
            async with store.write() as tx:
                await tx.insert_nodes(nodes)
                await tx.insert_edges(edges)
                await tx.delete_nodes(gone, old, "bench")
        return encode_id(deployment.id)
    finally:
        await store.close()


async def _read(url: str, deployment: str, stop: asyncio.Event, began_at: list[float] | None = None) -> list[float]:
    """Latencies (seconds) of reads one after another until ``stop`` (and, into
    ``began_at``, when each began)."""
    out: list[float] = []
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        i = 0
        while not stop.is_set():
            query = READS[i % len(READS)]
            i += 1
            began = time.perf_counter()
            response = await client.post("/graphql", json={"query": query, "variables": {"id": deployment}})
            out.append(time.perf_counter() - began)
            if began_at is not None:
                began_at.append(began)
            assert response.status_code == 200 and "errors" not in response.json(), response.text
    return out


async def _during(
    url: str, deployment: str, work: asyncio.Future[None] | None, seconds: float, began_at: list[float] | None = None
) -> list[float]:
    stop = asyncio.Event()
    reader = asyncio.create_task(_read(url, deployment, stop, began_at))
    if work is not None:
        await work
    else:
        await asyncio.sleep(seconds)
    stop.set()
    return await reader


@dataclass
class Measured:
    starting: list[float]  # reads while gc's process started (imports, opening the store)
    purging: list[float]  # reads while it purged
    without: list[float]  # the baseline: as long again, without gc
    took: float
    output: str


async def measure(path: Path, deployment: str, batch: int, pause: float) -> Measured:
    """Reads while gc runs (split at the moment it began to purge: its progress bar's
    first line), then reads for as long again without it."""
    began_at: list[float] = []
    purging_from: list[float] = []
    server = Server(path, None, "--no-auth")
    try:
        began = time.perf_counter()
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "metagate",
            "gc",
            "--older-than",
            "30d",
            "--batch",
            str(batch),
            "--pause",
            str(pause),
            "--store",
            str(path),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

        async def gc() -> None:
            assert process.stderr is not None
            if await process.stderr.read(1):
                purging_from.append(time.perf_counter())
            await process.stderr.read()
            await process.wait()

        during = await _during(server.url, deployment, asyncio.ensure_future(gc()), 0, began_at)
        took = time.perf_counter() - began
        output = (await process.stdout.read()).decode().strip() if process.stdout else ""
        without = await _during(server.url, deployment, None, took)
    finally:
        server.stop()
    cut = purging_from[0] if purging_from else began
    starting = [d for d, at in zip(during, began_at, strict=True) if at < cut]
    purging = [d for d, at in zip(during, began_at, strict=True) if at >= cut]
    return Measured(starting, purging, without, took, output)


def report(deleted: int, batch: int, pause: float) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "gc.db"
        deployment = asyncio.run(build(path, deleted, live_runs=2000))
        m = asyncio.run(measure(path, deployment, batch, pause))
    rows = [
        ("while gc's process starts (imports, opens the store)", m.starting),
        ("while gc purges", m.purging),
        ("without gc (baseline)", m.without),
    ]
    lines = [
        f"# metagate gc beside readers ({deleted:,} deleted nodes, batches of {batch}, {pause:g} s apart)",
        "",
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, {os.cpu_count()} cores,"
        f" Python {platform.python_version()}, SQLite store (WAL). One gateway process serves one reader that"
        " asks for a page of 20 runs (with their datasets and dev perf) and a deployment's lineage, in turns,"
        " one request after another; `metagate gc --older-than 30d` runs as its own process on the store file."
        " Baseline: the same reader for as long again, after gc, in the same run. All three processes share"
        " the machine's cores.",
        "",
        f"gc: {m.output} in {m.took:.1f} s, its process's start included.",
        "",
        "| reads | requests | p50 (ms) | p99 (ms) | max (ms) | p99 ratio to baseline |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    base = percentile(m.without, 0.99)
    for name, values in rows:
        if not values:
            continue
        lines.append(
            f"| {name} | {len(values):,} | {percentile(values, 0.5):.2f} | {percentile(values, 0.99):.2f} |"
            f" {max(values) * 1000:.2f} | {percentile(values, 0.99) / base:.2f} |"
        )
    worst = max(m.purging) * 1000 - percentile(m.without, 0.5) if m.purging else 0.0
    verdict = "met" if worst <= TARGET_MS else "not met"
    lines += [
        "",
        f"The slowest read while gc purged took {worst:.1f} ms longer than a typical one without it;"
        f" target: at most {TARGET_MS:g} ms ({verdict}). SQLite readers take no lock a writer holds (WAL): what"
        " slows them is the machine shared with gc's process.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--deleted", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--pause", type=float, default=0.02)
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()
    text = report(args.deleted, args.batch, args.pause)
    if args.output:
        args.output.write_text(text)
    print(text)


if __name__ == "__main__":
    main()

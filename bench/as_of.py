"""Lineage as of a time against plain lineage, on the generated store (~1M nodes by
default) with a history on top: runs deleted and restored, and attributes and tags of
datasets, models and runs changed, each its own write (the change log records them).
Both are asked in turns, one after another, from the same starts (deployments upstream,
datasets downstream): as of an instant in the middle of the history, and plain. Measured
at the store (the walk's one statement) and over HTTP against a gateway process (the
compiled read path, a request's whole cost), in the same run.

    .venv/bin/python -m bench.as_of --nodes 1000000 --output bench/results-as-of.md
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import random
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

from bench.generate import Catalog, load, runs_for
from bench.stats import percentile
from metagate.resolvers.ids import encode_id
from metagate.store.model import Direction, Step, utcnow
from metagate.store.port import LineageQuery, NeighborRequest
from metagate.store.sqlite import SQLiteStore
from tests.server import Server

TARGET = 1.5  # the bound: lineage(asOf:) p50 over plain lineage's
LINEAGE = """query($id: ID!, $d: LineageDirection!, $at: DateTime) {
  lineage(id: $id, direction: $d, depth: 10, limit: 100, asOf: $at) {
    nodes { depth node { id name tags attributes deletedAt } } edges { from to } truncated } }"""


async def history(store: SQLiteStore, catalog: Catalog, changes: int, seed: int = 11) -> tuple[str, int]:
    """``changes`` writes on the loaded graph; answers the instant half-way through, and
    how many nodes are deleted at it."""
    rng = random.Random(seed)
    runs: list[str] = []
    for deployment in catalog.deployments[:200]:
        [model] = await store.neighbors([NeighborRequest(deployment, "deployment_model", Step.OUT, 1)])
        for node, _ in model.items:
            [page] = await store.neighbors([NeighborRequest(node.id, "run_model", Step.IN, 50)])
            runs += [n.id for n, _ in page.items]
    deleted: list[str] = []
    middle, deleted_then = "", 0
    for i in range(changes):
        if i == changes // 2:
            await asyncio.sleep(0.001)
            middle, deleted_then = utcnow(), len(deleted)
            await asyncio.sleep(0.001)
        move = rng.random()
        async with store.write() as tx:
            if move < 0.3:
                target = rng.choice(runs)
                if target not in deleted:
                    await tx.delete_nodes([target], utcnow(), "bench")
                    deleted.append(target)
            elif move < 0.45 and deleted:
                target = deleted.pop(rng.randrange(len(deleted)))
                await tx.restore_nodes([target])
            elif move < 0.8:
                target = rng.choice([*catalog.datasets[:50], *runs])
                await tx.update_node(target, attributes={"round": i, "note": f"changed {i}"})
            else:
                target = rng.choice([*catalog.datasets[:50], *runs])
                await tx.update_node(target, tags=[f"t{i % 7}", "bench"])
    return middle, deleted_then


async def _turns(
    plain: Callable[[int], Awaitable[None]], as_of: Callable[[int], Awaitable[None]], seconds: float
) -> tuple[list[float], list[float]]:
    """Each in turn, one after another, for ``seconds``: their latencies (seconds)."""
    out: tuple[list[float], list[float]] = ([], [])
    deadline = time.perf_counter() + seconds
    i = 0
    while time.perf_counter() < deadline:
        for which, call in enumerate((plain, as_of)):
            began = time.perf_counter()
            await call(i)
            out[which].append(time.perf_counter() - began)
        i += 1
    return out


async def at_store(
    store: SQLiteStore, starts: list[tuple[str, Direction]], at: str, seconds: float
) -> tuple[list[float], list[float]]:
    def call(as_of: str | None) -> Callable[[int], Awaitable[None]]:
        async def one(i: int) -> None:
            start, direction = starts[i % len(starts)]
            await store.lineage(LineageQuery(start, direction, 10, 100, as_of=as_of))

        return one

    return await _turns(call(None), call(at), seconds)


async def over_http(url: str, starts: list[tuple[str, Direction]], at: str, seconds: float) -> tuple[list[float], list[float]]:
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:

        def call(as_of: str | None) -> Callable[[int], Awaitable[None]]:
            async def one(i: int) -> None:
                start, direction = starts[i % len(starts)]
                variables = {"id": encode_id(start), "d": direction.value.upper(), "at": as_of}
                response = await client.post("/graphql", json={"query": LINEAGE, "variables": variables})
                assert response.status_code == 200 and "errors" not in response.json(), response.text

            return one

        return await _turns(call(None), call(at), seconds)


def report(nodes: int, changes: int, seconds: float) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "as-of.db"

        async def build() -> tuple[Catalog, str, int, list[tuple[str, Direction]]]:
            store = SQLiteStore(str(path))
            await store.open()
            try:
                catalog, _ = await load(store, runs_for(nodes))
                middle, deleted = await history(store, catalog, changes)
                starts = [(d, Direction.UPSTREAM) for d in catalog.deployments[:100]]
                starts += [(d, Direction.DOWNSTREAM) for d in catalog.datasets[:50]]
                return catalog, middle, deleted, starts
            finally:
                await store.close()

        catalog, middle, deleted, starts = asyncio.run(build())

        async def measure_store() -> dict[str, tuple[list[float], list[float]]]:
            store = SQLiteStore(str(path))
            await store.open()
            try:
                ups = [s for s in starts if s[1] is Direction.UPSTREAM]
                downs = [s for s in starts if s[1] is Direction.DOWNSTREAM]
                return {
                    "store: deployment upstream": await at_store(store, ups, middle, seconds),
                    "store: dataset downstream": await at_store(store, downs, middle, seconds),
                }
            finally:
                await store.close()

        measured = asyncio.run(measure_store())
        server = Server(path, None, "--no-auth")
        try:
            ups = [s for s in starts if s[1] is Direction.UPSTREAM]
            downs = [s for s in starts if s[1] is Direction.DOWNSTREAM]
            measured["HTTP: deployment upstream"] = asyncio.run(over_http(server.url, ups, middle, seconds))
            measured["HTTP: dataset downstream"] = asyncio.run(over_http(server.url, downs, middle, seconds))
        finally:
            server.stop()
    lines = [
        f"# lineage(asOf:) against plain lineage ({catalog.nodes:,} nodes, {changes:,} changes on top)",
        "",
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, {os.cpu_count()} cores,"
        f" Python {platform.python_version()}, SQLite store (WAL). The generated store, then {changes:,} writes,"
        " each its own transaction: runs of 200 deployments' models deleted (30%) and restored (15%), attributes"
        " (35%) and tags (20%) of datasets and those runs changed. asOf is the instant half-way through the"
        f" history ({deleted:,} runs deleted then). Each request asks depth 10, at most 100 nodes with their"
        " name, tags, attributes and deletedAt, and the edges; plain and asOf in turns, one after another, from"
        " 100 deployments (upstream) or 50 datasets (downstream) in turn. Store: `Store.lineage`, the walk's one"
        " statement. HTTP: a gateway process, the compiled read path. Baseline: plain lineage in the same run.",
        "",
        "| reads | requests each | plain p50 (ms) | asOf p50 (ms) | asOf p99 (ms) | p50 ratio | target |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for name, (plain, as_of) in measured.items():
        ratio = percentile(as_of, 0.5) / percentile(plain, 0.5)
        lines.append(
            f"| {name} | {len(plain):,} | {percentile(plain, 0.5):.2f} | {percentile(as_of, 0.5):.2f} |"
            f" {percentile(as_of, 0.99):.2f} | {ratio:.2f}x | {'met' if ratio <= TARGET else 'MISSED'} (<= {TARGET}x) |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=1_000_000)
    parser.add_argument("--changes", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    text = report(args.nodes, args.changes, args.seconds)
    print(text)
    if args.output:
        args.output.write_text(text)


if __name__ == "__main__":
    main()

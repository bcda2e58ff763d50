"""What the change log costs a mutation: logRun one run per request and logRuns 100 runs
per request, over HTTP against a gateway process that writes change-log entries and
one that does not (``SQLiteStore(change_log=False)``, which only this bench uses), in
one run. The two take turns, twice each, so that a drift of the machine falls on both;
each shape's throughput is the mean of its turns.

    .venv/bin/python -m bench.changelog --seconds 10 --output bench/results-changelog.md
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
from pathlib import Path

import httpx

from bench.ingest import ingest
from bench.stats import Row
from tests.server import free_port

SHAPES = [(8, 1), (16, 100)]  # (clients, runs per request)
TURNS = 2
TARGET = 0.15  # the bound on the throughput the log may cost


async def _serve(port: int, path: str, change_log: bool) -> None:
    import uvicorn

    from metagate.gateway.app import create_app
    from metagate.gateway.config import Settings
    from metagate.store.sqlite import SQLiteStore

    store = SQLiteStore(path, change_log=change_log)
    await store.open()
    try:
        app = create_app(Settings(AUTH=False), store=store)
        await uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning")).serve()
    finally:
        await store.close()


class _Gateway:
    """A gateway process on its own store file, with or without the change log."""

    def __init__(self, folder: Path, change_log: bool) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        path = folder / f"{'with' if change_log else 'without'}.db"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.changelog", "--serve", str(self.port), str(path), "1" if change_log else "0"]
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("the gateway did not become ready in 30 s")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def measure(seconds: float) -> dict[tuple[int, int, bool], list[Row]]:
    rows: dict[tuple[int, int, bool], list[Row]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        gateways = {flag: _Gateway(Path(tmp), flag) for flag in (True, False)}
        try:
            for turn in range(TURNS):
                for clients, batch in SHAPES:
                    for flag in (True, False) if turn % 2 == 0 else (False, True):
                        label = f"{'with' if flag else 'without'}-{clients}x{batch}-{turn}"
                        row = asyncio.run(
                            ingest(gateways[flag].url, None, size=0, clients=clients, batch=batch, seconds=seconds, label=label)
                        )
                        rows.setdefault((clients, batch, flag), []).append(row)
        finally:
            for g in gateways.values():
                g.stop()
    return rows


def report(seconds: float) -> str:
    rows = measure(seconds)
    lines = [
        f"# The change log's cost ({seconds:g} s per turn, {TURNS} turns per shape)",
        "",
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, {os.cpu_count()} cores,"
        f" Python {platform.python_version()}, SQLite store (WAL), one gateway process each; the clients are one"
        " asyncio process (aiohttp) on the same machine. Baseline: the same shape against the gateway without the"
        " change log, measured in the same run, taking turns.",
        "",
        "| scenario | change log | p50 (ms) | p99 (ms) | throughput | ratio to without | cost |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for clients, batch in SHAPES:
        means = {}
        for flag in (False, True):
            turns = rows[(clients, batch, flag)]
            means[flag] = (
                sum(r.throughput for r in turns) / len(turns),
                sum(r.p50 for r in turns) / len(turns),
                sum(r.p99 for r in turns) / len(turns),
            )
        how = "logRun, one run per request" if batch == 1 else f"logRuns, {batch} runs per request"
        for flag in (False, True):
            throughput, p50, p99 = means[flag]
            ratio = throughput / means[False][0]
            cost = f"{1 - ratio:.1%}" if flag else ""
            lines.append(
                f"| {how}, {clients} clients | {'on' if flag else 'off'} | {p50:.2f} | {p99:.2f} |"
                f" {throughput:,.0f} runs/s | {ratio:.2f} | {cost} |"
            )
    lines += ["", f"Target: the log costs at most {TARGET:.0%} of a shape's throughput."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--serve", nargs=3, metavar=("PORT", "STORE", "CHANGE_LOG"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        port, path, flag = args.serve
        asyncio.run(_serve(int(port), path, flag == "1"))
        return
    text = report(args.seconds)
    if args.output:
        args.output.write_text(text)
    print(text)


if __name__ == "__main__":
    main()

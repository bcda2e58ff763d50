"""How soon a change reaches its subscribers: one gateway process (SQLite store), N
clients subscribed to `runLogged(model)` over graphql-transport-ws, and a writer that
logs a run every 100 ms. For each run and each subscriber: the time from the writer's
answer (the run was committed by then) to the subscriber's event, and from the
writer's request (an upper bound). One subscriber first, then 100, in the same run.

    .venv/bin/python -m bench.subscriptions --runs 100 --output bench/results-subscriptions.md
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import httpx
import websockets

from bench.stats import percentile
from tests.server import LOG_RUN, Server, pipeline_ids

TARGET_MS = 50.0  # the bound on p95, with 100 subscribers
SUBSCRIBE = "subscription($m: ID!) { runLogged(model: $m) { cursor runs { name } } }"


async def _subscriber(url: str, model: str, ready: asyncio.Event, count: int, heard: dict[str, float]) -> None:
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"], max_queue=None) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init"}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIBE, "variables": {"m": model}}}))
        ready.set()
        while len(heard) < count:
            message = json.loads(await ws.recv())
            at = time.perf_counter()
            assert message["type"] == "next", message
            for run in message["payload"]["data"]["runLogged"]["runs"]:
                heard[run["name"]] = at


async def measure(
    server: Server, ids: dict[str, str], subscribers: int, runs: int, label: str
) -> tuple[list[float], list[float]]:
    """Latencies (seconds) from each write's answer and from its request to each subscriber."""
    url = server.url.replace("http://", "ws://") + "/graphql"
    heard: list[dict[str, float]] = [{} for _ in range(subscribers)]
    readies = [asyncio.Event() for _ in range(subscribers)]
    tasks = [asyncio.create_task(_subscriber(url, ids["m"], readies[i], runs, heard[i])) for i in range(subscribers)]
    await asyncio.gather(*(r.wait() for r in readies))
    await asyncio.sleep(0.5)  # each subscription's first read of the log is done: from now on
    sent: dict[str, tuple[float, float]] = {}
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        for n in range(runs):
            name = f"{label}-{n}"
            began = time.perf_counter()
            response = await client.post("/graphql", json={"query": LOG_RUN, "variables": {**ids, "n": name}})
            answered = time.perf_counter()
            assert response.status_code == 200 and "errors" not in response.json(), response.text
            sent[name] = (began, answered)
            await asyncio.sleep(0.1)
    await asyncio.wait_for(asyncio.gather(*tasks), 60)
    from_answer = [h[name] - sent[name][1] for h in heard for name in sent]
    from_request = [h[name] - sent[name][0] for h in heard for name in sent]
    return from_answer, from_request


def report(runs: int, many: int) -> str:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(Path(tmp) / "s.db", None, "--no-auth")
        try:
            ids = pipeline_ids(server)
            for subscribers in (1, many):
                rows.append((subscribers, *asyncio.run(measure(server, ids, subscribers, runs, f"s{subscribers}"))))
        finally:
            server.stop()
    lines = [
        f"# A change reaching its subscribers ({runs} runs logged, 100 ms apart)",
        "",
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, {os.cpu_count()} cores,"
        f" Python {platform.python_version()}, SQLite store (WAL), one gateway process; the subscribers"
        " (websockets) and the writer (httpx) are one asyncio process on the same machine. The gateway reads"
        " the change log every 20 ms, once for all its subscriptions. Baseline: one subscriber, same run.",
        "",
        "| subscribers | events | p50 from the answer (ms) | p95 from the answer (ms) | p95 from the request (ms) |"
        " max from the answer (ms) | p95 ratio to one subscriber |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    base = percentile(rows[0][1], 0.95)
    for subscribers, from_answer, from_request in rows:
        lines.append(
            f"| {subscribers} | {len(from_answer):,} | {percentile(from_answer, 0.5):.1f} |"
            f" {percentile(from_answer, 0.95):.1f} | {percentile(from_request, 0.95):.1f} |"
            f" {max(from_answer) * 1000:.1f} | {percentile(from_answer, 0.95) / base:.2f} |"
        )
    p95 = percentile(rows[-1][1], 0.95)
    verdict = "met" if p95 <= TARGET_MS else "not met"
    lines += ["", f"Target: p95 at most {TARGET_MS:g} ms after the commit with {many} subscribers: {p95:.1f} ms ({verdict})."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--subscribers", type=int, default=100)
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()
    text = report(args.runs, args.subscribers)
    if args.output:
        args.output.write_text(text)
    print(text)


if __name__ == "__main__":
    main()

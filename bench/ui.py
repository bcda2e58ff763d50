"""The web UI in a real browser: how long a deployment's page takes, from navigation to
its card and its lineage picture drawn (and clickable), on a large store and, as the
baseline measured in the same run, on a small one. Debian's chromium, driven by
Playwright, against a real `metagate serve` per store.

    make bench-ui    # ~10k-node baseline and ~1M-node store, 20 page loads each
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import platform
import shutil
import sqlite3
import statistics
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

from bench.generate import load, runs_for
from metagate.store.sqlite import SQLiteStore
from tests.server import Server

# Drawn: the card's serving periods and at least one node of the lineage picture.
DRAWN = ("section.card table.periods tbody tr", 'section.card [aria-label="lineage graph"] .lineage-node')


def _store(workdir: Path, nodes: int) -> Path:
    """A generated store of about ``nodes`` nodes, made once and kept in ``workdir``."""
    db = workdir / f"ui-graph-{nodes}.db"
    if db.exists():
        return db

    async def fill() -> None:
        store = SQLiteStore(str(db) + ".partial")
        await store.open()
        try:
            await load(store, runs_for(nodes))
        finally:
            await store.close()

    asyncio.run(fill())
    for suffix in ("", "-wal", "-shm"):
        part = Path(str(db) + ".partial" + suffix)
        if part.exists():
            part.rename(Path(str(db) + suffix))
    return db


def _measure(db: Path, loads: int, browser_path: str) -> tuple[int, list[float]]:
    server = Server(db, None, "--no-auth")
    try:
        answer = server.gql("{ deployments(first: 1) { nodes { id } } }")
        deployment = answer["deployments"]["nodes"][0]["id"]
        times: list[float] = []
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=browser_path, args=["--no-sandbox"])
            for i in range(loads + 2):
                context = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 900})
                page = context.new_page()
                page.goto(f"/node/{deployment}", wait_until="commit")
                for selector in DRAWN:  # Playwright's own waits: the page's policy allows no eval
                    page.locator(selector).first.wait_for(timeout=30_000)
                drawn = page.evaluate("performance.now()")
                if i >= 2:  # the first two warm the gateway's caches and the browser's
                    times.append(drawn)
                context.close()
            browser.close()
    finally:
        server.stop()
    with sqlite3.connect(db) as conn:
        nodes = conn.execute("SELECT count(*) FROM nodes").fetchone()[0]
    return nodes, times


def _row(label: str, nodes: int, times: list[float], baseline: float) -> str:
    p50 = statistics.median(times)
    p90 = sorted(times)[max(0, int(len(times) * 0.9) - 1)]
    return f"| {label} | {nodes:,} | {p50:.0f} | {p90:.0f} | {max(times):.0f} | {p50 / baseline:.2f} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=1_000_000, help="the large store's size in nodes")
    parser.add_argument("--baseline", type=int, default=10_000, help="the small store's size in nodes")
    parser.add_argument("--loads", type=int, default=20, help="page loads measured per store")
    parser.add_argument("--workdir", type=Path, default=Path(".bench"))
    parser.add_argument("--output", type=Path, default=Path(__file__).with_name("results-ui.md"))
    args = parser.parse_args()
    browser_path = shutil.which("chromium")
    if browser_path is None:
        sys.exit("the UI bench needs Debian's chromium: make browser")
    args.workdir.mkdir(exist_ok=True)
    stores = [_store(args.workdir, args.baseline), _store(args.workdir, args.nodes)]
    measured = [_measure(db, args.loads, browser_path) for db in stores]
    base = statistics.median(measured[0][1])
    lines = [
        "# The web UI: a deployment's page, card and lineage picture drawn",
        "",
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {platform.machine()}, Python {platform.python_version()},"
        f" SQLite store, one gateway process; Debian's chromium (headless, Playwright) on the same machine;"
        f" {args.loads} page loads per store after two to warm up, each in a new browser context (no cache).",
        "Time: from the navigation's start to the card's serving periods and the lineage picture in the page"
        " (`performance.now()`); the target is under 1,000 ms on the ~1M-node store.",
        "",
        "| store | nodes | p50 (ms) | p90 (ms) | max (ms) | p50 ratio to the small store |",
        "|---|---:|---:|---:|---:|---:|",
        _row("small (baseline)", measured[0][0], measured[0][1], base),
        _row("large", measured[1][0], measured[1][1], base),
        "",
    ]
    args.output.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()

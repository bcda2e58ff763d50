"""A bounded load run against a real server: concurrent writers and readers, zero
errors, and every acknowledged write stored. Timings are reported by bench/, never
asserted here."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from bench.load import run_load
from tests.server import Server


def test_concurrent_writers_and_readers_lose_nothing(tmp_path: Path) -> None:
    db = tmp_path / "load.db"
    server = Server(db)
    try:
        result = asyncio.run(run_load(server, seconds=2, writers=4, readers=4))
    finally:
        server.stop()
    with sqlite3.connect(db) as conn:
        stored = conn.execute("SELECT count(*) FROM nodes WHERE kind = 'run'").fetchone()[0] - 1  # minus the seed
    assert result.errors == []
    assert result.acknowledged > 0 and all(result.latencies.values())
    assert stored == result.acknowledged

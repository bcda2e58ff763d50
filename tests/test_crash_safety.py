"""A real server killed with SIGKILL while pipelines log runs loses no acknowledged run
and leaves no partial one."""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from pathlib import Path

import httpx

from tests.server import LOG_RUN, Server, pipeline_ids


def _write_until_killed(server: Server, ids: dict[str, str], prefix: str, acknowledged: list[str]) -> None:
    with httpx.Client(timeout=5) as client:
        for number in range(100_000):
            try:
                response = client.post(
                    f"{server.url}/graphql",
                    json={"query": LOG_RUN, "variables": {**ids, "n": f"{prefix}-{number}"}},
                    headers={"authorization": f"Bearer {server.token}"},
                )
                body = response.json()
            except (httpx.HTTPError, ValueError):
                return  # the server is gone
            if "data" in body and body["data"] and body["data"]["logRun"]:
                acknowledged.append(body["data"]["logRun"]["run"]["id"])


def test_sigkill_loses_no_acknowledged_run_and_leaves_no_partial_one(tmp_path: Path) -> None:
    db = tmp_path / "crash.db"
    server = Server(db)
    token = server.token
    ids = pipeline_ids(server)
    acknowledged: list[str] = []
    rng = random.Random(20261123)
    for cycle in range(4):
        if cycle:
            server = Server(db, token=token)
        writers = [
            threading.Thread(target=_write_until_killed, args=(server, ids, f"c{cycle}w{w}", acknowledged)) for w in range(4)
        ]
        for writer in writers:
            writer.start()
        time.sleep(rng.uniform(0.3, 1.2))
        server.kill()
        for writer in writers:
            writer.join(timeout=10)

    assert len(acknowledged) > 20  # the writes really overlapped the kills
    restarted = Server(db, token=token)
    try:
        for start in range(0, len(acknowledged), 100):
            found = restarted.gql(
                "query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Run { modelParams { id } devPerf { id } } } }",
                ids=acknowledged[start : start + 100],
            )["nodes"]
            assert all(node is not None and node["modelParams"] and node["devPerf"] for node in found)
    finally:
        restarted.stop()

    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        runs = {r[0] for r in conn.execute("SELECT id FROM nodes WHERE kind = 'run'")}
        # Every run has all five of its edges, and every params/perf node its run.
        partial = conn.execute(
            """SELECT n.id FROM nodes n WHERE n.kind = 'run' AND
                 (SELECT count(*) FROM edges e WHERE e.from_id = n.id) != 5"""
        ).fetchall()
        orphans = conn.execute(
            """SELECT n.id FROM nodes n WHERE n.kind IN ('modelparams', 'devperf') AND NOT EXISTS
                 (SELECT 1 FROM edges e WHERE e.to_id = n.id AND e.kind IN ('run_modelparams', 'run_devperf'))"""
        ).fetchall()
        assert partial == [] and orphans == []
        assert len(runs) >= len(set(acknowledged))

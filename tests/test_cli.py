from __future__ import annotations

import sqlite3
from pathlib import Path

from click.testing import CliRunner

from metagate.gateway.cli import _is_loopback, main
from metagate.schema import SCHEMA_FILE


def test_export_schema_prints_the_checked_in_schema(tmp_path: Path) -> None:
    runner = CliRunner()
    printed = runner.invoke(main, ["export-schema"])
    written = runner.invoke(main, ["export-schema", "-o", str(tmp_path / "s.graphql")])
    assert printed.exit_code == 0 and written.exit_code == 0
    assert printed.output == SCHEMA_FILE.read_text() == (tmp_path / "s.graphql").read_text()


def test_demo_loads_a_pipeline_once(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    runner = CliRunner()
    first = runner.invoke(main, ["demo", "--store", str(db)])
    second = runner.invoke(main, ["demo", "--store", str(db)])
    assert first.exit_code == 0, first.output
    assert "Loaded the demo pipeline" in first.output
    assert "already" in second.output

    with sqlite3.connect(db) as conn:
        counts = dict(conn.execute("SELECT kind, count(*) FROM nodes GROUP BY kind").fetchall())
    assert counts["run"] == 3 and counts["deployment"] == 1 and counts["servingperf"] == 3
    # The pipeline run and its seven steps, fetch to deploy, each a phase of its own.
    with sqlite3.connect(db) as conn:
        phases = [p for (p,) in conn.execute("SELECT json_extract(fields, '$.phase') FROM nodes WHERE kind = 'step' ORDER BY id")]
        points = dict(conn.execute("SELECT key, count(*) FROM metric_points GROUP BY key").fetchall())
        raw = conn.execute("SELECT count(*) FROM nodes WHERE kind = 'dataset' AND name = 'california-housing-raw'").fetchone()
    assert phases == ["PIPELINE", "FETCH", "CLEAN", "PREPARE", "TRAIN", "EVALUATE", "VALIDATE", "DEPLOY"]
    assert raw == (1,) and points["rmse"] == 3 * 50  # each trial's training curve


def test_loopback_detection() -> None:
    assert _is_loopback("127.0.0.1") and _is_loopback("::1") and _is_loopback("localhost")
    assert not _is_loopback("0.0.0.0") and not _is_loopback("10.1.2.3")
    # Names DNS would resolve are not taken as loopback bind addresses.
    assert not any(_is_loopback(h) for h in ("x.localhost", "localhost.", "127.0.0.1.", "[::1]", "127.0.0.1:80"))


def test_gc_purges_what_was_deleted_long_enough_ago_with_a_progress_bar(tmp_path: Path) -> None:
    db = tmp_path / "gc.db"
    runner = CliRunner()
    assert runner.invoke(main, ["demo", "--store", str(db)]).exit_code == 0
    with sqlite3.connect(db) as conn:
        # Two runs deleted 40 days ago (with their params and dev perf), one an hour ago.
        runs = [r for (r,) in conn.execute("SELECT id FROM nodes WHERE kind = 'run' ORDER BY id")]
        for run, at in zip(runs, ["2000-01-01T00:00:00.000000Z", "2000-01-01T00:00:00.000000Z", "2999-01-01T00:00:00.000000Z"]):
            conn.execute(
                "UPDATE nodes SET deleted_at = ? WHERE id = ? OR id IN (SELECT to_id FROM edges WHERE from_id = ?"
                " AND kind IN ('run_modelparams', 'run_devperf'))",
                (at, run, run),
            )
    refused = runner.invoke(main, ["gc", "--older-than", "thirty days", "--store", str(db)])
    assert refused.exit_code != 0 and "--older-than must be a whole number" in refused.output
    done = runner.invoke(main, ["gc", "--older-than", "30d", "--batch", "4", "--store", str(db)])
    assert done.exit_code == 0, done.output
    assert "6 deleted nodes purged in 2 batches" in done.output
    assert "purging deleted nodes" in done.output  # the progress bar, on stderr
    with sqlite3.connect(db) as conn:
        left = [r for (r,) in conn.execute("SELECT id FROM nodes WHERE kind = 'run' ORDER BY id")]
        dangling = conn.execute(
            "SELECT count(*) FROM edges WHERE from_id NOT IN (SELECT id FROM nodes) OR to_id NOT IN (SELECT id FROM nodes)"
        ).fetchone()
        points = conn.execute("SELECT count(DISTINCT run_id) FROM metric_points").fetchone()
    assert left == [runs[2]] and dangling == (0,) and points == (1,)
    again = runner.invoke(main, ["gc", "--older-than", "30d", "--store", str(db)])
    assert "0 deleted nodes purged" in again.output

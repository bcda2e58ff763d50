"""What is particular to the SQLite adapter: its file, its schema versions, its indexes,
its transactions and its connections."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from metagate.gateway.app import create_app
from metagate.gateway.config import Settings
from metagate.store import sqlite_schema
from metagate.store.errors import Conflict, Unavailable
from metagate.store.model import Direction, Edge, Kind, Node, Step, new_id, utcnow
from metagate.store.port import (
    LineageQuery,
    ListQuery,
    MetricFilter,
    MetricHistoryQuery,
    MetricPoint,
    NameKey,
    NeighborRequest,
    OrderField,
    ServingPeriod,
)
from metagate.store.sqlite import SERVING_PERF_SQL, SQLiteStore, _list_sql, serving_perf_params


def _dataset(name: str) -> Node:
    return Node(id=new_id(Kind.DATASET), kind=Kind.DATASET, name=name, created_at=utcnow())


async def test_file_store_uses_wal_records_its_schema_version_and_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "metagate.db"
    store = SQLiteStore(str(path))
    await store.open()
    node = _dataset("kept")
    async with store.write() as tx:
        await tx.insert_nodes([node])
    await store.close()

    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(sqlite_schema.MIGRATIONS)
        indexes = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {
        "nodes_kind_name",
        "nodes_kind_created",
        "nodes_created",
        "node_tags_node",
        "edges_from_order",
        "edges_to_order",
    } <= indexes

    reopened = SQLiteStore(str(path))
    await reopened.open()  # migrations already applied: nothing to do, nothing lost
    assert await reopened.get_nodes([node.id]) == [node]
    await reopened.close()


async def test_stores_opened_at_once_on_a_new_file_migrate_it_once(tmp_path: Path) -> None:
    """Several gateway processes starting together on a new file: each reads version 0,
    and the one that waited for the write lock finds the migrations done instead of
    running them again (which failed: table nodes already exists)."""
    path = tmp_path / "metagate.db"
    stores = [SQLiteStore(str(path), readers=1) for _ in range(4)]
    try:
        opened = await asyncio.gather(*(store.open() for store in stores), return_exceptions=True)
        assert opened == [None] * 4
        node = _dataset("after")
        async with stores[3].write() as tx:
            await tx.insert_nodes([node])
        assert [await store.get_nodes([node.id]) for store in stores] == [[node]] * 4
    finally:
        for store in stores:
            await store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(sqlite_schema.MIGRATIONS)


async def test_a_store_in_a_missing_folder_is_refused_and_nothing_is_made(tmp_path: Path) -> None:
    with pytest.raises(Unavailable, match="folder .*missing does not exist; create it first"):
        await SQLiteStore(str(tmp_path / "missing" / "metagate.db")).open()
    assert not (tmp_path / "missing").exists()


async def test_without_create_a_missing_store_file_is_an_error_not_a_new_store(tmp_path: Path) -> None:
    with pytest.raises(Unavailable, match="no SQLite store"):
        await SQLiteStore(str(tmp_path / "metagate.db"), create=False).open()
    assert list(tmp_path.iterdir()) == []


async def test_a_database_newer_than_the_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {len(sqlite_schema.MIGRATIONS) + 1}")
    with pytest.raises(RuntimeError, match="newer"):
        await SQLiteStore(str(path)).open()


@pytest.mark.parametrize("path", [":memory:", "file"])
async def test_a_failed_write_leaves_nothing_behind(path: str, tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "m.db") if path == "file" else path)
    await store.open()
    existing = _dataset("taken")
    async with store.write() as tx:
        await tx.insert_nodes([existing])
    before = await store.count_all()

    with pytest.raises(Conflict):
        async with store.write() as tx:
            fresh = _dataset("fresh")
            await tx.insert_nodes([fresh])
            await tx.insert_edges([Edge("featureset_dataset", fresh.id, existing.id, utcnow())])
            await tx.insert_nodes([_dataset("taken")])  # unique (kind, scope, name)

    assert await store.count_all() == before
    assert await store.get_nodes([fresh.id]) == [None]
    await store.close()


async def test_readers_see_committed_data_only_while_a_write_is_open(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "r.db"), readers=2)
    await store.open()
    node = _dataset("pending")
    inside = asyncio.Event()
    release = asyncio.Event()

    async def writer() -> None:
        async with store.write() as tx:
            await tx.insert_nodes([node])
            inside.set()
            await release.wait()

    task = asyncio.create_task(writer())
    await inside.wait()
    # A reader connection answers while the writer holds its transaction open.
    assert await asyncio.wait_for(store.get_nodes([node.id]), timeout=5) == [None]
    release.set()
    await task
    assert await store.get_nodes([node.id]) == [node]
    await store.close()


async def test_hostile_values_are_stored_and_matched_as_data() -> None:
    store = SQLiteStore(":memory:")
    await store.open()
    hostile = "x'); DROP TABLE nodes; --"
    async with store.write() as tx:
        await tx.insert_nodes([_dataset(hostile), _dataset("100%_sure")])

    by_name = await store.find_named([NameKey(Kind.DATASET, hostile)])
    containing = await store.list_nodes(ListQuery((Kind.DATASET,), name_contains="'); DROP"))
    # LIKE wildcards in the user's text match only themselves.
    percent = await store.list_nodes(ListQuery((Kind.DATASET,), name_contains="0%_"))
    underscore = await store.list_nodes(ListQuery((Kind.DATASET,), name_contains="x_"))

    assert [n.name for n in by_name[0]] == [hostile]
    assert [n.name for n, _ in containing.items] == [hostile]
    assert [n.name for n, _ in percent.items] == ["100%_sure"]
    assert underscore.items == []
    assert (await store.count_all())["dataset"] == 2
    await store.close()


def _run_with_metrics(name: str, metrics: dict[str, object]) -> tuple[list[Node], list[Edge]]:
    run = Node(id=new_id(Kind.RUN), kind=Kind.RUN, name=name, created_at=utcnow())
    perf = Node(
        id=new_id(Kind.DEVPERF), kind=Kind.DEVPERF, name=None, created_at=utcnow(), scope=run.id, fields={"metrics": metrics}
    )
    return [run, perf], [Edge("run_devperf", run.id, perf.id, utcnow())]


async def test_runs_recorded_before_the_metric_index_are_found_by_metric_after_it(tmp_path: Path) -> None:
    """Migration 4 fills the metric index from the runs already in the database; the
    trigger keeps it for runs written later; the plan reads the index, not every run."""
    path = tmp_path / "older.db"
    with sqlite3.connect(path, isolation_level=None) as conn:  # the database as version 3 left it
        for script in sqlite_schema.MIGRATIONS[:3]:
            for statement in sqlite_schema._statements(script):
                conn.execute(statement)
        conn.execute("PRAGMA user_version = 3")
        for name, metrics in (("old-a", {"rmse": 0.3, "note": "text"}), ("old-b", {"rmse": 0.1}), ("old-c", {"acc": 0.9})):
            nodes, edges = _run_with_metrics(name, metrics)
            conn.executemany(
                "INSERT INTO nodes (id, kind, name, scope, created_at, fields) VALUES (?, ?, ?, ?, ?, ?)",
                [(n.id, n.kind.value, n.name, n.scope, n.created_at, json.dumps(n.fields)) for n in nodes],
            )
            conn.executemany(
                "INSERT INTO edges (kind, from_id, to_id, created_at) VALUES (?, ?, ?, ?)",
                [(e.kind, e.from_id, e.to_id, e.created_at) for e in edges],
            )
    store = SQLiteStore(str(path))
    await store.open()
    nodes, edges = _run_with_metrics("new-d", {"rmse": 0.2})
    async with store.write() as tx:
        await tx.insert_nodes(nodes)
        await tx.insert_edges(edges)

    page = await store.list_nodes(
        ListQuery(kinds=(Kind.RUN,), first=10, order_by=OrderField.METRIC, order_metric="rmse", descending=False)
    )
    below = await store.list_nodes(
        ListQuery(kinds=(Kind.RUN,), first=10, metric=MetricFilter("rmse", lt=0.25), order_by=OrderField.METRIC, descending=True)
    )
    await store.close()

    assert [node.name for node, _ in page.items] == ["old-b", "new-d", "old-a"]
    assert [node.name for node, _ in below.items] == ["new-d", "old-b"]
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM run_metrics").fetchone()[0] == 4  # text metrics are not numbers
        # The adapter's own SQL for "runs below a bound, best first": read from the
        # metric index, each run fetched by its id, no scan of the nodes.
        sql, params = _list_sql(
            ListQuery(
                kinds=(Kind.RUN,), first=100, metric=MetricFilter("rmse", lt=0.5), order_by=OrderField.METRIC, descending=False
            )
        )
        plan = " | ".join(row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, params))
    assert "USING COVERING INDEX run_metrics_value (name=? AND value<?)" in plan, plan
    assert "SCAN" not in plan, plan


def _serving(deployment: str, start: str, end: str, created_at: str, **more: object) -> Node:
    return Node(
        id=new_id(Kind.SERVINGPERF),
        kind=Kind.SERVINGPERF,
        name=None,
        created_at=created_at,
        scope=deployment,
        fields={"periodStart": start, "periodEnd": end, "metrics": {"rmse": 0.5}, **more},
    )


async def test_migration_5_keeps_the_oldest_record_of_a_repeated_period_and_sets_the_others_aside(tmp_path: Path) -> None:
    """Before migration 5 a period could be logged twice; the migration keeps the oldest
    record of each (deployment, period) in the graph, moves the newer ones whole into
    servingperf_duplicates (with the id of the record kept), and adds the unique index."""
    path = tmp_path / "v4.db"
    week = ("2026-11-02T00:00:00.000000Z", "2026-11-09T00:00:00.000000Z")
    deployment = Node(id=new_id(Kind.DEPLOYMENT), kind=Kind.DEPLOYMENT, name="prod", created_at="2026-11-01T00:00:00.000000Z")
    canary = Node(id=new_id(Kind.DEPLOYMENT), kind=Kind.DEPLOYMENT, name="canary", created_at="2026-11-01T00:00:00.000000Z")
    oldest = _serving(deployment.id, *week, "2026-11-09T01:00:00.000000Z")
    newer = [
        _serving(deployment.id, *week, "2026-11-09T02:00:00.000000Z"),
        # Another content for the same period: set aside too, not lost.
        replace(_serving(deployment.id, *week, "2026-11-09T03:00:00.000000Z", metrics={"rmse": 0.7}), tags=("late",)),
    ]
    # Created in the same microsecond as the oldest: the id breaks the tie, as in every list.
    tied = _serving(deployment.id, *week, oldest.created_at)
    kept_of_tie = min([oldest, tied], key=lambda n: n.id)
    others = [
        _serving(deployment.id, week[0], "2026-11-10T00:00:00.000000Z", "2026-11-10T01:00:00.000000Z"),  # another end
        _serving(canary.id, *week, "2026-11-09T04:00:00.000000Z"),  # another deployment
    ]
    servings = [oldest, *newer, tied, *others]
    with sqlite3.connect(path, isolation_level=None) as conn:  # the database as version 4 left it
        for script in sqlite_schema.MIGRATIONS[:4]:
            for statement in sqlite_schema._statements(script):
                conn.execute(statement)
        conn.execute("PRAGMA user_version = 4")
        for n in [deployment, canary, *servings]:
            conn.execute(
                "INSERT INTO nodes (id, kind, name, scope, created_at, tags, fields) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (n.id, n.kind.value, n.name, n.scope, n.created_at, json.dumps(list(n.tags)), json.dumps(n.fields)),
            )
            conn.executemany("INSERT INTO node_tags (tag, node_id) VALUES (?, ?)", [(t, n.id) for t in n.tags])
        for n in servings:
            conn.execute(
                "INSERT INTO edges (kind, from_id, to_id, created_at) VALUES ('deployment_servingperf', ?, ?, ?)",
                (n.scope, n.id, n.created_at),
            )

    store = SQLiteStore(str(path))
    await store.open()
    try:
        found = await store.find_serving_perf(
            [ServingPeriod(deployment.id, *week), ServingPeriod(canary.id, *week), ServingPeriod(deployment.id, week[0], week[0])]
        )
        kept = await store.get_nodes([n.id for n in servings])
        counts = await store.count_all()
        with pytest.raises(Conflict):  # the index now refuses a second record of a period
            async with store.write() as tx:
                await tx.insert_nodes([_serving(deployment.id, *week, utcnow())])
    finally:
        await store.close()

    assert [n.id if n else None for n in found] == [kept_of_tie.id, others[1].id, None]
    moved = {oldest.id, tied.id, *(n.id for n in newer)} - {kept_of_tie.id}
    assert {n.id for n in servings if n.id not in moved} == {kept_of_tie.id, *(o.id for o in others)}
    assert [n is not None for n in kept] == [n.id not in moved for n in servings]
    assert (counts["servingperf"], counts["edge:deployment_servingperf"], counts.get("tags", 0)) == (3, 3, 0)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(sqlite_schema.MIGRATIONS) >= 5
        aside = conn.execute("SELECT id, kept_id, scope, created_at, tags, fields FROM servingperf_duplicates").fetchall()
        dangling = conn.execute(
            "SELECT count(*) FROM edges WHERE to_id IN (SELECT id FROM servingperf_duplicates)"
            " OR from_id IN (SELECT id FROM servingperf_duplicates)"
        ).fetchone()[0]
    assert dangling == 0
    by_id = {n.id: n for n in servings}
    assert {row[0] for row in aside} == moved
    for node_id, kept_id, scope, created_at, tags, fields in aside:
        original = by_id[node_id]
        assert (kept_id, scope, created_at) == (kept_of_tie.id, original.scope, original.created_at)
        assert (tuple(json.loads(tags)), json.loads(fields)) == (original.tags, original.fields)


async def test_the_serving_period_look_up_reads_the_unique_index(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "plan.db"))
    await store.open()
    await store.close()
    periods = [ServingPeriod("deployment/d1", "2026-11-02T00:00:00.000000Z", "2026-11-09T00:00:00.000000Z")]
    with sqlite3.connect(tmp_path / "plan.db") as conn:
        plan = " | ".join(row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + SERVING_PERF_SQL, serving_perf_params(periods)))
    assert "USING INDEX nodes_serving_period (scope=? AND <expr>=? AND <expr>=?)" in plan, plan
    assert "SCAN n" not in plan, plan


async def test_migration_6_gives_older_edges_their_ends_times_and_lineage_reads_them_in_order(tmp_path: Path) -> None:
    """Edges written before migration 6 get the creation times of their two ends; a
    lineage walk, which reads a node's neighbours in answer order by those times, then
    answers the older runs as it answers the ones written after it."""
    path = tmp_path / "older.db"
    model = Node(id=new_id(Kind.MODEL), kind=Kind.MODEL, name="m", created_at="2026-11-01T00:00:00.000000Z")
    # Runs whose ids sort against their creation order: the times, not the ids, order them.
    old = [
        Node(id=f"run/{9 - i}", kind=Kind.RUN, name=f"old-{i}", created_at=f"2026-11-0{i + 2}T00:00:00.000000Z") for i in range(3)
    ]
    with sqlite3.connect(path, isolation_level=None) as conn:  # the database as version 5 left it
        for script in sqlite_schema.MIGRATIONS[:5]:
            for statement in sqlite_schema._statements(script):
                conn.execute(statement)
        conn.execute("PRAGMA user_version = 5")
        for n in [model, *old]:
            conn.execute(
                "INSERT INTO nodes (id, kind, name, created_at) VALUES (?, ?, ?, ?)", (n.id, n.kind.value, n.name, n.created_at)
            )
        for n in old:
            # Edges written after their runs: the edge's own time is not the run's.
            conn.execute(
                "INSERT INTO edges (kind, from_id, to_id, created_at) VALUES ('run_model', ?, ?, ?)",
                (n.id, model.id, f"2026-12-0{9 - int(n.id[-1])}T00:00:00.000000Z"),
            )
    store = SQLiteStore(str(path))
    await store.open()
    try:
        new = Node(id="run/0", kind=Kind.RUN, name="new", created_at="2026-11-08T00:00:00.000000Z")
        async with store.write() as tx:
            await tx.insert_nodes([new])
            await tx.insert_edges([Edge("run_model", new.id, model.id, utcnow())])
        first_two = await store.lineage(LineageQuery(start=model.id, direction=Direction.UPSTREAM, depth=1, limit=2))
        every = await store.lineage(LineageQuery(start=model.id, direction=Direction.UPSTREAM, depth=1, limit=10))
    finally:
        await store.close()
    assert [n.node.name for n in first_two.nodes] == ["old-0", "old-1"] and first_two.truncated
    assert [n.node.name for n in every.nodes] == ["old-0", "old-1", "old-2", "new"]
    with sqlite3.connect(path) as conn:
        times = conn.execute("SELECT from_id, from_created, to_created FROM edges ORDER BY from_id").fetchall()
    assert times == sorted([(n.id, n.created_at, model.created_at) for n in [*old, new]])


async def test_migration_11_numbers_each_history_in_its_order_and_appending_follows_on(tmp_path: Path) -> None:
    path = tmp_path / "older.db"
    run = Node(id=new_id(Kind.RUN), kind=Kind.RUN, name="r", created_at="2026-11-01T00:00:00.000000Z")
    # Points stored in another order than their history's (step, timestamp, id).
    points = [("loss", 3, "b", 0.3), ("loss", 1, "a", 0.1), ("loss", 1, "0", 0.05), ("acc", 2, "c", 0.8)]
    with sqlite3.connect(path, isolation_level=None) as conn:  # the database as version 10 left it
        for script in sqlite_schema.MIGRATIONS[:10]:
            for statement in sqlite_schema._statements(script):
                conn.execute(statement)
        conn.execute("PRAGMA user_version = 10")
        conn.execute("INSERT INTO nodes (id, kind, name, created_at) VALUES (?, 'run', 'r', ?)", (run.id, run.created_at))
        for key, step, point_id, value in points:
            conn.execute(
                "INSERT INTO metric_points (run_id, key, step, timestamp, id, value) VALUES (?, ?, ?, 't', ?, ?)",
                (run.id, key, step, point_id, value),
            )
    store = SQLiteStore(str(path))
    await store.open()
    try:
        async with store.write() as tx:
            await tx.insert_metric_points([MetricPoint(run.id, "loss", 0.4, 4, "t", "d")])
        [loss, acc] = await store.metric_history([MetricHistoryQuery(run.id, "loss", 10), MetricHistoryQuery(run.id, "acc", 10)])
    finally:
        await store.close()
    assert [(p.value, p.seq) for p in loss] == [(0.05, 0), (0.1, 1), (0.3, 2), (0.4, 3)]
    assert [(p.value, p.seq) for p in acc] == [(0.8, 0)]


async def test_a_new_store_and_its_wal_files_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    """The store holds token hashes: a new one is made 0600, whatever the umask, and
    SQLite gives its -wal and -shm files the database file's permissions."""
    import os
    import stat

    path = tmp_path / "metagate.db"
    old_umask = os.umask(0o022)
    try:
        store = SQLiteStore(str(path))
        await store.open()
        async with store.write() as tx:
            await tx.insert_nodes([_dataset("d")])
        files = [path, tmp_path / "metagate.db-wal", tmp_path / "metagate.db-shm"]
        modes = {f.name: stat.S_IMODE(f.stat().st_mode) for f in files}
        await store.close()
    finally:
        os.umask(old_umask)
    assert modes == {f.name: 0o600 for f in files}


def test_every_statement_the_store_sends_passes_its_one_error_mapping() -> None:
    """Each execute in the adapter is inside ``with mapped_errors()``, so a failure of
    any statement (BEGIN and COMMIT included) leaves it as Metagate's coded error; the
    exceptions are the set-up of a connection, whose failures open() reports as a store
    that cannot be opened, and the rollback, which has its own handling."""
    import ast
    import inspect

    from metagate.store import sqlite as module

    tree = ast.parse(inspect.getsource(module))
    outside: list[str] = []

    def visit(node: ast.AST, function: str, mapped: bool) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            function, mapped = node.name, False
        if isinstance(node, (ast.With, ast.AsyncWith)) and any(
            isinstance(item.context_expr, ast.Call) and getattr(item.context_expr.func, "id", "") == "mapped_errors"
            for item in node.items
        ):
            mapped = True
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("execute", "executemany", "execute_fetchall", "executescript")
            and not mapped
            and function not in ("_connect", "_probe", "open", "_rollback")
        ):
            outside.append(f"{function}:{node.lineno}")
        for child in ast.iter_child_nodes(node):
            visit(child, function, mapped)

    visit(tree, "", False)
    assert outside == []


def _hold_writers_lock(path: Path) -> int:
    """The writers' lock taken as another process writing would hold it (a lock of its
    own open file: flock locks belong to the open file, so this one excludes the store's)."""
    import fcntl

    fd = os.open(f"{path}.lock", os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def _free(fd: int) -> bool:
    """The writers' lock can be taken now (and is let go again)."""
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    fcntl.flock(fd, fcntl.LOCK_UN)
    return True


async def test_a_write_waits_for_another_processes_write_and_takes_its_turn_after_it(tmp_path: Path) -> None:
    path = tmp_path / "metagate.db"
    store = SQLiteStore(str(path))
    await store.open()
    try:
        assert oct(os.stat(f"{path}.lock").st_mode & 0o777) == "0o600"
        other = _hold_writers_lock(path)
        node = _dataset("after the other")

        async def write() -> None:
            async with store.write() as tx:
                await tx.insert_nodes([node])

        waiting = asyncio.create_task(write())
        await asyncio.sleep(0.3)
        assert not waiting.done()  # its turn has not come
        os.close(other)  # the other process's write is done
        await asyncio.wait_for(waiting, 5)
        assert await store.get_nodes([node.id]) == [node]
    finally:
        await store.close()


@pytest.fixture
async def impatient_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[SQLiteStore, Path]]:
    """A file store whose writes wait at most 0.3 s for their turn, and its path."""
    from metagate.store import sqlite as sqlite_module

    monkeypatch.setattr(sqlite_module, "BUSY_SECONDS", 0.3)
    path = tmp_path / "metagate.db"
    store = SQLiteStore(str(path))
    await store.open()
    yield store, path
    await store.close()


@pytest.mark.parametrize("how", ["busy too long", "cancelled"])
async def test_a_write_that_gives_up_waiting_for_its_turn_leaves_the_lock_free(
    impatient_store: tuple[SQLiteStore, Path], how: str
) -> None:
    """Busy past BUSY_SECONDS it is UNAVAILABLE; cancelled (a deadline) it stops; either
    way it takes no lock afterwards, and writes go on."""
    store, path = impatient_store
    other = _hold_writers_lock(path)
    attempt = asyncio.create_task(_insert(store, _dataset("given up")))
    if how == "cancelled":
        await asyncio.sleep(0.1)
        attempt.cancel()
        with pytest.raises(asyncio.CancelledError):
            await attempt
    else:
        with pytest.raises(Unavailable, match="busy"):
            await attempt
    os.close(other)
    probe = os.open(f"{path}.lock", os.O_RDWR)
    try:
        for _ in range(50):
            await asyncio.sleep(0.02)
            if _free(probe):
                break
        else:
            raise AssertionError("the writers' lock stayed taken by a write that gave up")
    finally:
        os.close(probe)
    kept = _dataset("next")
    await asyncio.wait_for(_insert(store, kept), 5)
    assert await store.get_nodes([kept.id]) == [kept]


async def _insert(store: SQLiteStore, node: Node) -> None:
    async with store.write() as tx:
        await tx.insert_nodes([node])


async def test_a_write_that_gave_up_does_not_free_the_lock_of_the_next_one(impatient_store: tuple[SQLiteStore, Path]) -> None:
    """A waiter left blocked on the lock after giving up would take it together with the
    next writer (flock locks belong to the open file) and then let it go under it: the
    lock must stay held while the next writer writes."""
    store, path = impatient_store
    other = _hold_writers_lock(path)
    with pytest.raises(Unavailable, match="busy"):
        await _insert(store, _dataset("gave up"))
    inside, leave = asyncio.Event(), asyncio.Event()

    async def next_write() -> None:
        async with store.write() as tx:
            await tx.insert_nodes([_dataset("next")])
            inside.set()
            await leave.wait()

    task = asyncio.create_task(next_write())
    await asyncio.sleep(0.05)
    os.close(other)
    await asyncio.wait_for(inside.wait(), 5)
    await asyncio.sleep(0.2)
    probe = os.open(f"{path}.lock", os.O_RDWR)
    try:
        assert not _free(probe)  # still the next writer's
    finally:
        os.close(probe)
        leave.set()
        await task


# --- a write on SQLite's thread ----------------------------------------------------------


class _CountedQueue:
    """A connection's queue of calls to its thread, counting what is put in it."""

    def __init__(self, queue: Any) -> None:
        self.queue, self.calls = queue, list[object]()

    def put_nowait(self, item: Any) -> None:
        self.calls.append(item[1])
        self.queue.put_nowait(item)


def _count_hand_offs(store: SQLiteStore) -> list[object]:
    """The calls queued to the writer connection's thread, from now on."""
    conn = store._writer
    assert conn is not None
    counted = _CountedQueue(conn._tx)
    conn._tx = counted
    return counted.calls


async def test_a_logrun_reaches_the_writers_thread_once_however_many_statements_it_sends(tmp_path: Path) -> None:
    """A mutation's reads, inserts, payload and COMMIT run on SQLite's thread in one go.
    Sent one by one, each was a wait for the event loop while the store's write lock was
    held: with readers keeping the loop busy, writers queued behind them."""
    from tests.conftest import GraphQLClient
    from tests.pipeline import record_pipeline

    store = SQLiteStore(str(tmp_path / "metagate.db"))
    await store.open()
    try:
        app = create_app(Settings(AUTH=False), store=store)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost") as http:
            gql = GraphQLClient(http)
            p = await record_pipeline(gql, runs=1)
            queued = _count_hand_offs(store)
            statements = store.statements
            logged = await gql(
                """mutation($m: ID!, $d: ID!, $f: ID!) { logRun(input: {name: "one", modelId: $m, datasetId: $d,
                     featuresetId: $f, params: {depth: 3}, metrics: {rmse: 0.4}, tags: ["a"]})
                     { created run { name model { name } devPerf { metrics } } } }""",
                m=p.model,
                d=p.dataset,
                f=p.featureset,
            )
            sent, handed = store.statements - statements, list(queued)
    finally:
        await store.close()
    assert logged["logRun"] == {
        "created": True,
        "run": {"name": "one", "model": {"name": "gbr"}, "devPerf": {"metrics": {"rmse": 0.4}}},
    }
    assert sent >= 5  # the look-ups, nodes, tags, edges and payload
    assert len(handed) == 1


async def test_a_write_frees_the_writers_lock_on_sqlites_thread_while_the_event_loop_is_busy(tmp_path: Path) -> None:
    """A write's turn (the writers' lock file, BEGIN to COMMIT, the lock let go) runs whole
    on SQLite's thread. Ended by the event loop instead, the lock stayed taken until the
    loop, busy with readers, came round to it: under 16 readers a logRun held it 9 ms
    for 0.6 ms of work, and every other process's writers waited that long."""
    import threading
    import time

    path = tmp_path / "metagate.db"
    store = SQLiteStore(str(path))
    await store.open()
    node = _dataset("committed")
    seen = threading.Event()

    def another_process() -> None:
        """Polls as a writer in another process would: the write committed and the lock free."""
        fd = os.open(f"{path}.lock", os.O_RDWR)
        reader = sqlite3.connect(path)
        try:
            deadline = time.monotonic() + 1.0
            while time.monotonic() < deadline and not seen.is_set():
                committed = reader.execute("SELECT count(*) FROM nodes WHERE id = ?", (node.id,)).fetchone()[0] == 1
                if committed and _free(fd):
                    seen.set()
                time.sleep(0.005)
        finally:
            reader.close()
            os.close(fd)

    async def work(tx: Any) -> None:
        await tx.insert_nodes([node])

    try:
        writing = asyncio.ensure_future(store.transact(work))
        await asyncio.sleep(0)  # the write is on its way to SQLite's thread
        other = threading.Thread(target=another_process)
        other.start()
        time.sleep(1.2)  # the event loop busy, as with readers
        other.join()
        await asyncio.wait_for(writing, 5)
        assert seen.is_set(), "the writers' lock stayed taken after the COMMIT while the event loop was busy"
    finally:
        await store.close()


async def test_a_cancelled_write_is_interrupted_on_sqlites_thread_and_leaves_nothing(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "metagate.db"))
    await store.open()
    node = _dataset("never")
    slow = "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c) SELECT count(*) FROM c"

    async def work(tx: Any) -> None:
        await tx.insert_nodes([node])
        await tx.execute_fetchall(slow)  # runs until interrupted

    try:
        writing = asyncio.ensure_future(store.transact(work))
        await asyncio.sleep(0.2)
        writing.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(writing, 10)
        assert await store.get_nodes([node.id]) == [None]
        after = _dataset("after")
        async with store.write() as tx:  # the store takes the next write
            await tx.insert_nodes([after])
        assert await store.get_nodes([after.id]) == [after]
    finally:
        await store.close()


async def test_a_write_cancelled_between_two_statements_sends_no_more(tmp_path: Path) -> None:
    """Cancelled while its work computes between statements (no statement running to
    interrupt), a write sends nothing more: it is rolled back at its next statement
    instead of running to its end with the writers' lock held."""
    import time

    store = SQLiteStore(str(tmp_path / "metagate.db"))
    await store.open()
    sent: list[str] = []
    assert store._writer is not None
    await store._writer._execute(store._writer._conn.set_trace_callback, sent.append)
    first, second = _dataset("first"), _dataset("second")

    async def work(tx: Any) -> None:
        await tx.insert_nodes([first])
        time.sleep(0.5)  # the work computing, on SQLite's thread
        await tx.insert_nodes([second])

    try:
        writing = asyncio.ensure_future(store.transact(work))
        await asyncio.sleep(0.2)
        writing.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(writing, 10)
        assert await store.get_nodes([first.id, second.id]) == [None, None]
        inserts = [sql for sql in sent if sql.startswith("INSERT INTO nodes")]
        assert len(inserts) == 1 and "ROLLBACK" in sent, sent
    finally:
        await store.close()


async def test_a_writes_work_that_awaits_anything_else_is_refused_and_writes_nothing(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "metagate.db"))
    await store.open()
    node = _dataset("never")

    async def work(tx: Any) -> None:
        await tx.insert_nodes([node])
        await asyncio.sleep(0)

    try:
        with pytest.raises(RuntimeError, match="awaited something other than the transaction"):
            await store.transact(work)
        assert await store.get_nodes([node.id]) == [None]
    finally:
        await store.close()


async def test_commits_do_not_checkpoint_the_wal_and_it_stays_bounded_all_the_same(tmp_path: Path) -> None:
    """A write's COMMIT only appends to the WAL: copying the WAL into the database (a
    checkpoint, with its fsyncs: p99 6 ms of a commit) happens beside the writes, on a
    connection of its own, while no write waits for it. The WAL is still written back
    and begun again, so it does not grow with the writes."""
    from metagate.resolvers import registry

    store = SQLiteStore(str(tmp_path / "metagate.db"))
    await store.open()
    wal = tmp_path / "metagate.db-wal"
    try:
        assert store._writer is not None
        assert list(await store._writer.execute_fetchall("PRAGMA wal_autocheckpoint")) == [(0,)]
        project = (await registry.create_project(store, name="p")).node
        dataset = (await registry.register_dataset(store, name="d")).node
        featureset = (await registry.register_featureset(store, name="f", dataset_id=dataset.id)).node
        model = (await registry.register_model(store, name="m", project_id=project.id)).node
        largest = 0
        for number in range(1500):
            await registry.log_run(
                store,
                name=f"run-{number}",
                model_id=model.id,
                dataset_id=dataset.id,
                featureset_id=featureset.id,
                params={"depth": number},
                metrics={"rmse": number / 1500},
            )
            largest = max(largest, wal.stat().st_size)
        assert store.checkpoints > 0
    finally:
        await store.close()
    # Never checkpointed, or checkpointed only beside writes that never pause (so never
    # begun again), 1,500 runs fill some 200 MB of WAL; checkpointed, a few MB (up to
    # some 30 on a slow or busy machine).
    assert largest < 64 * 1024 * 1024, largest


async def test_migration_14_makes_deletion_spans_and_removed_edges_again_from_the_change_log(tmp_path: Path) -> None:
    """A store written before migration 14 (its change log holds the deletions, restores
    and removed edges): the migration makes the spans and removed edges as-of reads
    walk, so that the graph as of a time before it answers as it was."""
    path = tmp_path / "older.db"
    store = SQLiteStore(str(path))
    await store.open()
    d, m = _dataset("d"), Node(id=new_id(Kind.MODEL), kind=Kind.MODEL, name="m", created_at=utcnow())
    f = Node(id=new_id(Kind.FEATURESET), kind=Kind.FEATURESET, name="f", created_at=utcnow())
    link = Edge("featureset_dataset", f.id, d.id, utcnow())
    try:
        async with store.write() as tx:
            await tx.insert_nodes([d, m, f])
            await tx.insert_edges([link])
        async with store.write() as tx:
            await tx.delete_nodes([d.id], utcnow(), "wrong file")
        async with store.write() as tx:
            await tx.restore_nodes([d.id])
        async with store.write() as tx:
            await tx.delete_nodes([m.id], utcnow(), "retired")
        async with store.write() as tx:
            await tx.delete_edges([link])
        between = utcnow()
        again = Edge("featureset_dataset", f.id, d.id, utcnow())
        async with store.write() as tx:  # made, then removed and made again in one write
            await tx.insert_edges([again])
        async with store.write() as tx:
            await tx.delete_edges([again])
            await tx.insert_edges([replace(again, created_at=utcnow())])
    finally:
        await store.close()
    with sqlite3.connect(path, isolation_level=None) as conn:
        made = {
            "deletions": conn.execute("SELECT node_id, restored_at IS NULL, reason FROM deletions ORDER BY 1").fetchall(),
            "removed": conn.execute("SELECT kind, from_id, to_id, created_at FROM removed_edges").fetchall(),
        }
        conn.execute("DELETE FROM deletions")
        conn.execute("DELETE FROM removed_edges")
        conn.execute("DROP TABLE deletions")
        conn.execute("DROP TABLE removed_edges")
        conn.execute("PRAGMA user_version = 13")
    assert made["deletions"] == sorted([(d.id, 0, "wrong file"), (m.id, 1, "retired")])
    assert made["removed"] == [
        ("featureset_dataset", f.id, d.id, link.created_at),
        ("featureset_dataset", f.id, d.id, again.created_at),
    ]
    reopened = SQLiteStore(str(path))
    await reopened.open()
    try:
        async with reopened._read() as conn:
            spans = await conn.execute_fetchall("SELECT node_id, restored_at IS NULL, reason FROM deletions ORDER BY 1")
            removed = await conn.execute_fetchall("SELECT kind, from_id, to_id, created_at FROM removed_edges")
            [(made_at,)] = await conn.execute_fetchall("SELECT at FROM changes WHERE seq = 1")
            # Just before the last write: the edge as it was made the second time, whose
            # span the last write's removal kept.
            [(last,)] = await conn.execute_fetchall("SELECT max(removed_at) FROM removed_edges")
            just_before = last[:-2] + chr(ord(last[-2]) - 1) + "Z" if last[-2] != "0" else last
        pages = await reopened.neighbors(
            [NeighborRequest(f.id, "featureset_dataset", Step.OUT, 5, as_of=at) for at in (made_at, between, just_before)]
        )
    finally:
        await reopened.close()
    assert [tuple(r) for r in spans] == made["deletions"]
    assert [tuple(r) for r in removed] == made["removed"]
    # As of the first write the featureset's dataset stood; then it was gone; then it
    # stood again (made again since, in the write that removed it).
    assert [[n.id for n, _ in p.items] for p in pages] == [[d.id], [], [d.id]]

"""What is particular to the SQLite adapter: its file, its schema versions, its indexes,
its transactions and its connections."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from store import sqlite_schema
from store.errors import Conflict
from store.model import Edge, Kind, Node, new_id, utcnow
from store.port import ListQuery, NameKey
from store.sqlite import SQLiteStore


def _dataset(name: str) -> Node:
    return Node(id=new_id(Kind.DATASET), kind=Kind.DATASET, name=name, created_at=utcnow())


async def test_file_store_uses_wal_records_its_schema_version_and_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "metagate.db"
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
    assert {"nodes_kind_name", "nodes_kind_created", "nodes_created", "node_tags_node", "edges_to"} <= indexes

    reopened = SQLiteStore(str(path))
    await reopened.open()  # migrations already applied: nothing to do, nothing lost
    assert await reopened.get_nodes([node.id]) == [node]
    await reopened.close()


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

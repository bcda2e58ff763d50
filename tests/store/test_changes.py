"""The change log's recorder, which folds what one transaction wrote into one entry, and
the SQLite reads of the log, which go by index."""

from __future__ import annotations

from pathlib import Path

from metagate.store.changes import ORIGIN, Action, ChangeItem, ChangeQuery, Origin, Recorder, origin, touches
from metagate.store.model import Edge, Kind, Node
from metagate.store.sqlite import SQLiteStore, _changes_sql

T0 = "2026-12-01T00:00:00.000000Z"
T1 = "2026-12-02T00:00:00.000000Z"


def _dataset(key: str = "d", **given: object) -> Node:
    return Node(id=f"dataset/{key}", kind=Kind.DATASET, name=key, created_at=T0, **given)  # type: ignore[arg-type]


def test_a_node_created_then_changed_is_created_and_one_changed_twice_names_its_first_and_last_state() -> None:
    r = Recorder()
    made = _dataset("a")
    r.created([made])
    r.changed(made, {"attributes": {"x": 1}})
    held = _dataset("b", attributes={"x": 1}, tags=("t",))
    r.changed(held, {"attributes": {"x": 2}})
    r.changed(_dataset("b", attributes={"x": 2}, tags=("t",)), {"attributes": {"x": 3}, "tags": ["t", "u"]})
    assert r.items() == [
        ChangeItem(Action.CREATED, "dataset/a", "dataset"),
        ChangeItem(
            Action.CHANGED,
            "dataset/b",
            "dataset",
            before={"attributes": {"x": 1}, "tags": ["t"]},
            after={"attributes": {"x": 3}, "tags": ["t", "u"]},
        ),
    ]


def test_a_change_undone_in_the_same_transaction_or_one_that_changes_nothing_is_no_item() -> None:
    r = Recorder()
    node = _dataset(attributes={"x": 1})
    r.changed(node, {"attributes": {"x": 1}})
    assert not r and r.items() == []
    r.changed(node, {"attributes": {"x": 2}})
    r.changed(_dataset(attributes={"x": 2}), {"attributes": {"x": 1}})
    assert not r


def test_an_edge_made_and_removed_is_nothing_and_one_removed_and_made_again_is_changed() -> None:
    r = Recorder()
    new = Edge("run_dataset", "run/r", "dataset/d", T1)
    r.edges_created([new])
    r.edges_deleted([new], [T1])
    assert not r
    old = Edge("deployment_modelversion", "deployment/x", "modelversion/1", "")
    r.edges_deleted([old], [T0])
    r.edges_created([Edge("deployment_modelversion", "deployment/x", "modelversion/1", T1)])
    [item] = r.items()
    assert item == ChangeItem(
        Action.CHANGED,
        edge=("deployment_modelversion", "deployment/x", "modelversion/1"),
        before={"createdAt": T0},
        after={"createdAt": T1},
    )
    r.edges_deleted([old], [T1])
    assert r.items() == [
        ChangeItem(Action.DELETED, edge=("deployment_modelversion", "deployment/x", "modelversion/1"), before={"createdAt": T0})
    ]
    # Removed twice: removed, from when it was made.
    r.edges_deleted([old], [None])
    assert r.items() == [
        ChangeItem(Action.DELETED, edge=("deployment_modelversion", "deployment/x", "modelversion/1"), before={"createdAt": T0})
    ]
    # An edge that is not stored is not removed: no item.
    r2 = Recorder()
    r2.edges_deleted([old], [None])
    assert not r2


def test_points_are_counted_per_run_and_key_and_every_node_touched_is_marked_once() -> None:
    r = Recorder()
    r.logged("run/r", {"loss": 2})
    r.logged("run/r", {"loss": 1, "acc": 1})
    r.edges_created([Edge("run_dataset", "run/r", "dataset/d", T1)])
    r.moved("deployment/x", "servedVersion", {"version": "modelversion/1"})
    items = r.items()
    assert items[-1] == ChangeItem(Action.LOGGED, "run/r", "run", after={"keys": {"loss": 3, "acc": 1}})
    marks = {t.node: (t.kind, t.action) for t in touches(items)}
    assert marks == {"run/r": ("run", None), "dataset/d": ("dataset", None), "deployment/x": ("deployment", None)}


def test_items_keep_their_shape_through_json() -> None:
    item = ChangeItem(Action.CHANGED, edge=("k", "a/1", "b/2"), before={"createdAt": T0}, after={"createdAt": T1})
    assert ChangeItem.from_json(item.to_json()) == item
    assert item.to_json() == {
        "action": "changed",
        "edge": ["k", "a/1", "b/2"],
        "before": {"createdAt": T0},
        "after": {"createdAt": T1},
    }


def test_origin_is_set_for_the_block_and_put_back_after() -> None:
    assert ORIGIN.get() == Origin()
    with origin(operation="logRun", token_id="t"):
        with origin(token_name="ci"):
            assert ORIGIN.get() == Origin("logRun", "t", "ci")
        assert ORIGIN.get() == Origin("logRun", "t")
    assert ORIGIN.get() == Origin()


async def test_sqlite_reads_the_log_by_index(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "m.db"))
    await store.open()
    try:
        queries = {
            "history": ChangeQuery(20, 99, node="dataset/d"),
            "page": ChangeQuery(20, 99),
            "feed": ChangeQuery(100, 7, True),
            "token": ChangeQuery(20, token="t"),
        }
        async with store._read() as conn:
            for name, q in queries.items():
                sql, params = _changes_sql(q)
                plan = " | ".join(row[3] for row in await conn.execute_fetchall(f"EXPLAIN QUERY PLAN {sql}", params))
                assert "SCAN c" not in plan and "TEMP B-TREE" not in plan, (name, plan)
    finally:
        await store.close()

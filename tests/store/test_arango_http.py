"""The ArangoDB adapter over HTTP, against a small server that answers the few endpoints of
ArangoDB's HTTP API it calls as ArangoDB documents them (stream transactions, cursors,
version, collections, graphs, indexes): what the adapter leaves behind on the server when
a request is cancelled or fails part way, and what init-db does on a database whose values
repeat where Metagate makes them unique. No ArangoDB needed; the driver and its aiohttp
transport are the real ones."""

from __future__ import annotations

import asyncio
import itertools
import os
import sys
from asyncio.subprocess import PIPE
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from aiohttp import web

from metagate.store import arango_aql as aql
from metagate.store import arango_layout as layout
from metagate.store.arango import ArangoSettings, ArangoStore
from metagate.store.arango_init import RepeatedValues, edge_definitions, indexes, init_db
from metagate.store.errors import BadUserInput, DeadlineExceeded, Unavailable
from metagate.store.model import Direction, Edge, End, Kind, Node, utcnow
from metagate.store.port import LineageQuery
from tests.store.test_arango_compile import two_roots

DB = "pipelines"
Answer = tuple[int, dict[str, Any]]


def _error(status: int, error_num: int, message: str) -> Answer:
    return status, {"error": True, "code": status, "errorNum": error_num, "errorMessage": message}


@dataclass
class FakeArango:
    """Records every request as (method, path) and keeps the state the adapter's calls
    change: transactions by id and status, cursors by id with their batches to come.
    ``hold(name)`` keeps the next answer of that endpoint until ``release(name)``."""

    settings: ArangoSettings = ArangoSettings("http://127.0.0.1:0", DB, "root", "")
    version: str = "3.12.4"
    requests: list[tuple[str, str]] = field(default_factory=list)
    transactions: dict[str, str] = field(default_factory=dict)
    cursors: dict[str, list[list[Any]]] = field(default_factory=dict)
    # The answer to POST /_api/cursor, from the request's body.
    query: Callable[[dict[str, Any]], Answer] = lambda body: (201, {"result": [], "hasMore": False})
    next_batch: Callable[[str], Answer | None] = lambda cursor_id: None
    # Transactions a statement is running in, which refuse to be aborted meanwhile (as
    # ArangoDB does: error 28, "transaction is in use"); and aborts to refuse so anyway.
    in_use: set[str] = field(default_factory=set)
    refuse_aborts: int = 0
    indexes: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    created_indexes: list[dict[str, Any]] = field(default_factory=list)
    # Collections the database lacks (every other one it has), and those created.
    missing: set[str] = field(default_factory=set)
    created_collections: list[dict[str, Any]] = field(default_factory=list)
    _held: dict[str, tuple[asyncio.Event, asyncio.Event]] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def hold(self, name: str) -> None:
        self._held[name] = (asyncio.Event(), asyncio.Event())

    async def arrived(self, name: str) -> None:
        await asyncio.wait_for(self._held[name][0].wait(), 5)

    def release(self, name: str) -> None:
        self._held[name][1].set()

    async def _pause(self, name: str) -> None:
        if name in self._held:
            arrived, released = self._held[name]
            arrived.set()
            await released.wait()

    async def sent(self, method: str, path: str) -> bool:
        """Whether ``method path`` arrives within a second."""
        for _ in range(100):
            if (method, path) in self.requests:
                return True
            await asyncio.sleep(0.01)
        return False

    def open_cursor(self, batches: list[list[Any]]) -> Answer:
        """The first batch of a query's result, and a cursor for the others."""
        if len(batches) == 1:
            return 201, {"result": batches[0], "hasMore": False}  # no cursor kept, no id
        cursor_id = f"c{next(self._ids)}"
        self.cursors[cursor_id] = batches[1:]
        return 201, {"result": batches[0], "hasMore": True, "id": cursor_id}

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append((request.method, request.path))
        status, body = await self._answer(request, request.path.removeprefix(f"/_db/{DB}"))
        return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")

    async def _answer(self, request: web.Request, path: str) -> Answer:
        method, parts = request.method, path.strip("/").split("/")
        if (method, path) == ("GET", "/_api/version"):
            return 200, {"server": "arango", "version": self.version, "license": "community"}
        if (method, path) == ("GET", "/_api/collection"):
            return 200, {"error": False, "code": 200, "result": []}
        if method == "GET" and parts[:2] == ["_api", "collection"]:
            if parts[2] in self.missing:
                return _error(404, 1203, f"collection or view not found: {parts[2]}")
            return 200, {"name": parts[2], "error": False, "code": 200}
        if (method, path) == ("POST", "/_api/collection"):
            created = await request.json()
            self.missing.discard(created["name"])
            self.created_collections.append(created)
            return 200, {**created, "error": False, "code": 200}
        if method == "GET" and parts[:2] == ["_api", "gharial"]:
            definitions = edge_definitions()
            return 200, {"graph": {"name": parts[2], "edgeDefinitions": definitions}}
        if path == "/_api/index":
            collection = request.query["collection"]
            if method == "GET":
                return 200, {"indexes": self.indexes.get(collection, [])}
            definition = {**await request.json(), "collection": collection}
            self.created_indexes.append(definition)
            self.indexes.setdefault(collection, []).append(definition)
            return 201, {**definition, "id": f"{collection}/{len(self.created_indexes)}", "isNewlyCreated": True}
        if (method, path) == ("POST", "/_api/transaction/begin"):
            await self._pause("begin")
            trx = f"t{next(self._ids)}"
            self.transactions[trx] = "running"
            return 201, {"code": 201, "error": False, "result": {"id": trx, "status": "running"}}
        if parts[:2] == ["_api", "transaction"] and method in ("PUT", "DELETE"):
            await self._pause("commit" if method == "PUT" else "abort")
            if method == "DELETE" and (parts[2] in self.in_use or self.refuse_aborts):
                self.refuse_aborts = max(0, self.refuse_aborts - 1)
                return _error(500, 28, "updating transaction status on abort failed: transaction is in use")
            status = self.transactions.get(parts[2])
            if status is None:
                return _error(404, 1655, "transaction not found")
            if status != "running":
                return _error(409, 1653, f"transaction is {status}")
            self.transactions[parts[2]] = "committed" if method == "PUT" else "aborted"
            return 200, {"code": 200, "error": False, "result": {"id": parts[2], "status": self.transactions[parts[2]]}}
        if (method, path) == ("POST", "/_api/cursor"):
            trx = request.headers.get("x-arango-trx-id")
            if trx:
                self.in_use.add(trx)
            try:
                await self._pause("query")
                return self.query(await request.json())
            finally:
                self.in_use.discard(trx or "")
        if parts[:2] == ["_api", "cursor"] and method in ("POST", "PUT"):
            await self._pause("next")
            failure = self.next_batch(parts[2])
            if failure is not None:
                return failure
            batches = self.cursors.get(parts[2])
            if not batches:
                return _error(404, 1600, "cursor not found")
            batch = batches.pop(0)
            if not batches:
                del self.cursors[parts[2]]  # exhausted: the server frees it
            return 200, {"result": batch, "hasMore": bool(batches), "id": parts[2]}
        if parts[:2] == ["_api", "cursor"] and method == "DELETE":
            if self.cursors.pop(parts[2], None) is None:
                return _error(404, 1600, "cursor not found")
            return 202, {"id": parts[2], "error": False, "code": 202}
        return _error(404, 404, f"unknown path {path}")


@pytest.fixture
async def fake() -> AsyncIterator[FakeArango]:
    server = FakeArango()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", server.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    server.settings = ArangoSettings(f"http://127.0.0.1:{port}", DB, "root", "")
    try:
        yield server
    finally:
        await runner.cleanup()


@pytest.fixture
async def store(fake: FakeArango) -> AsyncIterator[ArangoStore]:
    opened = ArangoStore(fake.settings)
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


def _dataset(key: str) -> Node:
    return Node(f"dataset/{key}", Kind.DATASET, key, utcnow())


async def _write(store: ArangoStore) -> None:
    async with store.write() as tx:
        await tx.insert_nodes([_dataset("d1")])


async def _cancelled_while_held(server: FakeArango, endpoint: str, call: Awaitable[Any]) -> None:
    """Runs ``call`` until the server holds its request to ``endpoint``, cancels it
    there, sees the cancellation through, and lets the server answer after all."""
    server.hold(endpoint)
    task = asyncio.ensure_future(call)
    await server.arrived(endpoint)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    server.release(endpoint)


# --------------------------------------------------------------------------------------
# Stream transactions
# --------------------------------------------------------------------------------------


async def test_a_write_cancelled_while_its_transaction_begins_aborts_that_transaction(
    fake: FakeArango, store: ArangoStore
) -> None:
    server = fake
    await _cancelled_while_held(server, "begin", _write(store))  # the server opens the transaction after all
    assert await server.sent("DELETE", f"/_db/{DB}/_api/transaction/t1")
    assert server.transactions == {"t1": "aborted"}


async def test_a_write_cancelled_while_it_commits_ends_once_the_commit_is_answered(fake: FakeArango, store: ArangoStore) -> None:
    server = fake
    server.hold("commit")
    task = asyncio.create_task(_write(store))
    await server.arrived("commit")
    task.cancel()
    await asyncio.sleep(0.1)
    assert not task.done()  # the commit may have been applied: its answer is awaited
    server.release("commit")
    with pytest.raises(asyncio.CancelledError):
        await task
    assert server.transactions == {"t1": "committed"}
    assert ("DELETE", f"/_db/{DB}/_api/transaction/t1") not in server.requests


async def test_a_write_cancelled_during_a_statement_aborts_its_transaction_once_the_statement_ends(
    fake: FakeArango, store: ArangoStore
) -> None:
    """The statement goes on running on the server, which refuses to abort a transaction
    in use: the abort is sent once the statement has ended, not refused and forgotten."""
    server = fake
    server.hold("query")
    task = asyncio.create_task(_write(store))
    await server.arrived("query")
    task.cancel()
    await asyncio.sleep(0.2)
    assert ("DELETE", f"/_db/{DB}/_api/transaction/t1") not in server.requests
    server.release("query")
    with pytest.raises(asyncio.CancelledError):
        await task
    assert server.transactions == {"t1": "aborted"}


async def test_an_abort_refused_as_in_use_is_asked_again(fake: FakeArango, store: ArangoStore) -> None:
    server = fake
    server.refuse_aborts = 2
    server.hold("query")
    task = asyncio.create_task(_write(store))
    await server.arrived("query")
    task.cancel()
    server.release("query")
    with pytest.raises(asyncio.CancelledError):
        await task
    assert server.requests.count(("DELETE", f"/_db/{DB}/_api/transaction/t1")) == 3
    assert server.transactions == {"t1": "aborted"}


# --------------------------------------------------------------------------------------
# Cursors
# --------------------------------------------------------------------------------------


def _many_datasets(server: FakeArango) -> None:
    docs = [
        {"_id": f"datasets/d{i}", "_key": f"d{i}", "name": f"d{i}", "createdAt": "2026-11-01T10:00:00.000000Z"} for i in range(4)
    ]
    server.query = lambda body: server.open_cursor([docs[:2], docs[2:]])


async def test_a_read_cancelled_between_batches_closes_its_cursor(fake: FakeArango, store: ArangoStore) -> None:
    server = fake
    _many_datasets(server)
    await _cancelled_while_held(server, "next", store.get_nodes([f"dataset/d{i}" for i in range(4)]))
    assert await server.sent("DELETE", f"/_db/{DB}/_api/cursor/c1")
    assert server.cursors == {}


async def test_a_read_cancelled_before_its_first_batch_arrives_closes_the_cursor_the_server_opened(
    fake: FakeArango, store: ArangoStore
) -> None:
    server = fake
    _many_datasets(server)
    await _cancelled_while_held(server, "query", store.get_nodes(["dataset/d0"]))
    assert await server.sent("DELETE", f"/_db/{DB}/_api/cursor/c1")
    assert server.cursors == {}


async def test_a_read_whose_next_batch_fails_closes_its_cursor(fake: FakeArango, store: ArangoStore) -> None:
    server = fake
    _many_datasets(server)
    server.next_batch = lambda cursor_id: _error(500, 32, "query would use more memory than allowed")
    with pytest.raises(BadUserInput):
        await store.get_nodes([f"dataset/d{i}" for i in range(4)])
    assert await server.sent("DELETE", f"/_db/{DB}/_api/cursor/c1")
    assert server.cursors == {}


async def test_a_read_that_reads_every_batch_leaves_no_cursor_to_close(fake: FakeArango, store: ArangoStore) -> None:
    server = fake
    _many_datasets(server)
    nodes = await store.get_nodes([f"dataset/d{i}" for i in range(4)])
    assert [n.id for n in nodes if n is not None] == [f"dataset/d{i}" for i in range(4)]
    assert [r for r in server.requests if r[0] == "DELETE"] == []


# --------------------------------------------------------------------------------------
# Queries beyond the server's limits
# --------------------------------------------------------------------------------------


async def test_a_compiled_read_beyond_the_servers_plan_limits_is_left_to_the_executor_and_elsewhere_is_a_coded_error(
    fake: FakeArango, store: ArangoStore
) -> None:
    server = fake
    server.query = lambda body: _error(400, 1524, "too much nesting or too many objects")
    assert await store.answer(two_roots()) is None
    with pytest.raises(BadUserInput) as raised:
        await store.lineage(LineageQuery("run/r1", Direction.BOTH, 3, 100, None))
    assert "1524" in raised.value.message and "less at once" in raised.value.message


# --------------------------------------------------------------------------------------
# init-db on a live Arangopipe database
# --------------------------------------------------------------------------------------


def _repeated_tags(server: FakeArango) -> None:
    """Arangopipe's data as the fake answers it: three runs share a deployment tag, two
    deployments a tag."""

    def answer(body: dict[str, Any]) -> Answer:
        bind = body.get("bindVars", {})
        if "COLLECT" in body["query"] and bind.get("@c0") == "run" and "deployment_tag" in bind.values():
            return server.open_cursor([[{"value": ["prod-7"], "count": 3, "keys": ["r1", "r2", "r9"]}]])
        if "COLLECT" in body["query"] and bind.get("@c0") == "deployment" and "tag" in bind.values():
            return server.open_cursor([[{"value": ["serving-a"], "count": 2, "keys": ["d1", "d2"]}]])
        return server.open_cursor([[]])

    server.query = answer


async def test_init_db_builds_every_index_it_can_and_names_each_repeated_value(fake: FakeArango) -> None:
    server = fake
    _repeated_tags(server)
    with pytest.raises(RepeatedValues) as raised:
        await init_db(fake.settings)
    lines = raised.value.lines
    assert lines[:2] == [
        'run/r1, run/r2 and run/r9 share deployment_tag "prod-7": index metagate_deployment_tag on run is not built',
        'deployment/d1 and deployment/d2 share tag "serving-a": index metagate_tag on deployment is not built',
    ]
    assert "metagate init-db" in lines[-1]
    built = {(i["collection"], i["name"]) for i in server.created_indexes}
    refused = {("run", "metagate_deployment_tag"), ("deployment", "metagate_tag")}
    assert built == {(i.collection, i.name) for i in indexes()} - refused
    assert all(i["inBackground"] is True for i in server.created_indexes)
    assert raised.value.code == "CONFLICT"


async def test_init_db_run_again_skips_the_check_for_indexes_already_built(fake: FakeArango) -> None:
    server = fake
    for index in indexes():
        server.indexes.setdefault(index.collection, []).append({"name": index.name, "type": "persistent"})
    checks: list[str] = []

    def answer(body: dict[str, Any]) -> Answer:
        if "COLLECT" in body["query"]:
            checks.append(body["query"])
        return server.open_cursor([[]])

    server.query = answer
    await init_db(fake.settings)
    # Only the serving periods' set-aside looks at the data; no index is built twice.
    assert len(checks) == 1 and "periodStart" in checks[0]
    assert server.created_indexes == []


async def test_a_server_that_refuses_writes_as_read_only_is_not_ready_and_says_why(
    fake: FakeArango, store: ArangoStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue #12's rows 1 and 2 on ArangoDB: a read-only server (or a full disk) refuses
    a write as UNAVAILABLE with the reason, and the store is not ready until a write
    succeeds or CANNOT_WRITE_SECONDS pass."""
    from metagate.store import errors as errors_module

    fake.query = lambda body: _error(403, 1004, "write-protected")
    with pytest.raises(Unavailable, match="read-only") as refused:
        await _write(store)
    assert refused.value.code == "UNAVAILABLE"
    with pytest.raises(Unavailable, match="read-only"):
        await store.ping()
    monkeypatch.setattr(errors_module, "CANNOT_WRITE_SECONDS", 0.0)
    fake.query = lambda body: (201, {"result": [1], "hasMore": False})
    await store.ping()


async def test_the_init_db_command_says_what_it_built_then_each_repeated_value_and_exits_2(fake: FakeArango) -> None:
    _repeated_tags(fake)
    url = f"arangodb+{fake.settings.hosts.replace('http://', 'http://root@')}/{DB}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("METAGATE_")}
    command = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "metagate", "init-db", "--store", url, stdout=PIPE, stderr=PIPE, env=env
    )
    out, err = await asyncio.wait_for(command.communicate(), 60)
    assert command.returncode == 2, err.decode()
    assert err.decode().splitlines() == [
        'error: run/r1, run/r2 and run/r9 share deployment_tag "prod-7": index metagate_deployment_tag on run is not built',
        'error: deployment/d1 and deployment/d2 share tag "serving-a": index metagate_tag on deployment is not built',
        "error: make those values unique and run `metagate init-db` again: every other index is built",
    ]
    built = out.decode().splitlines()
    assert len(built) == len(fake.created_indexes) and all(line.startswith("created index ") for line in built)


@dataclass
class AsOfStore:
    """What init-db's backfill reads and writes, as the server would hold it: the
    change log (its counter, its deletions and edge removals), the documents, the
    declared edge kinds, and the collections it fills, by key; ``fail``: the
    collection whose next insert is answered as killed (an operator's kill, a lost
    connection: a run cut short)."""

    counter: int
    deletions: list[dict[str, Any]]
    removals: list[dict[str, Any]]
    documents: dict[str, dict[str, Any]]
    declared: list[dict[str, Any]]
    held: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    sent: list[str] = field(default_factory=list)
    fail: str | None = None

    def answer(self, server: FakeArango, body: dict[str, Any]) -> Answer:
        query, bind = body["query"], body.get("bindVars", {})
        self.sent.append(query)
        if bind.get("@c") is not None and bind.get("@c") == self.fail and query == aql.insert_absent("c", []).text:
            self.fail = None
            return _error(410, 1500, "query killed")
        seqs = self.held.setdefault(layout.SEQUENCES_COLLECTION, {})
        rows: list[Any] = []
        if query == aql.begin_backfill().text:
            seqs.setdefault(layout.BACKFILL_MARK, {"_key": layout.BACKFILL_MARK, "upTo": self.counter, "done": False})
        elif query == aql.backfill_mark().text:
            rows = [seqs[layout.BACKFILL_MARK]] if layout.BACKFILL_MARK in seqs else []
        elif query == aql.end_backfill().text:
            seqs[layout.BACKFILL_MARK]["done"] = True
        elif query == aql.logged_deletions().text:
            rows = self.deletions
        elif query == aql.logged_edge_removals(0).text:
            rows = [r for r in self.removals if r["seq"] <= bind["upTo"]]
        elif query == aql.deleted_documents().text:
            rows = [
                {"node": i, "at": d["deletedAt"], "reason": d.get("deletedReason")}
                for i, d in self.documents.items()
                if d.get("deletedAt")
            ]
        elif query == aql.declared_kinds().text:
            rows = [{"nodes": [], "edges": self.declared}]
        elif query == aql.existing_documents([]).text:
            rows = [i for i in bind["ids"] if i in self.documents]
        elif query == aql.insert_absent("c", []).text:
            rows = [self.insert(bind["@c"], d) for d in bind["docs"]]
        elif query == aql.insert_open_spans([]).text:
            spans = self.held.setdefault(layout.DELETIONS_COLLECTION, {})
            for s in bind["spans"]:
                doc = self.documents.get(s["node"], {})
                opened = any(o["node"] == s["node"] and o["restoredAt"] is None for o in spans.values())
                if doc.get("deletedAt") == s["deletedAt"] and not opened:
                    rows.append(self.insert(layout.DELETIONS_COLLECTION, s))
        return server.open_cursor([rows])

    def insert(self, collection: str, doc: dict[str, Any]) -> str | None:
        """overwriteMode "ignore": a key there already is left as it is."""
        held = self.held.setdefault(collection, {})
        if doc["_key"] in held:
            return None
        held[doc["_key"]] = doc
        return str(doc["_key"])


async def test_init_db_fills_what_reads_as_of_a_time_read_from_the_change_log_once_even_cut_short(fake: FakeArango) -> None:
    server = fake
    server.missing = {layout.DELETIONS_COLLECTION, *layout.REMOVED_EDGE_COLLECTIONS}
    for index in indexes():
        server.indexes.setdefault(index.collection, []).append({"name": index.name, "type": "persistent"})

    def event(seq: int, node: str, action: str, at: str, reason: str | None = None) -> dict[str, Any]:
        return {"seq": seq, "node": node, "action": action, "at": at, "reason": reason}

    def removal(seq: int, kind: str, from_id: str, to_id: str, at: str) -> dict[str, Any]:
        return {"seq": seq, "edge": [kind, from_id, to_id], "createdAt": "t0", "at": at}

    db = AsOfStore(
        counter=5,
        deletions=[
            event(1, "run/r1", "deleted", "t1", "dup"),
            event(2, "run/r1", "restored", "t2"),
            event(3, "run/gone", "deleted", "t1"),
            event(4, "run/gone", "restored", "t2"),
            event(5, "dataset/d1", "deleted", "t3", "old"),
        ],
        removals=[
            removal(4, "run_model", "run/r1", "model/m1", "t4"),
            removal(5, "custom:monitors", "deployment/p1", "custom/c1", "t5"),
            removal(5, "project_model", "project/gone", "model/m1", "t6"),
        ],
        documents={
            "run/r1": {},
            "models/m1": {},
            "deployment/p1": {},
            "metagate_custom_nodes/c1": {},
            "datasets/d1": {"deletedAt": "t3", "deletedReason": "old"},
        },
        declared=[{"_key": "monitors", "upstream": "from"}],
    )
    server.query = lambda body: db.answer(server, body)
    spans = db.held.setdefault(layout.DELETIONS_COLLECTION, {})
    lineage = db.held.setdefault(layout.REMOVED_LINEAGE_COLLECTION, {})
    # Cut short once the spans are in: the removed edges' insert is killed.
    db.fail = layout.REMOVED_LINEAGE_COLLECTION
    with pytest.raises(DeadlineExceeded):
        await init_db(fake.settings)
    created = {(c["name"], c.get("type", 2)) for c in server.created_collections}
    assert created == {(layout.DELETIONS_COLLECTION, 2), *((c, 3) for c in layout.REMOVED_EDGE_COLLECTIONS)}
    # Bounded before the collections were made; a span of each deletion the log closed,
    # and of each node deleted now; none of a node gone.
    assert db.held[layout.SEQUENCES_COLLECTION][layout.BACKFILL_MARK] == {"_key": layout.BACKFILL_MARK, "upTo": 5, "done": False}
    r1, d1 = layout.backfill_key("span", 1, "run/r1"), layout.backfill_key("span", 5, "datasets/d1")
    assert spans == {
        r1: {"_key": r1, "node": "run/r1", "deletedAt": "t1", "reason": "dup", "restoredAt": "t2"},
        d1: {"_key": d1, "node": "datasets/d1", "deletedAt": "t3", "reason": "old", "restoredAt": None},
    }
    assert lineage == {}
    # Writers go on meanwhile, keeping what they change: d1 restored (its span closed),
    # r5 deleted (its own span), an edge removed (kept), each logged after the bound.
    db.deletions += [event(6, "dataset/d1", "restored", "t6"), event(7, "run/r5", "deleted", "t7")]
    db.removals.append(removal(8, "run_model", "run/r5", "model/m1", "t8"))
    db.counter = 8
    db.documents["datasets/d1"] = {}
    db.documents["run/r5"] = {"deletedAt": "t7"}
    spans[d1] = {**spans[d1], "restoredAt": "t6"}
    spans["w1"] = {"_key": "w1", "node": "run/r5", "deletedAt": "t7", "reason": None, "restoredAt": None}
    lineage["w2"] = layout.to_removed_edge_document(Edge("run_model", "run/r5", "model/m1", "t0"), "t8")[1] | {"_key": "w2"}
    before = {k: dict(v) for k, v in spans.items()}
    # Run again: the backfill runs to its end, up to the same bound, inserting only what
    # the first run did not.
    server.created_collections.clear()
    done = await init_db(fake.settings)
    assert server.created_collections == []
    assert spans == before  # the spans in already, the writer's span of r5, and none more
    edges = [
        layout.to_removed_edge_document(Edge("run_model", "run/r1", "model/m1", "t0"), "t4")[1]
        | {"_key": layout.backfill_key("edge", 4, "run_model", "run/r1", "model/m1")},
        layout.to_removed_edge_document(Edge("custom:monitors", "deployment/p1", "custom/c1", "t0", upstream=End.FROM), "t5")[1]
        | {"_key": layout.backfill_key("edge", 5, "custom:monitors", "deployment/p1", "custom/c1")},
    ]
    assert lineage == {"w2": lineage["w2"], **{e["_key"]: e for e in edges}}
    assert db.held.get(layout.REMOVED_LINKS_COLLECTION, {}) == {}  # project/gone's edge left out
    assert not [d for d in done if d.startswith(f"filled {layout.DELETIONS_COLLECTION}")]
    assert f"filled {' and '.join(layout.REMOVED_EDGE_COLLECTIONS)} with 2 removed edges from the change log" in done
    assert db.held[layout.SEQUENCES_COLLECTION][layout.BACKFILL_MARK]["done"] is True
    # And again: done, it reads the log no more.
    db.sent.clear()
    again = await init_db(fake.settings)
    assert not [d for d in again if d.startswith("filled")]
    assert aql.logged_deletions().text not in db.sent and aql.begin_backfill().text not in db.sent


async def test_init_db_on_a_database_without_the_as_of_collections_fills_them_at_once(fake: FakeArango) -> None:
    server = fake
    server.missing = {layout.DELETIONS_COLLECTION, *layout.REMOVED_EDGE_COLLECTIONS}
    db = AsOfStore(
        counter=2,
        deletions=[{"seq": 1, "node": "run/r1", "action": "deleted", "at": "t1", "reason": "dup"}],
        removals=[],
        documents={"run/r1": {"deletedAt": "t1", "deletedReason": "dup"}},
        declared=[],
    )
    server.query = lambda body: db.answer(server, body)
    done = await init_db(fake.settings)
    key = layout.backfill_key("span", 1, "run/r1")
    assert db.held[layout.DELETIONS_COLLECTION] == {
        key: {"_key": key, "node": "run/r1", "deletedAt": "t1", "reason": "dup", "restoredAt": None}
    }
    assert f"filled {layout.DELETIONS_COLLECTION} with 1 deletion spans from the change log" in done
    assert db.held[layout.SEQUENCES_COLLECTION][layout.BACKFILL_MARK] == {"_key": layout.BACKFILL_MARK, "upTo": 2, "done": True}

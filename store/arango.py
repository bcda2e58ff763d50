"""The production store: ArangoDB through python-arango-async, over Arangopipe's layout.

Every call to the driver runs inside ``map_errors()``, the one place that turns its
errors into Metagate's. Reads are single AQL queries; a write is one stream
transaction whose statements run one after another, never concurrently.

A request cancelled part way (the gateway's deadline) leaves nothing open on the server:
a transaction begun meanwhile is aborted once its id is known, an abandoned cursor is
deleted, and a commit already sent is waited for. Those clean-ups that outlive the
request run as tasks the store keeps, and ``close`` waits for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

import aiohttp
import arangoasync.errno as errno
import orjson
from arangoasync.auth import Auth
from arangoasync.client import ArangoClient
from arangoasync.cursor import Cursor
from arangoasync.exceptions import ArangoClientError, ArangoServerError, ServerConnectionError

from metagate.store import arango_aql as aql
from metagate.store import arango_layout as layout
from metagate.store.arango_compile import MAX_EXECUTION_NODES, NotAnswered, compile_plan, finishing
from metagate.store.changes import ORIGIN, Action, Change, ChangeQuery, Recorder, record_points, record_update, touches
from metagate.store.errors import (
    BadUserInput,
    Conflict,
    DeadlineExceeded,
    NotFound,
    Unavailable,
    WriteConflict,
    WriteRefusal,
)
from metagate.store.model import (
    CUSTOM_EDGE_PREFIX,
    EDGE_KINDS,
    Direction,
    Edge,
    EdgeKindDecl,
    JSONObject,
    Kind,
    Node,
    NodeKindDecl,
    Step,
    step_toward_end,
    utcnow,
)
from metagate.store.plan import Plan
from metagate.store.port import (
    History,
    HistoryEntry,
    HistoryQuery,
    IdempotencyRecord,
    LineageEvent,
    LineageNode,
    LineageQuery,
    LineageResult,
    ListQuery,
    MetricHistoryQuery,
    MetricPoint,
    NameKey,
    NeighborRequest,
    OrderField,
    Page,
    ProjectCounts,
    ServingPeriod,
    Token,
    metric_order,
    numbered,
    placed_points,
)

log = logging.getLogger("metagate.store.arango")

T = TypeVar("T")

# ArangoDB's error numbers (lib/Basics/errors.dat, as arangoasync.errno names them) that
# mean something to a client.
_UNREACHABLE = {
    errno.FORBIDDEN,
    errno.LOCK_TIMEOUT,
    errno.REQUEST_CANCELED,
    errno.SHUTTING_DOWN,
    errno.HTTP_UNAUTHORIZED,
    errno.DATABASE_NOT_FOUND,
    errno.CLUSTER_TIMEOUT,
}
# A stream transaction the server no longer runs: aborted at its idle timeout
# (--transaction.streaming-idle-timeout; 1654, then 1653 once collected, then 1655 once
# forgotten), or lost with a restart. Nothing of it was written.
_TRANSACTION_GONE = {errno.TRANSACTION_ABORTED, errno.TRANSACTION_DISALLOWED_OPERATION, errno.TRANSACTION_NOT_FOUND}
# A server that takes no writes, and why (a read-only server or database, a full disk).
_CANNOT_WRITE = {
    errno.READ_ONLY: "the ArangoDB server or database is read-only: writes are refused",
    errno.FILESYSTEM_FULL: "the disk holding the ArangoDB data is full: writes are refused",
    errno.DATADIR_NOT_WRITABLE: "the ArangoDB server cannot write its data folder: writes are refused",
}
# What the server answers an abort of a transaction a statement still uses.
_IN_USE = frozenset({errno.LOCKED, errno.TRANSACTION_DISALLOWED_OPERATION})
# Beyond what the server plans or holds for one query: ERROR_QUERY_TOO_MUCH_NESTING
# (also more than 4,000 execution nodes in the initial plan) and ERROR_RESOURCE_LIMIT
# (more than 1,000 registers, the query's memory limit, a transaction's size limit).
_BEYOND_LIMITS = {errno.QUERY_TOO_MUCH_NESTING, errno.RESOURCE_LIMIT}
# A compiled read the server refuses to parse or plan: the executor's smaller queries
# answer instead. ERROR_QUERY_PARSE too: the parser has its own bounds.
_LEFT_TO_EXECUTOR = frozenset({errno.QUERY_PARSE, *_BEYOND_LIMITS})
# How long a cancelled write waits for the answer to a commit it has sent.
_COMMIT_GRACE_SECONDS = 5.0
_LOCK_WAIT_SECONDS = 30.0  # for the change log's lock, when no request deadline bounds it

# The compiled path relies on AQL evaluating only the branch of a ternary it chooses,
# which ArangoDB does from 3.12.1 on.
_COMPILED_READS_SINCE = (3, 12, 1)
_VERSION = re.compile(r"(\d+)\.(\d+)\.(\d+)(?:[.-](.*))?")


def compiled_reads_supported(version: str | None) -> bool:
    """Whether a server of ``version`` (``/_api/version``'s ``version``: ``3.12.4``,
    ``3.13.0-devel``, ``3.12.1-rc.1``) answers compiled reads as they mean: 3.12.1 or
    later. A suffix that starts with a digit (a build of the release: ``3.12.4.1``,
    ``3.12.4-2``) counts as the release, any other (``devel``, ``rc.1``) as before it;
    a version of another form as too old."""
    match = _VERSION.fullmatch(version or "")
    if match is None:
        return False
    release = tuple(int(n) for n in match.group(1, 2, 3))
    suffix = match.group(4)
    if suffix is not None and not suffix[:1].isdigit():
        return release > _COMPILED_READS_SINCE  # a pre-release: not yet the release
    return release >= _COMPILED_READS_SINCE


@dataclass(frozen=True)
class ArangoSettings:
    hosts: str
    database: str
    username: str
    password: str
    graph: str = layout.GRAPH

    def __repr__(self) -> str:
        # Credentials never reach logs or error messages.
        return f"ArangoSettings(hosts={self.hosts!r}, database={self.database!r}, graph={self.graph!r})"

    __str__ = __repr__


def parse_url(url: str) -> ArangoSettings:
    """``arangodb+http://user:password@host:8529/database?graph=name`` (or ``+https``)."""
    parts = urlsplit(url)
    scheme = parts.scheme.removeprefix("arangodb+")
    if parts.scheme not in ("arangodb+http", "arangodb+https") or not parts.hostname:
        raise ValueError("an ArangoDB store URL looks like arangodb+http://user:password@host:8529/database")
    database = unquote(parts.path.strip("/")) or "_system"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        # urllib's message quotes what it read as the port: part of a password, maybe.
        raise ValueError("the port must be a number (in a password, write / ? # @ and : as %2F %3F %23 %40 %3A)") from None
    graph = parse_qs(parts.query).get("graph", [layout.GRAPH])[0]
    return ArangoSettings(
        hosts=f"{scheme}://{parts.hostname}{port}",
        database=database,
        username=unquote(parts.username or "root"),
        password=unquote(parts.password or ""),
        graph=graph,
    )


def translate(error: BaseException) -> BaseException:
    """The one mapping from driver errors to Metagate's errors."""
    if isinstance(error, ArangoServerError) and not isinstance(error, ServerConnectionError):
        code = error.error_code
        if code in (errno.CONFLICT, errno.DEADLOCK, errno.LOCK_TIMEOUT):
            # A write-write conflict, or RocksDB's deadlock or key-lock timeout (which its
            # status conversion reports as 29 and 18): the write is run again.
            return WriteConflict("a concurrent write changed the same data; try again")
        if code == errno.UNIQUE_CONSTRAINT_VIOLATED:
            return Conflict("the write would duplicate an existing node, edge or name")
        if code == errno.DOCUMENT_NOT_FOUND:
            return NotFound("the write refers to a node that does not exist")
        if code == errno.DATA_SOURCE_NOT_FOUND:
            return Unavailable("the ArangoDB database lacks Metagate's collections: run `metagate init-db`")
        if code == errno.QUERY_COLLECTION_LOCK_FAILED:
            # ERROR_QUERY_COLLECTION_LOCK_FAILED: raised when a traversal reaches a
            # collection the query does not declare ("collection not known to traversal:
            # 'x'. please add 'WITH x' ..."; every traversal here names Arangopipe's
            # vertex collections), or, in a cluster, a collection without shards (dropped
            # while the query ran). The server's message names the collection.
            return Unavailable(
                "ArangoDB refused to read a collection the query reached (error 1521): an edge leads outside"
                f" Arangopipe's vertex collections, or a collection was dropped meanwhile ({error.error_message})"
            )
        if code in _BEYOND_LIMITS:
            # 32 is also a transaction's size limit, and the server's memory limit for
            # all queries at once: the message names each case.
            return BadUserInput(
                f"the request is more than the ArangoDB server plans or holds for one query or transaction (error {code}):"
                " ask for or send less at once (fewer or smaller lists, a smaller lineage limit or depth, fewer runs"
                " per logRuns), or try again when the server is less loaded"
            )
        if code == errno.QUERY_KILLED:
            # Queries run with maxRuntime set to the request's deadline; an operator's
            # kill and a shutdown stop them the same way.
            return DeadlineExceeded("the ArangoDB server stopped the query (error 1500: past its deadline, or killed)")
        if code in _CANNOT_WRITE:
            return Unavailable(_CANNOT_WRITE[code])
        if code in _TRANSACTION_GONE:
            return Unavailable(
                f"the ArangoDB server no longer runs this write's transaction (error {code}: aborted at its idle"
                " timeout, or lost with a restart): nothing of it was written; try again"
            )
        if code in _UNREACHABLE:
            return Unavailable("the ArangoDB store is unavailable (authentication, database or server)")
        return error
    # TimeoutError is an OSError: test it first.
    if isinstance(error, asyncio.TimeoutError):
        return Unavailable("the ArangoDB server did not answer in time")
    if isinstance(error, (ServerConnectionError, ArangoClientError, aiohttp.ClientError, OSError)):
        return Unavailable("the ArangoDB server cannot be reached")
    return error


@contextmanager
def map_errors(*, leave: Collection[int] = ()) -> Iterator[None]:
    """``with map_errors():`` around every call to the driver: its errors leave as
    Metagate's. Server errors whose number is in ``leave`` pass unchanged (the caller
    handles them); cancellation, being no Exception, always passes unchanged."""
    try:
        yield
    except Exception as error:
        if isinstance(error, ArangoServerError) and error.error_code in leave:
            raise
        mapped = translate(error)
        if mapped is error:
            raise
        raise mapped from error


class _Runner:
    """Runs AQL on one database handle: the standard one, or a stream transaction's."""

    def __init__(self, store: ArangoStore, db: Any) -> None:
        self.store = store
        self.db = db
        # The statement last sent, which may still run on the server after its caller
        # was cancelled: a transaction is aborted only once it has ended.
        self.in_flight: asyncio.Future[Any] | None = None

    async def run(self, query: aql.Query, *, leave: Collection[int] = ()) -> list[Any]:
        self.store.statements += 1
        options = {"maxRuntime": self.store.max_runtime} if self.store.max_runtime else None
        with map_errors(leave=leave):
            executed = asyncio.ensure_future(
                self.db.aql.execute(query.text, bind_vars=query.bind, batch_size=1000, options=options)
            )
            self.in_flight = executed
            try:
                cursor: Cursor = await asyncio.shield(executed)
            except asyncio.CancelledError:
                # The server may open a cursor after all: deleted once it answers.
                self.store._keep(executed)
                executed.add_done_callback(self.store._close_when_open)
                raise
            try:
                return [row async for row in cursor]
            except BaseException:
                self.store._close_abandoned(cursor)
                raise

    async def one(self, query: aql.Query, *, leave: Collection[int] = ()) -> Any:
        rows = await self.run(query, leave=leave)
        return rows[0] if rows else None

    async def answer(self, plan: Plan) -> JSONObject | None:
        """One AQL query (``arango_compile``) answers the whole plan; None, and the
        executor answers instead, when the answer needs an error (the executor gives it),
        when the server predates 3.12.1, and when the query is more than the server
        plans: over the safe bound of execution nodes, or refused as such.

        A limitation no AQL can lift: ArangoDB's JSON writes a double of integral value
        as an integer, so a stored 3.0 in attributes, params or metrics comes back 3
        (``finishing`` makes the METRIC fields Floats again; free-form JSON it cannot
        tell). VelocyPack would keep the type, but python-arango-async speaks JSON only:
        its requests are application/json and its Serializer/Deserializer are JSON text
        (arangoasync.serialization).

        A plan that reads as of a time (``node(id, asOf:)``, ``lineage(asOf:)``) is
        compiled too: its nodes and hops read as ``get_nodes(as_of=)``, ``neighbors``
        and ``lineage`` read them then."""
        if not self.store.compiled_reads:
            return None
        compiled = plan.memo.get("arango")
        if compiled is None:
            try:
                compiled = plan.memo["arango"] = (compile_plan(plan), finishing(plan))
            except BadUserInput:
                return None  # a list the store refuses: the executor says why
        query, finish = compiled
        if query.nodes is not None and query.nodes > MAX_EXECUTION_NODES:
            return None
        try:
            result = await self.one(query, leave=_LEFT_TO_EXECUTOR)
        except ArangoServerError as error:
            if error.error_code not in _LEFT_TO_EXECUTOR:
                raise
            log.warning("ArangoDB refused a compiled read (error %s): the executor answers it", error.error_code)
            return None
        if not result or not result["ok"]:
            return None
        data: JSONObject = result["data"]
        try:
            return finish(data) if finish is not None else data
        except NotAnswered:
            return None

    async def answer_text(self, plan: Plan) -> bytes | None:
        # The driver hands over parsed JSON: encoded again.
        data = await self.answer(plan)
        return orjson.dumps(data) if data is not None else None

    async def get_nodes(self, ids: Sequence[str], *, deleted: bool = False, as_of: str | None = None) -> list[Node | None]:
        if not ids:
            return []
        if as_of is not None:
            rows = await self.run(aql.get_nodes_as_of(ids, as_of))
            nodes = [layout.node_as_of(r["d"], r["parts"], r["deleted"], as_of) if r else None for r in rows]
        else:
            docs = await self.run(aql.get_nodes(ids))
            nodes = [layout.from_document(d) if d else None for d in docs]
        # A deleted node is read only when asked for.
        return [n if n is None or deleted or n.deleted_at is None else None for n in nodes]

    async def find_named(self, keys: Sequence[NameKey]) -> list[list[Node]]:
        if not keys:
            return []
        groups = await self.one(aql.find_named(keys))
        return [[layout.from_document(d) for d in group] for group in groups]

    async def find_by_field(self, kind: Kind, name: str, value: str) -> list[Node]:
        return [layout.from_document(d) for d in await self.run(aql.find_by_field(kind, name, value))]

    async def find_serving_perf(self, periods: Sequence[ServingPeriod]) -> list[Node | None]:
        if not periods:
            return []
        docs = await self.one(aql.find_serving_perf(periods))
        return [layout.from_document(d) if d else None for d in docs]

    async def neighbors(self, requests: Sequence[NeighborRequest]) -> list[Page]:
        if not requests:
            return []
        groups = aql.neighbor_groups(requests)  # once, for the query and its answer
        return neighbor_pages(requests, await self.one(aql.neighbors(requests, groups)), groups)

    async def history(self, queries: Sequence[HistoryQuery]) -> list[list[HistoryEntry]]:
        if not queries:
            return []
        lists = await self.one(aql.history(queries))
        return [[layout.from_history_document(d) for d in docs] for docs in lists]

    async def metric_history(self, queries: Sequence[MetricHistoryQuery]) -> list[list[MetricPoint]]:
        if not queries:
            return []
        lists = await self.one(aql.metric_history(queries))
        return [[layout.from_metric_point_document(d) for d in docs] for docs in lists]

    async def declared_kinds(self) -> tuple[list[NodeKindDecl], list[EdgeKindDecl]]:
        found = await self.one(aql.declared_kinds())
        # In name order as SQLite gives it, by code point: AQL's SORT collates by ICU,
        # which puts "_" before digits.
        return (
            sorted((layout.from_node_kind_document(d) for d in found["nodes"]), key=lambda k: k.name),
            sorted((layout.from_edge_kind_document(d) for d in found["edges"]), key=lambda k: k.name),
        )

    async def stored_edges(self, edges: Sequence[Edge]) -> list[str | None]:
        if not edges:
            return []
        found = await self.run(aql.stored_edges([layout.edge_document_id(e) for e in edges]))
        # Arangopipe's edges carry no createdAt: stored, at a time not known.
        return [None if d is None else d.get("createdAt") or layout.UNKNOWN_TIME for d in found]


def neighbor_pages(
    requests: Sequence[NeighborRequest], answered: list[list[list[JSONObject]]], groups: list[list[int]] | None = None
) -> list[Page]:
    """``aql.neighbors``' answer, one list of pages per group of requests, as one page per
    request in the requests' order."""
    pages: dict[int, Page] = {}
    for indexes, lists in zip(aql.neighbor_groups(requests) if groups is None else groups, answered):
        for i, docs in zip(indexes, lists):
            at = requests[i].as_of
            # As of a time, each neighbour is ``aql.node_state``'s row.
            nodes = (
                (layout.node_as_of(r["d"], r["parts"], r["deleted"], at) for r in docs) if at else map(layout.from_document, docs)
            )
            # The group fetched its largest page: each request keeps its own.
            items = [(n, (n.created_at, n.id)) for n in nodes]
            pages[i] = Page(items=items[: requests[i].first], has_next=len(items) > requests[i].first)
    return [pages[i] for i in range(len(requests))]


class ArangoTx(_Runner):
    def __init__(self, store: ArangoStore, db: Any) -> None:
        super().__init__(store, db)
        self.recorder: Recorder | None = Recorder() if store.change_log else None

    async def log_changes(self) -> None:
        """The transaction's change-log entry, when it wrote anything, numbered last."""
        if not self.recorder:
            return
        items = self.recorder.items()
        at = utcnow()
        entry = layout.to_change_document(ORIGIN.get(), at, items)
        await self.run(aql.log_change(entry, [layout.to_change_node_document(t, at) for t in touches(items)]))

    async def get_idempotency(self, key: str) -> IdempotencyRecord | None:
        doc = await self.one(aql.get_idempotency(hashlib.sha256(key.encode()).hexdigest()))
        if not doc:
            return None
        return IdempotencyRecord(doc["key"], doc["fingerprint"], doc["result"], doc["createdAt"])

    async def put_idempotency(self, record: IdempotencyRecord) -> None:
        # The key is hashed into _key (keys are limited in length and characters); the
        # unique _key makes two racing first attempts conflict instead of both landing.
        await self.run(
            aql.put_idempotency(
                {
                    "_key": hashlib.sha256(record.key.encode()).hexdigest(),
                    "key": record.key,
                    "fingerprint": record.fingerprint,
                    "result": record.result,
                    "createdAt": record.created_at,
                }
            )
        )

    async def insert_metric_points(self, points: Sequence[MetricPoint]) -> None:
        """As the SQLite adapter does (port.placed_points): appended after each history's
        last point, or its points from the first the new ones precede written again."""
        if not points:
            return

        async def lasts(histories: list[History]) -> dict[History, MetricPoint]:
            found = await self.run(aql.last_metric_points([list(h) for h in histories]))
            return {h: layout.from_metric_point_document(d) for h, d in zip(histories, found) if d is not None}

        async def after(history: History, first: MetricPoint) -> list[MetricPoint]:
            found = await self.run(aql.metric_points_from_step(*history, first.step))
            points = (layout.from_metric_point_document(d) for d in found)
            return [p for p in points if metric_order(p) > metric_order(first)]

        async def remove_from(history: History, seq: int) -> None:
            await self.run(aql.remove_metric_points_from(*history, seq))

        placed = await placed_points(points, lasts, after, remove_from)
        if self.recorder is not None:
            record_points(self.recorder, points)
        docs = [layout.to_metric_point_document(p, seq) for p, seq in numbered(placed)]
        # In batches: a bind value is held whole in the server's memory.
        for start in range(0, len(docs), 5000):
            await self.run(aql.insert_metric_points(docs[start : start + 5000]))

    async def insert_kinds(self, node_kinds: Sequence[NodeKindDecl], edge_kinds: Sequence[EdgeKindDecl]) -> None:
        # The name is the _key: a name declared twice is a unique-constraint Conflict.
        if self.recorder is not None:
            self.recorder.declared(node_kinds, edge_kinds)
        if node_kinds:
            docs = [layout.to_node_kind_document(k) for k in node_kinds]
            await self.run(aql.insert_documents(layout.NODE_KINDS_COLLECTION, docs))
        if edge_kinds:
            docs = [layout.to_edge_kind_document(k) for k in edge_kinds]
            await self.run(aql.insert_documents(layout.EDGE_KINDS_COLLECTION, docs))

    async def known_lineage_events(self, keys: Sequence[str]) -> set[str]:
        if not keys:
            return set()
        hashed = {_event_key(k): k for k in keys}
        return {hashed[k] for k in await self.run(aql.known_lineage_events(list(hashed)))}

    async def insert_lineage_events(self, events: Sequence[LineageEvent]) -> None:
        if events:
            await self.run(aql.insert_lineage_events([layout.to_lineage_event_document(_event_key(e.key), e) for e in events]))

    async def insert_nodes(self, nodes: Sequence[Node]) -> None:
        if self.recorder is not None:
            self.recorder.created(nodes)
        for query in aql.insert_nodes(nodes):
            await self.run(query)

    async def insert_edges(self, edges: Sequence[Edge]) -> None:
        if self.recorder is not None:
            self.recorder.edges_created(edges)
        for query in aql.insert_edges(edges):
            await self.run(query)

    async def update_node(
        self,
        node_id: str,
        *,
        attributes: JSONObject | None = None,
        tags: Sequence[str] | None = None,
        fields: JSONObject | None = None,
    ) -> None:
        if self.recorder is not None:
            await record_update(self.get_nodes, self.recorder, node_id, attributes, tags, fields)
        changes: JSONObject = {}
        if attributes is not None:
            changes["attributes"] = attributes
        if tags is not None:
            changes["tags"] = list(dict.fromkeys(tags))
        if fields is not None:
            changes.update(layout.field_changes(Kind(node_id.partition("/")[0]), fields))
        if changes:
            await self.run(aql.update_node(node_id, changes))

    async def delete_edges(self, edges: Sequence[Edge]) -> None:
        """Removes the edges, each stored one kept first among the removed edges (from
        its time to now), which reads as of a time follow."""
        if edges and self.recorder is not None:
            self.recorder.edges_deleted(edges, await self.stored_edges(edges))
        for query in [*aql.keep_removed_edges(edges, utcnow()), *aql.remove_edges(edges)]:
            await self.run(query)

    async def insert_history(self, entries: Sequence[HistoryEntry]) -> None:
        if self.recorder is not None:
            for h in entries:
                self.recorder.moved(h.subject, h.topic, h.value)
        if entries:
            docs = [layout.to_history_document(e) for e in entries]
            await self.run(aql.insert_documents(layout.HISTORY_COLLECTION, docs))

    async def delete_nodes(self, ids: Sequence[str], at: str, reason: str | None) -> None:
        """Begins a deletion span of each live node of ``ids`` and marks it deleted, its
        unique values set aside (arango_layout's doc), then hides every edge of each."""
        if not ids:
            return
        if self.recorder is not None:
            self.recorder.marked(Action.DELETED, ids, reason)
        for query in [*aql.start_deletions(ids, at, reason), *aql.delete_nodes(ids, at, reason), *aql.hide_edges(ids)]:
            await self.run(query)

    async def restore_nodes(self, ids: Sequence[str]) -> None:
        """The deleted nodes of ``ids`` live again (their deletion spans closed now), then
        each of their hidden edges whose other end is live shows again (read after the
        nodes are restored: an edge between two of them shows)."""
        if not ids:
            return
        if self.recorder is not None:
            self.recorder.marked(Action.RESTORED, ids)
        for query in aql.restore_nodes(ids):
            try:
                await self.run(query, leave={errno.UNIQUE_CONSTRAINT_VIOLATED})
            except ArangoServerError as error:
                raise Conflict(
                    "a node restored would take back a name, tag or serving period that another node holds now"
                ) from error
        for query in [aql.end_deletions(ids, utcnow()), *aql.show_edges(ids)]:
            await self.run(query)


class ArangoStore:
    def __init__(self, settings: ArangoSettings, *, max_runtime: float | None = None, change_log: bool = True) -> None:
        self.settings = settings
        self.change_log = change_log  # False: no change-log entries (the bench's measure of their cost)
        # With the change log, the server runs one write transaction at a time (see
        # _transaction); this process asks for one at a time, so that writes waiting for
        # the server's lock do not take the connections the one holding it needs.
        self._write_turn = asyncio.Lock()
        # Server-side bound on every query: a request's deadline stops the AQL too.
        self.max_runtime = max_runtime
        self._client: ArangoClient | None = None
        self._db: Any = None
        self.statements = 0
        # Whether ``answer`` compiles reads: the server's version says, once open.
        self.compiled_reads = False
        self._refusal = WriteRefusal()  # why the last write failed, if the server takes none
        # Clean-ups that outlive the request that started them (see the module's doc).
        self._cleanups: set[asyncio.Future[Any]] = set()

    def __repr__(self) -> str:
        return f"ArangoStore({self.settings!r})"

    async def open(self) -> None:
        self._client = ArangoClient(hosts=self.settings.hosts)
        try:
            with map_errors():
                self._db = await self._client.db(
                    self.settings.database,
                    auth=Auth(username=self.settings.username, password=self.settings.password),
                    verify=True,
                )
                version = (await self._db.version()).get("version")
        except BaseException:
            await self.close()
            raise
        self.compiled_reads = compiled_reads_supported(version)
        if not self.compiled_reads:
            log.warning("ArangoDB %s predates 3.12.1: reads are answered field by field, not by one compiled query", version)

    async def close(self) -> None:
        # Clean-ups may start others (a statement's end starts its cursor's deletion):
        # waited for until none is left, within one bound.
        deadline = asyncio.get_running_loop().time() + _COMMIT_GRACE_SECONDS
        while self._cleanups and (left := deadline - asyncio.get_running_loop().time()) > 0:
            await asyncio.wait(set(self._cleanups), timeout=left)
        if self._client is not None:
            await self._client.close()
        self._client = None
        self._db = None

    def _keep(self, work: Awaitable[T]) -> asyncio.Future[T]:
        """``work`` run to its end whoever waits for it; its failure is logged."""
        future = asyncio.ensure_future(work)
        self._cleanups.add(future)
        future.add_done_callback(self._settled)
        return future

    def _settled(self, future: asyncio.Future[Any]) -> None:
        self._cleanups.discard(future)
        if not future.cancelled() and future.exception() is not None:
            log.warning("an ArangoDB clean-up failed (the server drops what it left at its timeout)", exc_info=future.exception())

    def _close_abandoned(self, cursor: Cursor) -> None:
        # A cursor whose last batch was read is gone from the server already.
        if cursor.has_more:
            self._keep(self._close_cursor(cursor))

    async def _close_cursor(self, cursor: Cursor) -> None:
        with map_errors():
            await cursor.close(ignore_missing=True)

    def _close_when_open(self, executed: asyncio.Future[Cursor]) -> None:
        if not executed.cancelled() and executed.exception() is None:
            self._close_abandoned(executed.result())

    def _abort_when_begun(self, begun: asyncio.Future[Any]) -> None:
        if not begun.cancelled() and begun.exception() is None:
            self._keep(self._abort(begun.result()))

    async def _abort(self, trx: Any, in_flight: asyncio.Future[Any] | None = None) -> None:
        """Aborts ``trx`` once the statement ``in_flight`` in it has ended: the server
        refuses to abort a transaction a statement is using (error 28 or 1653, "in
        use"), which is asked again a few times until the grace period ends."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _COMMIT_GRACE_SECONDS
        if in_flight is not None and not in_flight.done():
            await asyncio.wait({in_flight}, timeout=_COMMIT_GRACE_SECONDS)
        pause = 0.01
        while True:
            try:
                with map_errors(leave=_IN_USE):
                    await trx.abort_transaction()
                return
            except ArangoServerError as error:
                if error.error_code not in _IN_USE or loop.time() + pause > deadline:
                    raise
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.5)

    def _reader(self) -> _Runner:
        if self._db is None:
            raise Unavailable("the store is not open")
        return _Runner(self, self._db)

    async def ping(self) -> None:
        """Ready: took the last write (a server that refused one as read-only or with a
        full disk is not ready for ``CANNOT_WRITE_SECONDS``, or until a write succeeds),
        and answers a query."""
        self._refusal.check()
        await self._reader().run(aql.Query("RETURN 1"))

    @asynccontextmanager
    async def write(self) -> AsyncIterator[ArangoTx]:
        try:
            async with self._write_turn if self.change_log else contextlib.nullcontext(), self._transaction() as tx:
                yield tx
        except Unavailable as error:
            code = getattr(error.__cause__, "error_code", None)
            if code in _CANNOT_WRITE:
                self._refusal.failed(_CANNOT_WRITE[code])
                log.error("a write to the ArangoDB store failed: %s", _CANNOT_WRITE[code])
            raise
        self._refusal.succeeded()

    async def transact(self, work: Callable[[ArangoTx], Awaitable[T]]) -> T:
        async with self.write() as tx:
            return await work(tx)

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[ArangoTx]:
        if self._db is None:
            raise Unavailable("the store is not open")
        collections = [
            *layout.VERTEX_COLLECTIONS.values(),
            *(e.name for e in layout.EDGE_COLLECTIONS.values()),
            layout.IDEMPOTENCY_COLLECTION,
            layout.HISTORY_COLLECTION,
            layout.OPENLINEAGE_COLLECTION,
            layout.METRIC_POINTS_COLLECTION,
            layout.NODE_KINDS_COLLECTION,
            layout.EDGE_KINDS_COLLECTION,
            *layout.CUSTOM_EDGE_COLLECTIONS,
            layout.CHANGES_COLLECTION,
            layout.CHANGE_NODES_COLLECTION,
            layout.DELETIONS_COLLECTION,
            *layout.REMOVED_EDGE_COLLECTIONS,
        ]
        # The change-log counter, exclusively: writers commit one at a time, in the order
        # of their entries' numbers (arango_layout.CHANGES_COLLECTION).
        exclusive = [layout.SEQUENCES_COLLECTION] if self.change_log else []
        # Waiting for the lock longer than a request may take is a failure, not a queue.
        wait = math.ceil(self.max_runtime or _LOCK_WAIT_SECONDS)
        begun = asyncio.ensure_future(self._db.begin_transaction(write=collections, exclusive=exclusive, lock_timeout=wait))
        try:
            with map_errors():
                trx = await asyncio.shield(begun)
        except asyncio.CancelledError:
            # Cancelled while the server opens the transaction: the id comes back all the
            # same, and the transaction is aborted then, not left open (its locks and
            # writes held) until the server's idle timeout.
            self._keep(begun)
            begun.add_done_callback(self._abort_when_begun)
            raise
        tx = ArangoTx(self, trx)
        try:
            yield tx
            await tx.log_changes()
        except BaseException:
            # Awaited so that a retry finds the transaction's writes gone; kept, so that a
            # second cancellation does not leave it half sent.
            aborted = asyncio.ensure_future(self._abort(trx, tx.in_flight))
            try:
                await asyncio.shield(aborted)
            except asyncio.CancelledError:
                self._keep(aborted)
                raise
            except Exception:  # the transaction may already be gone with the connection
                log.warning("could not abort a stream transaction", exc_info=True)
            raise
        await self._commit(trx)

    async def _commit(self, trx: Any) -> None:
        """Commits ``trx``; cancelled meanwhile, waits (a few seconds at most) for the
        server's answer before the cancellation goes on.

        A commit cannot be taken back: once the request has left, the server may have
        applied it, and an abort sent after it is refused (a committed transaction is no
        longer running); a commit cut off before it is sent leaves the transaction open
        until the server's idle timeout. So the commit is never cut off: it runs to its
        answer, which the cancelled request then waits for, so that a retry of the
        request finds the write landed or gone, not still open. The caller is told of the
        cancellation either way (asyncio's timeouts need it raised): an idempotency key
        makes its retry answer the landed write."""
        committed = asyncio.ensure_future(self._commit_once(trx))
        try:
            await asyncio.shield(committed)
        except asyncio.CancelledError:
            self._keep(committed)
            await asyncio.wait({committed}, timeout=_COMMIT_GRACE_SECONDS)
            raise

    async def _commit_once(self, trx: Any) -> None:
        with map_errors():
            await trx.commit_transaction()

    async def get_nodes(self, ids: Sequence[str], *, deleted: bool = False, as_of: str | None = None) -> list[Node | None]:
        return await self._reader().get_nodes(ids, deleted=deleted, as_of=as_of)

    async def find_named(self, keys: Sequence[NameKey]) -> list[list[Node]]:
        return await self._reader().find_named(keys)

    async def find_by_field(self, kind: Kind, name: str, value: str) -> list[Node]:
        return await self._reader().find_by_field(kind, name, value)

    async def find_serving_perf(self, periods: Sequence[ServingPeriod]) -> list[Node | None]:
        return await self._reader().find_serving_perf(periods)

    async def neighbors(self, requests: Sequence[NeighborRequest]) -> list[Page]:
        return await self._reader().neighbors(requests)

    async def history(self, queries: Sequence[HistoryQuery]) -> list[list[HistoryEntry]]:
        return await self._reader().history(queries)

    async def metric_history(self, queries: Sequence[MetricHistoryQuery]) -> list[list[MetricPoint]]:
        return await self._reader().metric_history(queries)

    async def declared_kinds(self) -> tuple[list[NodeKindDecl], list[EdgeKindDecl]]:
        return await self._reader().declared_kinds()

    async def stored_edges(self, edges: Sequence[Edge]) -> list[str | None]:
        return await self._reader().stored_edges(edges)

    async def list_nodes(self, query: ListQuery) -> Page:
        rows = await self._reader().run(aql.list_nodes(query))
        # A metric is a Float (float(value), as SQLite's REAL): JSON writes 3.0 as 3.
        by_metric = query.order_by is OrderField.METRIC
        items = [(layout.from_document(r["d"]), (float(r["sv"]) if by_metric else r["sv"], r["lid"])) for r in rows]
        return Page(items=items[: query.first], has_next=len(items) > query.first)

    async def lineage(self, query: LineageQuery) -> LineageResult:
        at = query.as_of
        lineage = aql.lineage(query.start, query.direction, query.depth, query.limit, query.kinds, query.include_deleted, at)
        result = await self._reader().one(lineage)
        # The query returns every node up to the depth of the (limit + 1)-th; the same
        # order and cut as the SQLite adapter pick the nodes kept. As of a time, each
        # node comes with what it was then (aql.node_state).
        found = [
            LineageNode(
                layout.node_as_of(r["v"], r["parts"], r["deleted"], at) if at else layout.from_document(r["v"]),
                r["depth"],
                Direction(r["dir"]),
            )
            for r in result["nodes"]
        ]
        found.sort(key=lambda n: (n.depth, n.node.kind.value, n.node.created_at, n.node.id))
        truncated = len(found) > query.limit
        nodes = found[: query.limit]
        kept = {n.node.id: n for n in nodes}
        edges = {layout.read_edge(e["c"], e["d"]) for e in result["edges"]}
        return LineageResult(
            nodes=nodes,
            edges=sorted(
                (e for e in edges if _walked(e, query, kept)),
                key=lambda e: (e.kind, e.from_id, e.to_id),
            ),
            truncated=truncated,
        )

    async def answer(self, plan: Plan) -> JSONObject | None:
        return await self._reader().answer(plan)

    async def answer_text(self, plan: Plan) -> bytes | None:
        return await self._reader().answer_text(plan)

    async def project_counts(self, project_id: str) -> ProjectCounts:
        counts = await self._reader().one(aql.project_counts(project_id))
        return ProjectCounts(*counts)

    async def count_all(self) -> dict[str, int]:
        rows = await self._reader().one(aql.count_all())
        counts = {r["k"]: r["n"] for r in rows if r["n"]}
        counts["tags"] = sum(r["t"] or 0 for r in rows)
        return counts

    async def add_token(self, token: Token) -> None:
        await self._reader().run(aql.insert_token(layout.to_token_document(token)))

    async def get_token(self, token_id: str) -> Token | None:
        doc = await self._reader().one(aql.get_token(token_id))
        return layout.from_token_document(doc) if doc else None

    async def changes(self, query: ChangeQuery) -> list[Change]:
        return [layout.from_change_document(d) for d in await self._reader().run(aql.changes(query))]

    async def count_deleted(self, before: str) -> int:
        return int(await self._reader().one(aql.count_deleted(before)) or 0)

    async def purge_deleted(self, before: str, most: int) -> list[str]:
        """One write transaction (every collection it writes is one the transaction
        declares): the oldest deletions first, then one statement per collection removed
        from. It records nothing: no change-log entry is written."""
        if most <= 0:
            return []

        async def purge(tx: ArangoTx) -> list[str]:
            found = await tx.run(aql.deleted_before(before, most))
            # Ties in time by id, as SQLite orders them.
            ids = [i for _, i in sorted((r["at"], layout.node_id(r["id"])) for r in found)][:most]
            if ids:
                for query in aql.purge(ids):
                    await tx.run(query)
            return ids

        return await self.transact(purge)

    async def lineage_events(self, first: int, after: tuple[str, str] | None = None) -> list[LineageEvent]:
        after_key = (after[0], _event_key(after[1])) if after is not None else None
        docs = await self._reader().run(aql.lineage_events(first, after_key))
        return [layout.from_lineage_event_document(d) for d in docs]

    async def list_tokens(self) -> list[Token]:
        return [layout.from_token_document(d) for d in await self._reader().run(aql.list_tokens())]

    async def revoke_token(self, token_id: str, at: str) -> bool:
        return bool(await self._reader().run(aql.revoke_token(token_id, at)))


def _event_key(key: str) -> str:
    # Document keys are limited in length and characters: the event's key is hashed.
    return hashlib.sha256(key.encode()).hexdigest()


def _walked(edge: Edge, query: LineageQuery, kept: dict[str, LineageNode]) -> bool:
    """Whether the walk stepped along ``edge``: both ends kept, and the end nearer the
    start was reached, in the edge's walk direction, before the depth ran out (the same
    edges the SQLite adapter's walk records)."""
    if {edge.from_id, edge.to_id} - kept.keys() - {query.start}:
        return False
    # A declared edge carries its upstream end as read back from its collection.
    upstream = edge.upstream if edge.kind.startswith(CUSTOM_EDGE_PREFIX) else EDGE_KINDS[edge.kind].upstream
    if upstream is None:
        return False
    for walk in (Direction.UPSTREAM, Direction.DOWNSTREAM):
        if query.direction not in (walk, Direction.BOTH):
            continue
        step = step_toward_end(upstream, walk)
        near = edge.from_id if step is Step.OUT else edge.to_id
        if near == query.start:
            return True
        reached = kept.get(near)
        if reached is not None and reached.direction is walk and reached.depth < query.depth:
            return True
    return False

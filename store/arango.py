"""The production store: ArangoDB through python-arango-async, over Arangopipe's layout.

Every query goes through ``_run``, the one place that talks to the driver and turns its
errors into Metagate's. Reads are single AQL queries; a write is one stream
transaction whose statements run one after another, never concurrently.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import aiohttp
import orjson
from arangoasync.auth import Auth
from arangoasync.client import ArangoClient
from arangoasync.exceptions import ArangoClientError, ArangoServerError, ServerConnectionError

from metagate.store import arango_aql as aql
from metagate.store import arango_layout as layout
from metagate.store.arango_compile import MAX_EXECUTION_NODES, NotAnswered, compile_plan, finishing
from metagate.store.errors import BadUserInput, Conflict, NotFound, Unavailable, WriteConflict
from metagate.store.model import EDGE_KINDS, Direction, Edge, JSONObject, Kind, Node, Step
from metagate.store.plan import Plan
from metagate.store.port import (
    IdempotencyRecord,
    LineageNode,
    LineageQuery,
    LineageResult,
    ListQuery,
    NameKey,
    NeighborRequest,
    OrderField,
    Page,
    ProjectCounts,
    ServingPeriod,
    Token,
)

log = logging.getLogger("metagate.store.arango")

# ArangoDB error numbers (arangoasync.errno) that mean something to a client.
_WRITE_CONFLICT = 1200
_UNIQUE_VIOLATED = 1210
_DOCUMENT_NOT_FOUND = 1202
_NOT_INITIALISED = {1203}  # collection or view not found
_UNREACHABLE = {11, 18, 21, 30, 401, 1228, 1457, 1655}
# A compiled read the server refuses to parse or plan: the executor's smaller queries
# answer instead (ArangoDB's lib/Basics/errors.dat). 1501 ERROR_QUERY_PARSE; 1524
# ERROR_QUERY_TOO_MUCH_NESTING, also for more than 4,000 execution nodes in the initial
# plan; 32 ERROR_RESOURCE_LIMIT, for more than 1,000 registers or the query's memory
# limit.
_LEFT_TO_EXECUTOR = {32, 1501, 1524}

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
        if code == _WRITE_CONFLICT:
            return WriteConflict("a concurrent write changed the same data; try again")
        if code == _UNIQUE_VIOLATED:
            return Conflict("the write would duplicate an existing node, edge or name")
        if code == _DOCUMENT_NOT_FOUND:
            return NotFound("the write refers to a node that does not exist")
        if code in _NOT_INITIALISED:
            return Unavailable("the ArangoDB database lacks Metagate's collections: run `metagate init-db`")
        if code in _UNREACHABLE:
            return Unavailable("the ArangoDB store is unavailable (authentication, database or server)")
        return error
    # TimeoutError is an OSError: test it first.
    if isinstance(error, asyncio.TimeoutError):
        return Unavailable("the ArangoDB server did not answer in time")
    if isinstance(error, (ServerConnectionError, ArangoClientError, aiohttp.ClientError, OSError)):
        return Unavailable("the ArangoDB server cannot be reached")
    return error


class _Runner:
    """Runs AQL on one database handle: the standard one, or a stream transaction's."""

    def __init__(self, store: ArangoStore, db: Any) -> None:
        self.store = store
        self.db = db

    async def run(self, query: aql.Query) -> list[Any]:
        self.store.statements += 1
        try:
            options = {"maxRuntime": self.store.max_runtime} if self.store.max_runtime else None
            cursor = await self.db.aql.execute(query.text, bind_vars=query.bind, batch_size=1000, options=options)
            return [row async for row in cursor]
        except BaseException as error:
            mapped = translate(error)
            if mapped is error:
                raise
            raise mapped from error

    async def one(self, query: aql.Query) -> Any:
        rows = await self.run(query)
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
        (arangoasync.serialization)."""
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
            result = await self.one(query)
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

    async def get_nodes(self, ids: Sequence[str]) -> list[Node | None]:
        if not ids:
            return []
        docs = await self.run(aql.get_nodes(ids))
        return [layout.from_document(d) if d else None for d in docs]

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


def neighbor_pages(
    requests: Sequence[NeighborRequest], answered: list[list[list[JSONObject]]], groups: list[list[int]] | None = None
) -> list[Page]:
    """``aql.neighbors``' answer, one list of pages per group of requests, as one page per
    request in the requests' order."""
    pages: dict[int, Page] = {}
    for indexes, lists in zip(aql.neighbor_groups(requests) if groups is None else groups, answered):
        for i, docs in zip(indexes, lists):
            # The group fetched its largest page: each request keeps its own.
            items = [(n, (n.created_at, n.id)) for n in map(layout.from_document, docs)]
            pages[i] = Page(items=items[: requests[i].first], has_next=len(items) > requests[i].first)
    return [pages[i] for i in range(len(requests))]


class ArangoTx(_Runner):
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

    async def insert_nodes(self, nodes: Sequence[Node]) -> None:
        for query in aql.insert_nodes(nodes):
            await self.run(query)

    async def insert_edges(self, edges: Sequence[Edge]) -> None:
        for query in aql.insert_edges(edges):
            await self.run(query)

    async def update_node(self, node_id: str, *, attributes: JSONObject | None = None, tags: Sequence[str] | None = None) -> None:
        changes: JSONObject = {}
        if attributes is not None:
            changes["attributes"] = attributes
        if tags is not None:
            changes["tags"] = list(dict.fromkeys(tags))
        if changes:
            await self.run(aql.update_node(node_id, changes))


class ArangoStore:
    def __init__(self, settings: ArangoSettings, *, max_runtime: float | None = None) -> None:
        self.settings = settings
        # Server-side bound on every query: a request's deadline stops the AQL too.
        self.max_runtime = max_runtime
        self._client: ArangoClient | None = None
        self._db: Any = None
        self.statements = 0
        # Whether ``answer`` compiles reads: the server's version says, once open.
        self.compiled_reads = False

    def __repr__(self) -> str:
        return f"ArangoStore({self.settings!r})"

    async def open(self) -> None:
        self._client = ArangoClient(hosts=self.settings.hosts)
        try:
            self._db = await self._client.db(
                self.settings.database,
                auth=Auth(username=self.settings.username, password=self.settings.password),
                verify=True,
            )
            version = (await self._db.version()).get("version")
        except BaseException as error:
            await self.close()
            mapped = translate(error)
            if mapped is error:
                raise
            raise mapped from error
        self.compiled_reads = compiled_reads_supported(version)
        if not self.compiled_reads:
            log.warning("ArangoDB %s predates 3.12.1: reads are answered field by field, not by one compiled query", version)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
        self._client = None
        self._db = None

    def _reader(self) -> _Runner:
        if self._db is None:
            raise Unavailable("the store is not open")
        return _Runner(self, self._db)

    async def ping(self) -> None:
        await self._reader().run(aql.Query("RETURN 1"))

    @asynccontextmanager
    async def write(self) -> AsyncIterator[ArangoTx]:
        if self._db is None:
            raise Unavailable("the store is not open")
        collections = [
            *layout.VERTEX_COLLECTIONS.values(),
            *(e.name for e in layout.EDGE_COLLECTIONS.values()),
            layout.IDEMPOTENCY_COLLECTION,
        ]
        try:
            trx = await self._db.begin_transaction(write=collections)
        except BaseException as error:
            mapped = translate(error)
            if mapped is error:
                raise
            raise mapped from error
        try:
            yield ArangoTx(self, trx)
        except BaseException:
            try:
                await trx.abort_transaction()
            except Exception:  # the transaction may already be gone with the connection
                log.warning("could not abort a stream transaction", exc_info=True)
            raise
        try:
            await trx.commit_transaction()
        except BaseException as error:
            mapped = translate(error)
            if mapped is error:
                raise
            raise mapped from error

    async def get_nodes(self, ids: Sequence[str]) -> list[Node | None]:
        return await self._reader().get_nodes(ids)

    async def find_named(self, keys: Sequence[NameKey]) -> list[list[Node]]:
        return await self._reader().find_named(keys)

    async def find_by_field(self, kind: Kind, name: str, value: str) -> list[Node]:
        return await self._reader().find_by_field(kind, name, value)

    async def find_serving_perf(self, periods: Sequence[ServingPeriod]) -> list[Node | None]:
        return await self._reader().find_serving_perf(periods)

    async def neighbors(self, requests: Sequence[NeighborRequest]) -> list[Page]:
        return await self._reader().neighbors(requests)

    async def list_nodes(self, query: ListQuery) -> Page:
        rows = await self._reader().run(aql.list_nodes(query))
        # A metric is a Float (float(value), as SQLite's REAL): JSON writes 3.0 as 3.
        by_metric = query.order_by is OrderField.METRIC
        items = [(layout.from_document(r["d"]), (float(r["sv"]) if by_metric else r["sv"], r["lid"])) for r in rows]
        return Page(items=items[: query.first], has_next=len(items) > query.first)

    async def lineage(self, query: LineageQuery) -> LineageResult:
        result = await self._reader().one(aql.lineage(query.start, query.direction, query.depth, query.limit, query.kinds))
        # The query returns every node up to the depth of the (limit + 1)-th; the same
        # order and cut as the SQLite adapter pick the nodes kept.
        found = [LineageNode(layout.from_document(r["v"]), r["depth"], Direction(r["dir"])) for r in result["nodes"]]
        found.sort(key=lambda n: (n.depth, n.node.kind.value, n.node.created_at, n.node.id))
        truncated = len(found) > query.limit
        nodes = found[: query.limit]
        kept = {n.node.id: n for n in nodes}
        edges = {layout.from_edge_document(e["c"], e["d"]) for e in result["edges"]}
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

    async def list_tokens(self) -> list[Token]:
        return [layout.from_token_document(d) for d in await self._reader().run(aql.list_tokens())]

    async def revoke_token(self, token_id: str, at: str) -> bool:
        return bool(await self._reader().run(aql.revoke_token(token_id, at)))


def _walked(edge: Edge, query: LineageQuery, kept: dict[str, LineageNode]) -> bool:
    """Whether the walk stepped along ``edge``: both ends kept, and the end nearer the
    start was reached, in the edge's walk direction, before the depth ran out (the same
    edges the SQLite adapter's walk records)."""
    if {edge.from_id, edge.to_id} - kept.keys() - {query.start}:
        return False
    kind = EDGE_KINDS[edge.kind]
    for walk in (Direction.UPSTREAM, Direction.DOWNSTREAM):
        if query.direction not in (walk, Direction.BOTH):
            continue
        step = kind.step(walk)
        near = edge.from_id if step is Step.OUT else edge.to_id
        if near == query.start:
            return True
        reached = kept.get(near)
        if reached is not None and reached.direction is walk and reached.depth < query.depth:
            return True
    return False

"""The embedded store: one SQLite file through aiosqlite, in WAL mode, with one writer
connection and a pool of read connections. ``:memory:`` gives a private in-memory
database on a single connection (for tests and throw-away demos).

All SQL text is built from constant fragments; every value travels as a bind variable.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import os
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, NoReturn, Protocol, TypeVar
from urllib.parse import quote

import aiosqlite
import orjson

try:
    import fcntl
except ImportError:  # Windows: writers wait on SQLite's busy timeout alone
    fcntl = None  # type: ignore[assignment]

from metagate.store import sqlite_compile, sqlite_schema
from metagate.store.changes import (
    ORIGIN,
    Action,
    Change,
    ChangeItem,
    ChangeQuery,
    Recorder,
    record_points,
    record_update,
    touches,
)
from metagate.store.errors import Conflict, MetagateError, NotFound, Unavailable, WriteRefusal
from metagate.store.model import (
    CUSTOM_EDGE_PREFIX,
    EDGE_KINDS,
    Direction,
    Edge,
    EdgeKindDecl,
    End,
    JSONObject,
    Kind,
    Node,
    NodeKindDecl,
    stored_kind,
    utcnow,
)
from metagate.store.plan import Plan
from metagate.store.port import (
    INDEXED_FIELDS,
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
    Page,
    ProjectCounts,
    ServingPeriod,
    SortKey,
    Token,
    metric_order,
    numbered,
    placed_points,
)
from metagate.store.sqlite_sql import (
    LINEAGE_VALUES,
    NODE_COLUMNS,
    NODE_NAMES,
    Params,
    lineage_ctes,
    lineage_values,
    list_source,
    live_at,
    node_columns_at,
)

log = logging.getLogger("metagate")

WRITER_CACHE_KIB = 64 * 1024
LINEAGE_FIRST_CAP = 4096

T = TypeVar("T")

_FIELD_EXPR = {name: f"json_extract(n.fields, '$.{name}')" for name in INDEXED_FIELDS}


_LINEAGE_ROWS = f"""SELECT 'w', rows, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM walked
UNION ALL
SELECT 'n', depth, dir, {NODE_NAMES} FROM (SELECT * FROM picked ORDER BY rn)
UNION ALL
SELECT 'e', NULL, NULL, kind, from_id, to_id, created_at, NULL, NULL, NULL, NULL, NULL, NULL FROM followed
"""


def _lineage_sql(fanned: bool, hidden: bool, as_of: bool) -> str:
    names = [*LINEAGE_VALUES, "at"] if as_of else LINEAGE_VALUES
    return f"""
WITH RECURSIVE {lineage_ctes("", {name: f":{name}" for name in names}, fanned, hidden)}
{_LINEAGE_ROWS}"""


# The lineage statement, by whether its walk is fanned (a query without a kinds filter),
# whether it walks hidden edges (includeDeleted) and whether it walks the graph as of a time.
LINEAGE_SQL = {
    (fanned, hidden, as_of): _lineage_sql(fanned, hidden, as_of)
    for fanned in (True, False)
    for hidden in (False, True)
    for as_of in (False, True)
}

_NEIGHBORS_SQL = f"""
WITH k(i, nid, ek, step, lim, av, aid, gone) AS (
  SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6, value ->> 7
    FROM json_each(?)
),
hits(i, lim, other, av, aid) AS (
  SELECT k.i, k.lim, e.to_id, k.av, k.aid
    FROM k JOIN edges e ON e.from_id = k.nid AND e.kind = k.ek AND e.gone = k.gone
   WHERE k.step = 'out'
  UNION ALL
  SELECT k.i, k.lim, e.from_id, k.av, k.aid
    FROM k JOIN edges e ON e.to_id = k.nid AND e.kind = k.ek AND e.gone = k.gone
   WHERE k.step = 'in'
),
ranked AS (
  SELECT h.i, h.lim, {NODE_COLUMNS},
         ROW_NUMBER() OVER (PARTITION BY h.i ORDER BY n.created_at DESC, n.id DESC) AS rn
    FROM hits h JOIN nodes n ON n.id = h.other
   WHERE h.av IS NULL OR n.created_at < h.av OR (n.created_at = h.av AND n.id < h.aid)
)
SELECT i, {NODE_NAMES}
  FROM ranked WHERE rn <= lim + 1 ORDER BY i, rn
"""

# Neighbours as of a time (port.LineageQuery.as_of): along the edges that stood then,
# stored (hidden or not) or removed since, to nodes that existed then and, but from a
# node deleted then, were live then (once: an edge removed and made again in one write
# may stand twice for an instant); ranked by key first, the page's nodes then read as
# they were.
_NEIGHBORS_AT_SQL = f"""
WITH k(i, nid, ek, step, lim, av, aid, hidden, at) AS (
  SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6, value ->> 7, value ->> 8
    FROM json_each(?)
),
hits(i, lim, other, av, aid, hidden, at) AS (
  SELECT k.i, k.lim, e.to_id, k.av, k.aid, k.hidden, k.at
    FROM k JOIN edges e ON e.from_id = k.nid AND e.kind = k.ek AND e.created_at <= k.at
   WHERE k.step = 'out'
  UNION
  SELECT k.i, k.lim, e.from_id, k.av, k.aid, k.hidden, k.at
    FROM k JOIN edges e ON e.to_id = k.nid AND e.kind = k.ek AND e.created_at <= k.at
   WHERE k.step = 'in'
  UNION
  SELECT k.i, k.lim, e.to_id, k.av, k.aid, k.hidden, k.at
    FROM k JOIN removed_edges e ON e.from_id = k.nid AND e.kind = k.ek AND e.created_at <= k.at AND e.removed_at > k.at
   WHERE k.step = 'out'
  UNION
  SELECT k.i, k.lim, e.from_id, k.av, k.aid, k.hidden, k.at
    FROM k JOIN removed_edges e ON e.to_id = k.nid AND e.kind = k.ek AND e.created_at <= k.at AND e.removed_at > k.at
   WHERE k.step = 'in'
),
ranked AS (
  SELECT h.i, h.lim, h.at, n.id, ROW_NUMBER() OVER (PARTITION BY h.i ORDER BY n.created_at DESC, n.id DESC) AS rn
    FROM hits h JOIN nodes n ON n.id = h.other
   WHERE n.created_at <= h.at AND (h.hidden OR {live_at("n.id", "h.at")})
     AND (h.av IS NULL OR n.created_at < h.av OR (n.created_at = h.av AND n.id < h.aid))
)
SELECT r.i, {node_columns_at("n", "r.at")}
  FROM ranked r JOIN nodes n ON n.id = r.id WHERE r.rn <= r.lim + 1 ORDER BY r.i, r.rn
"""

# A deployment's serving periods, read through their unique index (migration 5): the
# index's expressions and its kind, spelt as in the index, so that the planner uses it.
SERVING_PERF_SQL = f"""
WITH k(i, scope, ps, pe) AS (
  SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3 FROM json_each(?)
)
SELECT k.i, {NODE_COLUMNS} FROM k JOIN nodes n
    ON n.kind = 'servingperf' AND n.scope = k.scope
   AND json_extract(n.fields, '$.periodStart') = k.ps AND json_extract(n.fields, '$.periodEnd') = k.pe
   AND n.deleted_at IS NULL
 ORDER BY k.i, n.created_at, n.id
"""

# What purging deleted nodes (their ids: the one JSON array placeholder) removes with
# them, the nodes last (the others name them by foreign key): their edges, tags, metric
# index rows, metric points and moves, their marks in the change log (the entries stay),
# and the answers of keyed mutations whose node (the first of their ids) is one of them
# (a batch's answer stays: its retry is CONFLICT for the runs gone, not run again).
_PURGED = "(SELECT value FROM json_each(?1))"
_PURGE_SQL = (
    f"DELETE FROM edges WHERE from_id IN {_PURGED}",
    f"DELETE FROM edges WHERE to_id IN {_PURGED}",
    f"DELETE FROM node_tags WHERE node_id IN {_PURGED}",
    f"DELETE FROM run_metrics WHERE run_id IN {_PURGED}",
    f"DELETE FROM metric_points WHERE run_id IN {_PURGED}",
    f"DELETE FROM history WHERE subject IN {_PURGED}",
    f"DELETE FROM change_nodes WHERE node_id IN {_PURGED}",
    f"DELETE FROM deletions WHERE node_id IN {_PURGED}",
    f"DELETE FROM removed_edges WHERE from_id IN {_PURGED}",
    f"DELETE FROM removed_edges WHERE to_id IN {_PURGED}",
    f"DELETE FROM idempotency WHERE result ->> '$.ids[0]' IN {_PURGED}",
    f"DELETE FROM nodes WHERE id IN {_PURGED}",
)

_PROJECT_COUNTS_SQL = """
WITH m(id) AS (SELECT to_id FROM edges WHERE from_id = :p AND kind = 'project_model' AND gone = 0),
     r(id) AS (SELECT e.from_id FROM m JOIN edges e ON e.to_id = m.id AND e.kind = 'run_model' AND e.gone = 0)
SELECT (SELECT count(*) FROM m),
       (SELECT count(*) FROM r),
       (SELECT count(DISTINCT e.to_id) FROM r JOIN edges e
          ON e.from_id = r.id AND e.kind = 'run_dataset' AND e.gone = 0),
       (SELECT count(DISTINCT e.to_id) FROM r JOIN edges e
          ON e.from_id = r.id AND e.kind = 'run_featureset' AND e.gone = 0),
       (SELECT count(DISTINCT e.from_id) FROM m JOIN edges e
          ON e.to_id = m.id AND e.kind = 'deployment_model' AND e.gone = 0)
"""


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _node(row: Sequence[Any], as_of: str | None = None) -> Node:
    node_id, kind, name, scope, created_at, tags, attributes, fields, deleted_at, deleted_reason = row
    return Node(
        id=node_id,
        kind=Kind(kind),
        name=name,
        created_at=created_at,
        scope=scope,
        tags=tuple(orjson.loads(tags)),
        attributes=orjson.loads(attributes),
        fields=orjson.loads(fields),
        deleted_at=deleted_at,
        deleted_reason=deleted_reason,
        as_of=as_of,
    )


# SQLite's result codes (https://sqlite.org/rescode.html): primary ones, and the
# extended ones of constraint failures.
_BUSY, _LOCKED, _READONLY, _INTERRUPT, _IOERR, _FULL, _CANTOPEN = 5, 6, 8, 9, 10, 13, 14
_CONSTRAINT_UNIQUE, _CONSTRAINT_PRIMARYKEY, _CONSTRAINT_FOREIGNKEY = 2067, 1555, 787
_FILE_LOST = "the SQLite store file was deleted or renamed over while serving: writes are refused until a restart"
# How long a write waits for another process's write to finish (SQLite's busy timeout
# and the writers' lock file alike) before it is UNAVAILABLE, "busy".
BUSY_SECONDS = 5.0
# How often a writer asks again for the writers' lock file while another process holds it.
_LOCK_POLL_SECONDS = 0.0005
# The rows written between WAL checkpoints (a logRun writes about a dozen). SQLite's own
# checkpoint, at 1,000 pages, ran in the COMMIT that crossed them, in the writers' lock.
CHECKPOINT_ROWS = 500
# WAL pages past which a checkpoint copies the tail the writes appended meanwhile with
# them held off, so that the WAL begins again (2 MB of 4 KB pages).
CHECKPOINT_TAIL_FRAMES = 512
# The size the WAL file is cut back to when it begins again after a larger burst.
WAL_SIZE_LIMIT_BYTES = 16 * 1024 * 1024
# What a store that cannot take writes says, by the primary code of the failure.
_CANNOT_WRITE = {
    _READONLY: "the SQLite store is read-only (a read-only mount, file permissions, or its file moved): writes are refused",
    _FULL: "the disk holding the SQLite store is full: writes are refused",
    _IOERR: "the SQLite store's file cannot be read or written (an I/O error)",
    _CANTOPEN: "the SQLite store's files cannot be opened",
}


def translate(error: sqlite3.Error) -> Exception:
    """The one mapping from sqlite3's errors to Metagate's (others stay internal), by
    SQLite's result code, not its message."""
    if isinstance(error, sqlite3.ProgrammingError):
        return Unavailable("the store connection is closed")
    code = getattr(error, "sqlite_errorcode", 0)
    if code in (_CONSTRAINT_UNIQUE, _CONSTRAINT_PRIMARYKEY):
        return Conflict("the write would duplicate an existing node, edge or tag", detail=str(error))
    if code == _CONSTRAINT_FOREIGNKEY:
        return NotFound("the write refers to a node that does not exist")
    if code & 0xFF in (_BUSY, _LOCKED):
        return Unavailable("the SQLite store is busy with another writer; try again")
    if code & 0xFF in _CANNOT_WRITE:
        return Unavailable(_CANNOT_WRITE[code & 0xFF])
    return error


def serving_perf_params(periods: Sequence[ServingPeriod]) -> tuple[str]:
    return (_dumps([[i, p.deployment_id, p.start, p.end] for i, p in enumerate(periods)]),)


def _raise(error: sqlite3.Error) -> NoReturn:
    mapped = translate(error)
    if mapped is error:
        raise error
    raise mapped from error


@contextmanager
def mapped_errors() -> Iterator[None]:
    """Around every statement the store sends: sqlite3's errors leave it as Metagate's
    (``translate``), the way the adapter's one mapping is applied everywhere."""
    try:
        yield
    except sqlite3.Error as error:
        _raise(error)


class _Reads:
    """The reads, on whichever connection the caller holds."""

    def __init__(self, store: SQLiteStore) -> None:
        self._store = store

    async def _rows(self, conn: _Connection, sql: str, params: Any = ()) -> list[Any]:
        self._store.statements += 1
        try:
            with mapped_errors():
                # One hand-off to SQLite's thread for the statement and its rows (a
                # cursor would take three: execute, fetchall, close).
                return list(await conn.execute_fetchall(sql, params))
        except asyncio.CancelledError:
            # The request was cancelled (its deadline passed): stop the statement
            # running in SQLite's thread too, not only our wait for it.
            await conn.interrupt()
            raise

    async def answer_text(self, conn: _Connection, plan: Plan) -> bytes | None:
        store = self._store
        compiled: sqlite_compile.Compiled | None = plan.memo.get("sqlite")
        if compiled is None:
            compiled = plan.memo["sqlite"] = sqlite_compile.compile_plan(plan, store.lineage_first_cap)
        if compiled.walks:
            compiled = replace(compiled, params=dict(compiled.params))  # widening changes them
        while True:
            [row] = await self._rows(conn, compiled.sql, compiled.params)
            ok, data, *stats = row
            store.lineage_rows += sum(stats[0::2])
            if not ok or not compiled.widen(stats):
                break
        return data.encode() if ok else None

    async def get_nodes(
        self, conn: _Connection, ids: Sequence[str], deleted: bool = False, as_of: str | None = None
    ) -> list[Node | None]:
        if not ids:
            return []
        if as_of is not None:
            live = "" if deleted else f" AND {live_at('n.id', ':at')}"
            rows = await self._rows(
                conn,
                f"SELECT {node_columns_at('n', ':at')} FROM nodes n"
                f" WHERE n.id IN (SELECT value FROM json_each(:ids)) AND n.created_at <= :at{live}",
                {"ids": _dumps(list(ids)), "at": as_of},
            )
            at = {row[0]: _node(row, as_of) for row in rows}
            return [at.get(i) for i in ids]
        live = "" if deleted else " AND n.deleted_at IS NULL"
        rows = await self._rows(
            conn,
            f"SELECT {NODE_COLUMNS} FROM nodes n WHERE n.id IN (SELECT value FROM json_each(?)){live}",
            (_dumps(list(ids)),),
        )
        found = {row[0]: _node(row) for row in rows}
        return [found.get(i) for i in ids]

    async def find_named(self, conn: _Connection, keys: Sequence[NameKey]) -> list[list[Node]]:
        if not keys:
            return []
        payload = [[i, k.kind.value, k.name, k.scope] for i, k in enumerate(keys)]
        rows = await self._rows(
            conn,
            f"""
            WITH k(i, kind, name, scope) AS (
              SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3 FROM json_each(?)
            )
            SELECT k.i, {NODE_COLUMNS} FROM k JOIN nodes n
                ON n.kind = k.kind AND n.name = k.name AND (k.scope IS NULL OR n.scope = k.scope) AND n.deleted_at IS NULL
             ORDER BY k.i, n.created_at, n.id
            """,
            (_dumps(payload),),
        )
        out: list[list[Node]] = [[] for _ in keys]
        for row in rows:
            out[row[0]].append(_node(row[1:]))
        return out

    async def find_by_field(self, conn: _Connection, kind: Kind, name: str, value: str) -> list[Node]:
        expr = _FIELD_EXPR.get(name)
        if expr is None:
            raise ValueError(f"{name} is not an indexed field")
        rows = await self._rows(
            conn,
            f"SELECT {NODE_COLUMNS} FROM nodes n WHERE n.kind = ? AND {expr} = ? AND n.deleted_at IS NULL"
            " ORDER BY n.created_at, n.id LIMIT 100",
            (kind.value, value),
        )
        return [_node(r) for r in rows]

    async def find_serving_perf(self, conn: _Connection, periods: Sequence[ServingPeriod]) -> list[Node | None]:
        if not periods:
            return []
        out: list[Node | None] = [None for _ in periods]
        for row in await self._rows(conn, SERVING_PERF_SQL, serving_perf_params(periods)):
            out[row[0]] = out[row[0]] or _node(row[1:])
        return out

    async def neighbors(self, conn: _Connection, requests: Sequence[NeighborRequest]) -> list[Page]:
        if not requests:
            return []
        for r in requests:
            if r.edge_kind not in EDGE_KINDS and not r.edge_kind.startswith(CUSTOM_EDGE_PREFIX):
                raise ValueError(f"unknown edge kind {r.edge_kind}")
        items: list[list[tuple[Node, SortKey]]] = [[] for _ in requests]
        for as_of in (False, True):
            payload = [
                [
                    i,
                    r.node_id,
                    r.edge_kind,
                    r.step.value,
                    r.first,
                    r.after[0] if r.after else None,
                    r.after[1] if r.after else None,
                    int(r.from_deleted),
                    *([r.as_of] if as_of else []),
                ]
                for i, r in enumerate(requests)
                if (r.as_of is not None) is as_of
            ]
            if not payload:
                continue
            rows = await self._rows(conn, _NEIGHBORS_AT_SQL if as_of else _NEIGHBORS_SQL, (_dumps(payload),))
            for row in rows:
                node = _node(row[1:], requests[row[0]].as_of)
                items[row[0]].append((node, (node.created_at, node.id)))
        return [Page(items=found[: r.first], has_next=len(found) > r.first) for r, found in zip(requests, items)]

    async def metric_history(self, conn: _Connection, queries: Sequence[MetricHistoryQuery]) -> list[list[MetricPoint]]:
        """One statement per query, each read in the primary key's (position) order: a
        page from the position its cursor had (its point is there or further on) to its
        size; a downsampled history reads the rows at the positions it keeps, found from
        the last position, and no other."""
        out: list[list[MetricPoint]] = []
        for q in queries:
            if q.most is not None:
                rows = await self._rows(conn, _SAMPLED_SQL, {"run": q.run_id, "key": q.key, "most": q.most})
            else:
                where = "run_id = ? AND key = ?"
                params: list[Any] = [q.run_id, q.key]
                if q.after is not None:
                    where += " AND seq > ? AND (step, timestamp, id) > (?, ?, ?)"
                    params += [q.after_seq, *q.after]
                order = "DESC" if q.newest_first else ""
                sql = f"SELECT value, step, timestamp, id, seq FROM metric_points WHERE {where} ORDER BY seq {order} LIMIT ?"
                rows = await self._rows(conn, sql, (*params, q.first))
            out.append([MetricPoint(q.run_id, q.key, v, step, stamp, point_id, seq) for v, step, stamp, point_id, seq in rows])
        return out

    async def stored_edges(self, conn: _Connection, edges: Sequence[Edge]) -> list[str | None]:
        if not edges:
            return []
        payload = _dumps([[e.from_id, e.kind, e.to_id] for e in edges])
        rows = await self._rows(
            conn,
            "SELECT j.key, e.created_at FROM json_each(?) j JOIN edges e"
            " ON e.from_id = j.value ->> 0 AND e.kind = j.value ->> 1 AND e.to_id = j.value ->> 2",
            (payload,),
        )
        held = dict(rows)
        return [held.get(i) for i in range(len(edges))]

    async def declared_kinds(self, conn: _Connection) -> tuple[list[NodeKindDecl], list[EdgeKindDecl]]:
        rows = await self._rows(
            conn,
            "SELECT 'n', name, description, schema, created_at, NULL, NULL, NULL FROM node_kinds"
            " UNION ALL SELECT 'e', name, description, NULL, created_at, from_kind, to_kind, upstream FROM edge_kinds"
            " ORDER BY 1, 2",
        )
        nodes = [NodeKindDecl(r[1], r[2], orjson.loads(r[3]) if r[3] is not None else None, r[4]) for r in rows if r[0] == "n"]
        edges = [EdgeKindDecl(r[1], r[5], r[6], End(r[7]) if r[7] is not None else None, r[2], r[4]) for r in rows if r[0] == "e"]
        return nodes, edges

    async def history(self, conn: _Connection, queries: Sequence[HistoryQuery]) -> list[list[HistoryEntry]]:
        if not queries:
            return []
        out: list[list[HistoryEntry]] = [[] for _ in queries]
        rows = await self._rows(conn, _HISTORY_SQL, (_history_payload(queries),))
        for i, subject, topic, seq, at, value, reason, actor in rows:
            out[i].append(HistoryEntry(subject, topic, seq, at, orjson.loads(value), reason, actor))
        return out


# A history of n points (positions 0 to last = n - 1) read as at most ``most``: all of
# them when n <= most, else the first of each of most - 1 even runs of the first n - 1
# (ceil(i * last / (most - 1)) for i < most - 1) and the last, which i = most - 1 gives:
# port.sampled_positions, here as the positions' rows looked up by the primary key.
_SAMPLED_SQL = """
WITH RECURSIVE n(last) AS (SELECT max(seq) FROM metric_points WHERE run_id = :run AND key = :key),
j(i) AS (SELECT 0 FROM n WHERE last IS NOT NULL UNION ALL SELECT i + 1 FROM j, n WHERE i < min(:most - 1, last))
SELECT m.value, m.step, m.timestamp, m.id, m.seq FROM j CROSS JOIN n CROSS JOIN metric_points m
 WHERE m.run_id = :run AND m.key = :key AND m.seq = CASE
   WHEN n.last < :most THEN j.i WHEN :most = 1 THEN n.last ELSE (j.i * n.last + :most - 2) / (:most - 1) END
 ORDER BY m.seq"""

# Each history's last point: [[run, key], ...] in, (index, seq, step, timestamp, id) out.
_LAST_POINTS_SQL = """
SELECT j.key, m.seq, m.step, m.timestamp, m.id FROM json_each(?) j CROSS JOIN metric_points m
 WHERE m.run_id = j.value ->> 0 AND m.key = j.value ->> 1
   AND m.seq = (SELECT max(seq) FROM metric_points WHERE run_id = j.value ->> 0 AND key = j.value ->> 1)"""


# Each query's moves: a subject's history of a topic is short (a move is a person's or a
# release's act), so its entries are numbered here rather than cut by an index (SQLite's
# LIMIT cannot name the query's own row).
_HISTORY_SQL = """
WITH q(i, subject, topic, most, below, upto) AS (
  SELECT key, value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4 FROM json_each(?)
)
SELECT i, subject, topic, seq, at, value, reason, actor FROM (
  SELECT q.i, q.most, h.*, row_number() OVER (PARTITION BY q.i ORDER BY h.seq DESC) AS rn
    FROM q JOIN history h ON h.subject = q.subject AND h.topic = q.topic
   WHERE (q.below IS NULL OR h.seq < q.below) AND (q.upto IS NULL OR h.at <= q.upto)
)
 WHERE rn <= most
 ORDER BY i, seq DESC
"""


def _history_payload(queries: Sequence[HistoryQuery]) -> str:
    return _dumps([[q.subject, q.topic, q.first, q.before, q.at] for q in queries])


def _on_thread(conn: aiosqlite.Connection, fn: Callable[[sqlite3.Connection], T]) -> asyncio.Future[T]:
    """``fn`` queued on the connection's thread at once, in turn with its other calls:
    what aiosqlite's ``_execute`` does for each of its own (its public calls take one
    statement each) before it waits. The answer is a future, which can be shielded
    from a cancelled wait without a task of its own (whose first step would queue it later)."""
    if not conn._running:
        raise Unavailable("the store is not open")
    db = conn._conn
    future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
    conn._tx.put_nowait((future, lambda: fn(db)))
    return future


def _take_lock_file(fd: int | None, deadline: float, abandoned: threading.Event) -> bool:
    """On the writer's thread: the writers' lock file's exclusive lock, which every
    process writing to the store takes first, asked again every ``_LOCK_POLL_SECONDS``
    while another process holds it. SQLite's own lock alone serialises them too, but a
    writer that finds it taken sleeps (1, 2, 5, 10 ms ... up to 100) before it looks
    again (two workers logging one run per request over HTTP: 284-289 runs/s with the
    lock file, 192-240 without; see bench/notes.md). It is asked without blocking, so
    that a write given up (busy past ``deadline``, or ``abandoned``: cancelled) stops
    asking: a thread left blocked on it would take it later, together with the next
    writer (flock locks belong to the open file, not to a thread), and let it go under
    it. False where there is no lock file."""
    while True:
        if abandoned.is_set():
            raise asyncio.CancelledError
        if fd is None or fcntl is None:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise Unavailable("the SQLite store is busy with another writer; try again") from None
        time.sleep(_LOCK_POLL_SECONDS)


def _rollback(db: sqlite3.Connection) -> None:
    """On the writer's thread, after a write failed or was abandoned: its transaction
    rolled back, if one is open. SQLite rolls back itself what it cannot go on with; a
    connection closed meanwhile (the store closing) has nothing left open."""
    for attempt in (1, 2):
        try:
            if not db.in_transaction:
                return
            db.execute("ROLLBACK")
            return
        except sqlite3.ProgrammingError:
            return
        except sqlite3.OperationalError as error:
            code = getattr(error, "sqlite_errorcode", 0) & 0xFF
            if code in _CANNOT_WRITE:
                # The write's own error says what happened.
                log.warning("rolling back a failed write: %s", error)
                return
            if code != _INTERRUPT or attempt == 2:
                raise
            # The cancellation's interrupt came as the ROLLBACK began: once more.


def _to_end(work: Awaitable[T]) -> T:
    """Runs an awaitable that never suspends: a write's work on SQLite's thread."""
    steps = work.__await__()
    try:
        steps.send(None)
    except StopIteration as done:
        result: T = done.value
        return result
    steps.close()
    raise RuntimeError("a write transaction's work awaited something other than the transaction")


class _Connection(Protocol):
    """What the reads need of a connection: aiosqlite's, or a write transaction's."""

    async def execute_fetchall(self, sql: str, parameters: Any = ...) -> Iterable[Any]: ...

    async def interrupt(self) -> None: ...


class SQLiteTx:
    """A write transaction on the writer connection. Run whole (``SQLiteStore.transact``),
    the work and every statement it sends run on SQLite's thread in one hand-off;
    otherwise (``SQLiteStore.write``) each statement is a hand-off of its own, the first
    one beginning the transaction."""

    def __init__(self, store: SQLiteStore, conn: aiosqlite.Connection) -> None:
        self._reads = store._reads
        self._store = store
        self._conn = conn
        self._begun = False
        self._db: sqlite3.Connection | None = None  # set while the work runs on SQLite's thread
        self._abandoned: threading.Event | None = None  # set there when the write is cancelled
        self.recorder: Recorder | None = Recorder() if store.change_log else None

    async def _send(self, sql: str | None, parameters: Any = (), *, many: bool = False, commit: bool = False) -> list[Any]:
        """BEGIN IMMEDIATE if the transaction has not begun, then ``sql`` (its rows are
        the answer; with ``many``, once per row of ``parameters``), then the COMMIT if asked."""
        begin, self._begun = not self._begun, True

        def send(db: sqlite3.Connection) -> list[Any]:
            with mapped_errors():
                if begin:
                    db.execute("BEGIN IMMEDIATE")
                found: list[Any] = []
                if many:
                    db.executemany(sql or "", parameters)
                elif sql is not None:
                    found = db.execute(sql, parameters).fetchall()
                if commit:
                    db.execute("COMMIT")
                return found

        if self._db is not None:
            if self._abandoned is not None and self._abandoned.is_set():
                raise asyncio.CancelledError  # between two statements: no more is sent
            return send(self._db)
        return await _on_thread(self._conn, send)

    async def execute_fetchall(self, sql: str, parameters: Any = ()) -> list[Any]:
        return await self._send(sql, parameters)

    async def interrupt(self) -> None:
        await self._conn.interrupt()

    async def _commit(self) -> None:
        if self.recorder:
            await self._log(self.recorder.items())
        if self._begun:
            await self._send(None, commit=True)

    async def _log(self, items: list[ChangeItem]) -> None:
        """The transaction's change-log entry, numbered after the last (writers take turns)."""
        by = ORIGIN.get()
        [(seq,)] = await self._send(
            "INSERT INTO changes (at, operation, token_id, token_name, items) VALUES (?, ?, ?, ?, ?) RETURNING seq",
            (utcnow(), by.operation, by.token_id, by.token_name, _dumps([i.to_json() for i in items])),
        )
        await self._many(
            "INSERT INTO change_nodes (node_id, seq, kind, action, before) VALUES (?, ?, ?, ?, ?)",
            [
                (t.node, seq, t.kind, t.action.value if t.action else None, _dumps(t.before) if t.before is not None else None)
                for t in touches(items)
            ],
        )

    def _whole(self, db: sqlite3.Connection, work: Callable[[SQLiteTx], Awaitable[T]], abandoned: threading.Event) -> T:
        """On SQLite's thread: ``work`` and its COMMIT. ``work`` may await nothing but this
        transaction, whose calls then never suspend, so its coroutine is run to its end
        here. Abandoned (the request cancelled) before the COMMIT, or failed, it is rolled
        back here; its own error is the one raised, a failed ROLLBACK logged."""
        self._db, self._abandoned = db, abandoned
        try:
            result = _to_end(work(self))
            if abandoned.is_set():
                raise asyncio.CancelledError
            _to_end(self._commit())
            return result
        except BaseException:
            try:
                _rollback(db)
            except sqlite3.Error as error:
                log.warning("rolling back a failed write failed: %s", error)
            raise
        finally:
            self._db, self._abandoned = None, None

    async def get_nodes(self, ids: Sequence[str], *, deleted: bool = False, as_of: str | None = None) -> list[Node | None]:
        return await self._reads.get_nodes(self, ids, deleted, as_of)

    async def find_named(self, keys: Sequence[NameKey]) -> list[list[Node]]:
        return await self._reads.find_named(self, keys)

    async def find_by_field(self, kind: Kind, name: str, value: str) -> list[Node]:
        return await self._reads.find_by_field(self, kind, name, value)

    async def find_serving_perf(self, periods: Sequence[ServingPeriod]) -> list[Node | None]:
        return await self._reads.find_serving_perf(self, periods)

    async def neighbors(self, requests: Sequence[NeighborRequest]) -> list[Page]:
        return await self._reads.neighbors(self, requests)

    async def answer(self, plan: Plan) -> JSONObject | None:
        text = await self._reads.answer_text(self, plan)
        return orjson.loads(text) if text is not None else None

    async def history(self, queries: Sequence[HistoryQuery]) -> list[list[HistoryEntry]]:
        return await self._reads.history(self, queries)

    async def metric_history(self, queries: Sequence[MetricHistoryQuery]) -> list[list[MetricPoint]]:
        return await self._reads.metric_history(self, queries)

    async def declared_kinds(self) -> tuple[list[NodeKindDecl], list[EdgeKindDecl]]:
        return await self._reads.declared_kinds(self)

    async def stored_edges(self, edges: Sequence[Edge]) -> list[str | None]:
        return await self._reads.stored_edges(self, edges)

    async def insert_kinds(self, node_kinds: Sequence[NodeKindDecl], edge_kinds: Sequence[EdgeKindDecl]) -> None:
        if self.recorder is not None:
            self.recorder.declared(node_kinds, edge_kinds)
        if node_kinds:
            await self._many(
                "INSERT INTO node_kinds (name, description, schema, created_at) VALUES (?, ?, ?, ?)",
                [(k.name, k.description, _dumps(k.schema) if k.schema is not None else None, k.created_at) for k in node_kinds],
            )
        if edge_kinds:
            await self._many(
                "INSERT INTO edge_kinds (name, edge, from_kind, to_kind, from_store, to_store, upstream, description,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        k.name,
                        k.edge_kind,
                        k.from_kind,
                        k.to_kind,
                        stored_kind(k.from_kind).value,
                        stored_kind(k.to_kind).value,
                        k.upstream.value if k.upstream is not None else None,
                        k.description,
                        k.created_at,
                    )
                    for k in edge_kinds
                ],
            )

    async def insert_metric_points(self, points: Sequence[MetricPoint]) -> None:
        """Appends each history's points after its last (a training loop's steps rise); a
        history they do not all follow has its points from the first they precede
        renumbered: removed and written again with the new ones among them."""
        if not points:
            return

        async def lasts(histories: list[History]) -> dict[History, MetricPoint]:
            found = await self._send(_LAST_POINTS_SQL, (_dumps([list(h) for h in histories]),))
            return {
                histories[i]: MetricPoint(histories[i][0], histories[i][1], 0.0, step, stamp, pid, seq)
                for i, seq, step, stamp, pid in found
            }

        async def after(history: History, first: MetricPoint) -> list[MetricPoint]:
            found = await self._send(
                "SELECT value, step, timestamp, id, seq FROM metric_points"
                " WHERE run_id = ? AND key = ? AND (step, timestamp, id) > (?, ?, ?) ORDER BY seq",
                (*history, *metric_order(first)),
            )
            return [MetricPoint(history[0], history[1], v, step, stamp, pid, seq) for v, step, stamp, pid, seq in found]

        async def remove_from(history: History, seq: int) -> None:
            await self._send("DELETE FROM metric_points WHERE run_id = ? AND key = ? AND seq >= ?", (*history, seq))

        placed = await placed_points(points, lasts, after, remove_from)
        if self.recorder is not None:
            record_points(self.recorder, points)
        await self._many(
            "INSERT INTO metric_points (run_id, key, seq, step, timestamp, id, value) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(p.run_id, p.key, seq, p.step, p.timestamp, p.id, p.value) for p, seq in numbered(placed)],
        )

    async def answer_text(self, plan: Plan) -> bytes | None:
        return await self._reads.answer_text(self, plan)

    async def _many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self._store.statements += 1
        await self._send(sql, list(rows), many=True)

    async def get_idempotency(self, key: str) -> IdempotencyRecord | None:
        rows = await self._reads._rows(self, "SELECT key, fingerprint, result, created_at FROM idempotency WHERE key = ?", (key,))
        if not rows:
            return None
        key, fingerprint, result, created_at = rows[0]
        return IdempotencyRecord(key, fingerprint, orjson.loads(result), created_at)

    async def put_idempotency(self, record: IdempotencyRecord) -> None:
        await self._many(
            "INSERT INTO idempotency (key, fingerprint, result, created_at) VALUES (?, ?, ?, ?)",
            [(record.key, record.fingerprint, _dumps(record.result), record.created_at)],
        )

    async def known_lineage_events(self, keys: Sequence[str]) -> set[str]:
        if not keys:
            return set()
        sql = "SELECT key FROM openlineage_events WHERE key IN (SELECT value FROM json_each(?))"
        return {r[0] for r in await self._reads._rows(self, sql, (_dumps(list(keys)),))}

    async def insert_lineage_events(self, events: Sequence[LineageEvent]) -> None:
        if events:
            await self._many(
                "INSERT INTO openlineage_events (key, kind, event_time, received_at, event) VALUES (?, ?, ?, ?, ?)",
                [(e.key, e.kind, e.event_time, e.received_at, _dumps(e.event)) for e in events],
            )

    async def insert_nodes(self, nodes: Sequence[Node]) -> None:
        if not nodes:
            return
        if self.recorder is not None:
            self.recorder.created(nodes)
        await self._many(
            "INSERT INTO nodes (id, kind, name, scope, created_at, tags, attributes, fields) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    n.id,
                    n.kind.value,
                    n.name,
                    n.scope,
                    n.created_at,
                    _dumps(list(n.tags)),
                    _dumps(n.attributes),
                    _dumps(n.fields),
                )
                for n in nodes
            ],
        )
        tags = [(tag, n.id) for n in nodes for tag in dict.fromkeys(n.tags)]
        if tags:
            await self._many("INSERT INTO node_tags (tag, node_id) VALUES (?, ?)", tags)

    async def insert_edges(self, edges: Sequence[Edge]) -> None:
        if not edges:
            return
        if self.recorder is not None:
            self.recorder.edges_created(edges)
        await self._many(
            # The ends' creation times, which lineage orders by (migration 6); a missing
            # end gives '' here and fails the foreign key.
            "INSERT INTO edges (kind, from_id, to_id, created_at, from_created, to_created) VALUES (?, ?, ?, ?,"
            " coalesce((SELECT created_at FROM nodes WHERE id = ?), ''),"
            " coalesce((SELECT created_at FROM nodes WHERE id = ?), ''))",
            [(e.kind, e.from_id, e.to_id, e.created_at, e.from_id, e.to_id) for e in edges],
        )

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
        if attributes is not None:
            await self._many("UPDATE nodes SET attributes = ? WHERE id = ?", [(_dumps(attributes), node_id)])
        if fields is not None:
            await self._many("UPDATE nodes SET fields = ? WHERE id = ?", [(_dumps(fields), node_id)])
        if tags is not None:
            unique = list(dict.fromkeys(tags))
            await self._many("UPDATE nodes SET tags = ? WHERE id = ?", [(_dumps(unique), node_id)])
            await self._many("DELETE FROM node_tags WHERE node_id = ?", [(node_id,)])
            await self._many("INSERT INTO node_tags (tag, node_id) VALUES (?, ?)", [(t, node_id) for t in unique])

    async def delete_edges(self, edges: Sequence[Edge]) -> None:
        if edges and self.recorder is not None:
            self.recorder.edges_deleted(edges, await self.stored_edges(edges))
        if edges:
            keys = [(e.from_id, e.kind, e.to_id) for e in edges]
            # Each one stored stood until now: the graph as of an earlier time has it.
            await self._send(
                "INSERT INTO removed_edges (kind, from_id, to_id, created_at, removed_at, from_created, to_created)"
                " SELECT e.kind, e.from_id, e.to_id, e.created_at, ?, e.from_created, e.to_created"
                " FROM json_each(?) k JOIN edges e"
                " ON e.from_id = k.value ->> 0 AND e.kind = k.value ->> 1 AND e.to_id = k.value ->> 2",
                (utcnow(), _dumps(keys)),
            )
            await self._many("DELETE FROM edges WHERE from_id = ? AND kind = ? AND to_id = ?", keys)

    async def insert_history(self, entries: Sequence[HistoryEntry]) -> None:
        if self.recorder is not None:
            for h in entries:
                self.recorder.moved(h.subject, h.topic, h.value)
        if entries:
            await self._many(
                "INSERT INTO history (subject, topic, seq, at, value, reason, actor) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(h.subject, h.topic, h.seq, h.at, _dumps(h.value), h.reason, h.actor) for h in entries],
            )

    async def delete_nodes(self, ids: Sequence[str], at: str, reason: str | None) -> None:
        if not ids:
            return
        if self.recorder is not None:
            self.recorder.marked(Action.DELETED, ids, reason)
        wanted = _dumps(list(ids))
        await self._send(
            "INSERT INTO deletions (node_id, deleted_at, reason)"
            " SELECT id, ?, ? FROM nodes WHERE id IN (SELECT value FROM json_each(?)) AND deleted_at IS NULL",
            (at, reason, wanted),
        )
        await self._send(
            "UPDATE nodes SET deleted_at = ?, deleted_reason = ?"
            " WHERE id IN (SELECT value FROM json_each(?)) AND deleted_at IS NULL",
            (at, reason, wanted),
        )
        for end in ("from_id", "to_id"):
            await self._send(f"UPDATE edges SET gone = 1 WHERE {end} IN (SELECT value FROM json_each(?)) AND gone = 0", (wanted,))
        # A deleted dev perf's metrics are no longer its run's (a new one's may be).
        await self._send(
            "DELETE FROM run_metrics WHERE run_id IN"
            " (SELECT e.from_id FROM edges e WHERE e.kind = 'run_devperf' AND e.to_id IN (SELECT value FROM json_each(?)))",
            (wanted,),
        )

    async def restore_nodes(self, ids: Sequence[str]) -> None:
        if not ids:
            return
        if self.recorder is not None:
            self.recorder.marked(Action.RESTORED, ids)
        wanted = _dumps(list(ids))
        await self._send(
            "UPDATE deletions SET restored_at = ? WHERE node_id IN (SELECT value FROM json_each(?)) AND restored_at IS NULL",
            (utcnow(), wanted),
        )
        await self._send(
            "UPDATE nodes SET deleted_at = NULL, deleted_reason = NULL"
            " WHERE id IN (SELECT value FROM json_each(?)) AND deleted_at IS NOT NULL",
            (wanted,),
        )
        for end, other in (("from_id", "to_id"), ("to_id", "from_id")):
            await self._send(
                f"UPDATE edges SET gone = 0 WHERE {end} IN (SELECT value FROM json_each(?)) AND gone = 1"
                f" AND (SELECT o.deleted_at FROM nodes o WHERE o.id = edges.{other}) IS NULL",
                (wanted,),
            )
        await self._send(
            "INSERT OR REPLACE INTO run_metrics (run_id, name, value)"
            " SELECT e.from_id, m.key, m.value FROM edges e JOIN nodes d ON d.id = e.to_id, json_each(d.fields, '$.metrics') m"
            " WHERE e.kind = 'run_devperf' AND e.gone = 0 AND e.to_id IN (SELECT value FROM json_each(?))"
            " AND m.type IN ('integer', 'real')",
            (wanted,),
        )


def _create_private(file: Path) -> None:
    """Makes a new store's empty file readable and writable by its owner only (it will
    hold token hashes); SQLite gives the -wal and -shm files it makes the same mode."""
    try:
        os.close(os.open(file, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        pass  # made meanwhile by another process: its mode is its maker's
    except OSError as error:
        raise Unavailable(f"cannot create the SQLite store at {file}: {error.strerror}") from None


def _open_lock_file(path: str) -> int | None:
    """The writers' lock file beside the store (made readable by its owner only), or
    None where it cannot be made (a read-only folder): SQLite's lock alone then."""
    if fcntl is None:
        return None
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as error:
        log.info("no writers' lock file at %s (%s): writers take turns by SQLite's lock alone", path, error.strerror)
        return None


def _unlock(fd: int) -> None:
    assert fcntl is not None
    with contextlib.suppress(OSError):  # closed with the store meanwhile: unlocked then
        fcntl.flock(fd, fcntl.LOCK_UN)


def _probe(uri: str) -> None:
    with contextlib.closing(sqlite3.connect(uri, uri=True)) as conn:
        conn.execute("PRAGMA schema_version")  # reads the header: not a database fails here


class SQLiteStore:
    """The embedded store. ``path`` is a file path or ``:memory:``. With ``create=False``
    a missing file is an error instead of a new, empty store. ``change_log=False`` writes
    no change-log entries: for the bench's measure of what they cost, nowhere else."""

    def __init__(
        self,
        path: str = "./metagate.db",
        *,
        readers: int = 4,
        create: bool = True,
        lineage_first_cap: int = LINEAGE_FIRST_CAP,
        change_log: bool = True,
    ) -> None:
        self.memory = path == ":memory:"
        self.change_log = change_log
        self.compiled_reads = True  # every plan compiles into one statement
        self.path = path if self.memory else os.path.expanduser(path)
        self.create = create
        # Opened as a URI so that without create SQLite itself refuses to make the file.
        self._uri = ":memory:" if self.memory else f"file:{quote(self.path)}?mode={'rwc' if create else 'rw'}"
        self._reader_count = 1 if self.memory else max(1, readers)
        self._writer: aiosqlite.Connection | None = None
        self._readers: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        self._all_readers: list[aiosqlite.Connection] = []
        self._write_lock = asyncio.Lock()
        self._lock_file: int | None = None  # the writers' lock file, shared by every process on the store
        self._reads = _Reads(self)
        self._file: tuple[int, int] | None = None  # the store file's (device, inode) when opened
        self._file_path = self.path
        self._refusal = WriteRefusal()  # why the last write failed, if the store takes none
        self._file_lost = False  # for good: writes are refused until a restart
        self.statements = 0  # SQL statements sent: the store's round trips
        self.checkpoints = 0  # WAL checkpoints run beside the writes
        self._checkpointer: aiosqlite.Connection | None = None
        self._checkpoint_task: asyncio.Task[None] | None = None
        self._checkpointed_at = 0  # the writer's total_changes when the last checkpoint began
        self.lineage_rows = 0  # rows lineage walks produced: their cost, for tests and the bench
        self.lineage_first_cap = lineage_first_cap

    async def _connect(self) -> aiosqlite.Connection:
        conn = await aiosqlite.connect(self._uri, uri=not self.memory, isolation_level=None)
        # Every statement's rows are read to their end (a PRAGMA's too): one left with a
        # row pending stays active, and SQLite keeps an interrupt in force until no
        # statement is, so a cancelled write's ROLLBACK would be interrupted as well.
        await conn.execute_fetchall("PRAGMA foreign_keys = ON")
        await conn.execute_fetchall(f"PRAGMA busy_timeout = {int(BUSY_SECONDS * 1000)}")
        await sqlite_compile.register(conn)
        if not self.memory:
            await conn.execute_fetchall("PRAGMA journal_mode = WAL")
            # In WAL mode NORMAL keeps every committed transaction through a process crash.
            await conn.execute_fetchall("PRAGMA synchronous = NORMAL")
        return conn

    async def open(self) -> None:
        if not self.memory:
            # A store in a folder that does not exist is most likely a mistyped path:
            # say so rather than make the folder and start an empty store there.
            file = Path(self.path)
            if not file.parent.is_dir():
                raise Unavailable(f"the folder {file.parent} does not exist; create it first")
            if file.is_dir():
                raise Unavailable(f"{self.path} is a folder, not a SQLite store file")
            if not self.create and not file.exists():
                raise Unavailable(f"there is no SQLite store at {self.path}")
            if not file.exists():
                _create_private(file)
                log.warning("there was no SQLite store at %s: created a new, empty one", self.path)
            # Probed with the standard library first: a file that cannot be opened is
            # reported here, before aiosqlite starts a worker thread for it (whose stop,
            # after a failed connect, would otherwise outlive a short-lived event loop).
            try:
                await asyncio.to_thread(_probe, self._uri)
            except sqlite3.Error as error:
                raise Unavailable(f"cannot open the SQLite store at {self.path}: {error}") from None
        try:
            self._writer = await self._connect()
            # Writes update several indexes keyed by random ids; with SQLite's default
            # 2 MB page cache a large store re-reads those pages for every batch (bulk
            # load of 200k nodes: 6.2k -> 9.7k nodes/s with 64 MB). Readers keep the default.
            await self._writer.execute_fetchall(f"PRAGMA cache_size = -{WRITER_CACHE_KIB}")
            await sqlite_schema.apply(self._writer)
            if not self.memory:
                # Commits only append to the WAL; _checkpoint writes it back, beside them.
                await self._writer.execute_fetchall("PRAGMA wal_autocheckpoint = 0")
                await self._writer.execute_fetchall(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT_BYTES}")
                self._checkpointer = await self._connect()
                self._file_path = os.path.abspath(self.path)  # a later chdir does not move it
                found = os.stat(self._file_path)
                self._file = (found.st_dev, found.st_ino)
                self._lock_file = _open_lock_file(self._file_path + ".lock")
                for _ in range(self._reader_count):
                    conn = await self._connect()
                    await conn.execute_fetchall("PRAGMA query_only = ON")
                    self._all_readers.append(conn)
                    self._readers.put_nowait(conn)
        except sqlite3.Error as error:
            await self.close()
            raise Unavailable(f"cannot open the SQLite store at {self.path}: {error}") from error
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        # No checkpoint starts from here on (a write finishing meanwhile asks for one).
        checkpointer, self._checkpointer = self._checkpointer, None
        if self._checkpoint_task is not None:
            self._checkpoint_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checkpoint_task
            self._checkpoint_task = None
        if checkpointer is not None:
            await checkpointer.close()  # before the writer: the last to close writes the WAL back
        for conn in self._all_readers:
            await conn.close()
        self._all_readers.clear()
        self._readers = asyncio.Queue()
        if self._writer is not None:
            await self._writer.close()
            self._writer = None
        if self._lock_file is not None:
            os.close(self._lock_file)
            self._lock_file = None

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[aiosqlite.Connection]:
        if self._writer is None:
            raise Unavailable("the store is not open")
        if self.memory:
            # One connection: a read must not see a write transaction in flight.
            async with self._write_lock:
                yield self._writer
            return
        conn = await self._readers.get()
        try:
            yield conn
        finally:
            self._readers.put_nowait(conn)

    def _check_file(self) -> None:
        """The store's file is still the one opened. A file deleted (or replaced) while
        serving leaves the connections writing to an unlinked inode, whose data is gone
        at the next start: no write is taken then, and the loss is logged."""
        if self._file is None:
            return
        try:
            found = os.stat(self._file_path)
            same = (found.st_dev, found.st_ino) == self._file
        except OSError:
            same = False
        if not same:
            if not self._file_lost:
                log.error(
                    "the SQLite store file %s was deleted or renamed over while serving: what is written now would be"
                    " lost; writes are refused until Metagate is restarted on the right file",
                    self._file_path,
                )
            self._file_lost = True
            raise Unavailable(_FILE_LOST)

    async def ping(self) -> None:
        """Ready: the file is the one opened, took the last write (a read-only store or a
        full disk is not ready for ``CANNOT_WRITE_SECONDS`` after a write failed, or until
        a write succeeds: a store that takes no traffic while not ready must become ready
        again to be tried), and answers a read."""
        self._check_file()
        self._refusal.check()
        async with self._read() as conn:
            await self._reads._rows(conn, "SELECT 1")

    def _failed(self, error: BaseException) -> None:
        """What a failed write says about the store, recorded: why it cannot take writes."""
        cause = error if isinstance(error, sqlite3.Error) else error.__cause__
        code = getattr(cause, "sqlite_errorcode", 0) & 0xFF
        if code in _CANNOT_WRITE:
            self._refusal.failed(_CANNOT_WRITE[code])
            log.error("a write to the SQLite store at %s failed: %s", self.path, _CANNOT_WRITE[code])

    async def _turn(self, fn: Callable[[sqlite3.Connection, threading.Event], T], *, check_file: bool = True) -> T:
        """``fn`` on the writer's thread, with the writers' lock file taken and let go
        there too: a write holds it for its work alone, and not until the event loop,
        busy with readers, comes round to the finished write (9 ms on average, against
        0.6 ms of work, under 16 readers; see bench/notes.md). In this process the turns
        take their turn by ``_write_lock``, one on the thread at a time: between two,
        the lock file is free for other processes' writers. Cancelled, the turn is told
        so (``fn`` is handed the event), a statement of its running is interrupted, and
        this waits for the turn to end there, however often it is cancelled again. With
        ``check_file``, the store's file is checked first (``_check_file``)."""
        writer = self._writer
        if writer is None:
            raise Unavailable("the store is not open")
        fd = self._lock_file
        abandoned = threading.Event()

        def turn(db: sqlite3.Connection) -> T:
            locked = False
            try:
                locked = _take_lock_file(fd, time.monotonic() + BUSY_SECONDS, abandoned)
                return fn(db, abandoned)
            finally:
                if locked and fd is not None:
                    _unlock(fd)

        async with self._write_lock:
            if check_file:
                self._check_file()
            future = _on_thread(writer, turn)
            try:
                return await asyncio.shield(future)
            except asyncio.CancelledError:
                if future.done():
                    raise
                abandoned.set()
                # With _write_lock held, nothing but this turn runs on the writer's thread:
                # a statement of it running is interrupted (none running, this does nothing).
                writer._conn.interrupt()
                while not future.done():
                    with contextlib.suppress(BaseException):
                        await asyncio.shield(future)
                if not future.cancelled():
                    future.exception()  # retrieved: its failure is the cancellation's doing
                raise

    @asynccontextmanager
    async def _writing(self) -> AsyncIterator[aiosqlite.Connection]:
        """Held while a ``write`` runs, one statement at a time: the writers' locks (the
        lock file taken and let go on the writer's thread, in turn with the other writes
        there); the file checked first; what a failed write says about the store
        recorded, and the write rolled back."""
        if self._writer is None:
            raise Unavailable("the store is not open")
        async with self._write_lock:
            self._check_file()
            conn = self._writer
            fd, deadline = self._lock_file, time.monotonic() + BUSY_SECONDS
            abandoned = threading.Event()
            try:
                await _on_thread(conn, lambda db: _take_lock_file(fd, deadline, abandoned))
                yield conn
            except BaseException as error:
                abandoned.set()  # a take of the lock file still asking stops
                self._failed(error)
                # Cancelled (a deadline) or failed anywhere, BEGIN and COMMIT included:
                # what SQLite's thread started is rolled back before the lock is freed.
                await asyncio.shield(_on_thread(conn, _rollback))
                raise
            finally:
                # After the lock was taken, or the asking for it stopped: the thread takes
                # its calls in turn. Let go when not held, the lock is left as it was.
                abandoned.set()
                if fd is not None:
                    await asyncio.shield(_on_thread(conn, lambda db: _unlock(fd)))
            self._refusal.succeeded()
        self._checkpoint_soon()

    def _checkpoint_soon(self) -> None:
        """After a write, with the locks freed: a checkpoint of the WAL when
        ``CHECKPOINT_ROWS`` rows were written since the last began, unless one runs."""
        if self._checkpointer is None or self._checkpoint_task is not None or self._writer is None:
            return
        changes = self._writer.total_changes
        if changes - self._checkpointed_at < CHECKPOINT_ROWS:
            return
        self._checkpointed_at = changes
        self._checkpoint_task = asyncio.get_running_loop().create_task(self._checkpoint(self._checkpointer))

    async def _checkpoint(self, conn: aiosqlite.Connection) -> None:
        """Copies what the WAL holds into the database without waiting for anyone
        (PASSIVE). The writes go on meanwhile, and the WAL begins again only at a write
        that finds all of it copied, which with writes that never pause is never: past
        ``CHECKPOINT_TAIL_FRAMES``, what they appended meanwhile is copied in a writers'
        turn (a small tail, the bulk having been copied without them).
        Another process's checkpoint running (busy) makes this one needless; a failure
        is logged and tried again once ``CHECKPOINT_ROWS`` more rows were written (the
        WAL keeps what it holds meanwhile)."""

        def tail(db: sqlite3.Connection, abandoned: threading.Event) -> None:
            with mapped_errors():
                db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

        try:
            with mapped_errors():
                busy, frames, _ = next(iter(await conn.execute_fetchall("PRAGMA wal_checkpoint(PASSIVE)")))
            self.checkpoints += 1
            if not busy and frames >= CHECKPOINT_TAIL_FRAMES:
                await self._turn(tail, check_file=False)
        except MetagateError as error:
            log.warning("checkpointing the SQLite store's WAL at %s failed: %s", self.path, error)
        finally:
            self._checkpoint_task = None

    @asynccontextmanager
    async def write(self) -> AsyncIterator[SQLiteTx]:
        async with self._writing() as conn:
            tx = SQLiteTx(self, conn)
            yield tx
            await tx._commit()

    async def transact(self, work: Callable[[SQLiteTx], Awaitable[T]]) -> T:
        """``work`` in one write transaction, run whole on SQLite's thread in one writers'
        turn (``_turn``): the locks are held for the work itself, not for the event loop's
        turns between its statements or after its COMMIT (which, with readers keeping
        the loop busy, were most of a write's time; see bench/notes.md)."""
        writer = self._writer
        if writer is None:
            raise Unavailable("the store is not open")
        tx = SQLiteTx(self, writer)
        context = contextvars.copy_context()  # the request's (its id in log lines)
        try:
            result = await self._turn(lambda db, abandoned: context.run(tx._whole, db, work, abandoned))
        except BaseException as error:
            self._failed(error)
            raise
        self._refusal.succeeded()
        self._checkpoint_soon()
        return result

    async def get_nodes(self, ids: Sequence[str], *, deleted: bool = False, as_of: str | None = None) -> list[Node | None]:
        async with self._read() as conn:
            return await self._reads.get_nodes(conn, ids, deleted, as_of)

    async def find_named(self, keys: Sequence[NameKey]) -> list[list[Node]]:
        async with self._read() as conn:
            return await self._reads.find_named(conn, keys)

    async def find_by_field(self, kind: Kind, name: str, value: str) -> list[Node]:
        async with self._read() as conn:
            return await self._reads.find_by_field(conn, kind, name, value)

    async def find_serving_perf(self, periods: Sequence[ServingPeriod]) -> list[Node | None]:
        async with self._read() as conn:
            return await self._reads.find_serving_perf(conn, periods)

    async def neighbors(self, requests: Sequence[NeighborRequest]) -> list[Page]:
        async with self._read() as conn:
            return await self._reads.neighbors(conn, requests)

    async def history(self, queries: Sequence[HistoryQuery]) -> list[list[HistoryEntry]]:
        async with self._read() as conn:
            return await self._reads.history(conn, queries)

    async def metric_history(self, queries: Sequence[MetricHistoryQuery]) -> list[list[MetricPoint]]:
        async with self._read() as conn:
            return await self._reads.metric_history(conn, queries)

    async def declared_kinds(self) -> tuple[list[NodeKindDecl], list[EdgeKindDecl]]:
        async with self._read() as conn:
            return await self._reads.declared_kinds(conn)

    async def stored_edges(self, edges: Sequence[Edge]) -> list[str | None]:
        async with self._read() as conn:
            return await self._reads.stored_edges(conn, edges)

    async def list_nodes(self, query: ListQuery) -> Page:
        sql, params = _list_sql(query)
        async with self._read() as conn:
            rows = await self._reads._rows(conn, sql, params)
        items = [(_node(row[1:]), (row[0], row[1])) for row in rows]
        return Page(items=items[: query.first], has_next=len(items) > query.first)

    async def lineage(self, query: LineageQuery) -> LineageResult:
        params = lineage_values(query, self.lineage_first_cap)
        while True:
            async with self._read() as conn:
                sql = LINEAGE_SQL[query.kinds is None, query.include_deleted, query.as_of is not None]
                rows = await self._reads._rows(conn, sql, params)
            walked = rows[0][1]
            self.lineage_rows += walked
            nodes = [LineageNode(_node(row[3:], query.as_of), row[1], Direction(row[2])) for row in rows if row[0] == "n"]
            if len(nodes) > query.limit or walked < params["cap"]:
                break  # more than the limit (a prefix of the answer is exact), or the whole walk
            params["cap"] *= 4  # cut with too few nodes: walk again, further
        edges = sorted(
            (Edge(kind=row[3], from_id=row[4], to_id=row[5], created_at=row[6]) for row in rows if row[0] == "e"),
            key=lambda e: (e.kind, e.from_id, e.to_id),
        )
        return LineageResult(nodes=nodes[: query.limit], edges=edges, truncated=len(nodes) > query.limit)

    async def answer(self, plan: Plan) -> JSONObject | None:
        text = await self.answer_text(plan)
        return orjson.loads(text) if text is not None else None

    async def answer_text(self, plan: Plan) -> bytes | None:
        async with self._read() as conn:
            return await self._reads.answer_text(conn, plan)

    async def project_counts(self, project_id: str) -> ProjectCounts:
        async with self._read() as conn:
            rows = await self._reads._rows(conn, _PROJECT_COUNTS_SQL, {"p": project_id})
        models, runs, datasets, featuresets, deployments = rows[0]
        return ProjectCounts(models, runs, datasets, featuresets, deployments)

    async def count_all(self) -> dict[str, int]:
        async with self._read() as conn:
            rows = await self._reads._rows(
                conn,
                "SELECT kind, count(*) FROM nodes GROUP BY kind"
                " UNION ALL SELECT 'edge:' || kind, count(*) FROM edges GROUP BY kind"
                " UNION ALL SELECT 'tags', count(*) FROM node_tags",
            )
        return {kind: count for kind, count in rows}

    async def count_deleted(self, before: str) -> int:
        async with self._read() as conn:
            [(count,)] = await self._reads._rows(conn, "SELECT count(*) FROM nodes WHERE deleted_at < ?", (before,))
        return int(count)

    async def purge_deleted(self, before: str, most: int) -> list[str]:
        async def purge(tx: SQLiteTx) -> list[str]:
            found = await tx._send(
                "SELECT id FROM nodes WHERE deleted_at < ? ORDER BY deleted_at, id LIMIT ?", (before, max(0, most))
            )
            ids = [row[0] for row in found]
            if ids:
                wanted = (_dumps(ids),)
                for sql in _PURGE_SQL:
                    await tx._send(sql, wanted)
            return ids

        # It records nothing, so no entry is written: the log keeps the entries as they were.
        return await self.transact(purge)

    async def changes(self, query: ChangeQuery) -> list[Change]:
        sql, params = _changes_sql(query)
        async with self._read() as conn:
            rows = await self._reads._rows(conn, sql, params)
        return [
            Change(seq, at, op, tid, tname, tuple(ChangeItem.from_json(i) for i in orjson.loads(items)))
            for seq, at, op, tid, tname, items in rows
        ]

    async def lineage_events(self, first: int, after: tuple[str, str] | None = None) -> list[LineageEvent]:
        sql = "SELECT key, kind, event_time, received_at, event FROM openlineage_events"
        params: tuple[Any, ...] = ()
        if after is not None:
            sql += " WHERE (received_at, key) > (?, ?)"
            params = after
        async with self._read() as conn:
            rows = await self._reads._rows(conn, sql + " ORDER BY received_at, key LIMIT ?", (*params, first))
        return [LineageEvent(k, kind, t, r, orjson.loads(e)) for k, kind, t, r, e in rows]

    async def add_token(self, token: Token) -> None:
        async with self.write() as tx:
            await tx._many(
                f"INSERT INTO tokens ({_TOKEN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        token.id,
                        token.name,
                        token.role,
                        _dumps(list(token.projects)),
                        token.secret_hash,
                        token.created_at,
                        token.revoked_at,
                    )
                ],
            )

    async def get_token(self, token_id: str) -> Token | None:
        async with self._read() as conn:
            rows = await self._reads._rows(conn, f"SELECT {_TOKEN_COLUMNS} FROM tokens WHERE id = ?", (token_id,))
        return _token(rows[0]) if rows else None

    async def list_tokens(self) -> list[Token]:
        async with self._read() as conn:
            rows = await self._reads._rows(conn, f"SELECT {_TOKEN_COLUMNS} FROM tokens ORDER BY created_at, id")
        return [_token(r) for r in rows]

    async def revoke_token(self, token_id: str, at: str) -> bool:
        async with self.write() as tx:
            revoked = await self._reads._rows(
                tx, "UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL RETURNING id", (at, token_id)
            )
            return len(revoked) == 1


def _token(row: Sequence[Any]) -> Token:
    token_id, name, role, projects, secret_hash, created_at, revoked_at = row
    return Token(token_id, name, role, tuple(orjson.loads(projects)), secret_hash, created_at, revoked_at)


_TOKEN_COLUMNS = "id, name, role, projects, secret_hash, created_at, revoked_at"


def _changes_sql(q: ChangeQuery) -> tuple[str, list[Any]]:
    """The entries ``q`` asks for: those about a node by its marks' (node_id, seq) key,
    the others by seq, each filter applied before the LIMIT."""
    past = ">" if q.ascending else "<"
    order = "ASC" if q.ascending else "DESC"
    where: list[str] = []
    params: list[Any] = []
    if q.node is not None:
        where.append("m.node_id = ?")
        params.append(q.node)
    # About a node: read in the order of its marks' key (node_id, seq).
    seq = "m.seq" if q.node is not None else "c.seq"
    if q.after is not None:
        where.append(f"{seq} {past} ?")
        params.append(q.after)
    if q.token is not None:
        where.append("c.token_id = ?")
        params.append(q.token)
    if q.operations:
        where.append("c.operation IN (SELECT value FROM json_each(?))")
        params.append(_dumps(list(q.operations)))
    if q.since is not None:
        where.append("c.at >= ?")
        params.append(q.since)
    if q.until is not None:
        where.append("c.at < ?")
        params.append(q.until)
    if q.kinds:
        where.append("EXISTS (SELECT 1 FROM change_nodes k WHERE k.seq = c.seq AND k.kind IN (SELECT value FROM json_each(?)))")
        params.append(_dumps(list(q.kinds)))
    source = "change_nodes m JOIN changes c ON c.seq = m.seq" if q.node is not None else "changes c"
    sql = (
        f"SELECT c.seq, c.at, c.operation, c.token_id, c.token_name, c.items FROM {source}"
        f"{' WHERE ' + ' AND '.join(where) if where else ''} ORDER BY {seq} {order} LIMIT ?"
    )
    return sql, [*params, q.first]


def _list_sql(q: ListQuery) -> tuple[str, dict[str, Any]]:
    bind = Params()
    sql, _ = list_source(q, bind)
    return sql, bind.values

"""Audit: the change log read back, a node's history and the store's changes."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace

from metagate.resolvers import validate
from metagate.store.changes import Change, ChangeQuery, touches
from metagate.store.errors import BadUserInput
from metagate.store.model import Kind, Node
from metagate.store.port import Store


@dataclass(frozen=True)
class ChangePage:
    changes: list[Change]
    has_next: bool


# Numbers stay below 2**53: ArangoDB holds them as JSON doubles, exact up to there.
_MOST = 2**53


def decode_cursor(cursor: str | None, *, field: str = "after") -> int | None:
    """A change's cursor is its number in the log, as text."""
    if cursor is None:
        return None
    if not cursor.isascii() or not cursor.isdigit() or len(cursor) > 16 or str(int(cursor)) != cursor or int(cursor) >= _MOST:
        raise BadUserInput(f"{field}: {cursor[:80]!r} is not a change cursor", field=field)
    return int(cursor)


def about(change: Change, nodes: frozenset[str]) -> Change:
    """The change with only its items about ``nodes`` (their own, their edges')."""
    items = tuple(i for i in change.items if not nodes.isdisjoint(i.nodes()))
    return replace(change, items=items)


async def page(store: Store, query: ChangeQuery) -> ChangePage:
    """One page: one more than asked is read, to know whether there is a next."""
    asked = query.first
    found = await store.changes(replace(query, first=asked + 1))
    return ChangePage(found[:asked], len(found) > asked)


async def history(store: Store, node_id: str, first: int | None, after: str | None, *, default: int, maximum: int) -> ChangePage:
    size = validate.page_size(first, default=default, maximum=maximum)
    found = await page(store, ChangeQuery(first=size, after=decode_cursor(after), node=node_id))
    return ChangePage([about(c, frozenset({node_id})) for c in found.changes], found.has_next)


@dataclass(frozen=True)
class ChangeFilter:
    token: str | None = None
    operation: str | None = None
    kinds: tuple[Kind, ...] = ()
    since: str | None = None
    until: str | None = None


async def changes(
    store: Store, where: ChangeFilter, first: int | None, after: str | None, *, default: int, maximum: int
) -> ChangePage:
    size = validate.page_size(first, default=default, maximum=maximum)
    if where.since is not None and where.until is not None and where.since >= where.until:
        raise BadUserInput("where: after must be earlier than before", field="where")
    query = ChangeQuery(
        first=size,
        after=decode_cursor(after),
        token=where.token,
        operations=(where.operation,) if where.operation is not None else (),
        kinds=tuple(k.value for k in where.kinds),
        since=where.since,
        until=where.until,
    )
    return await page(store, query)


async def latest(store: Store) -> int:
    """The number of the newest entry; 0 when the log is empty."""
    found = await store.changes(ChangeQuery(first=1))
    return found[0].seq if found else 0


class _Behind(Exception):
    """A subscriber's queue filled up: it reads the log itself again from its cursor."""


class Feed:
    """One reader of the log for every subscriber of a process: it asks the store for the
    entries after the last it read every ``interval`` seconds while anyone listens, and
    hands each to every subscriber's queue. A subscriber that does not keep up (its queue
    holds ``backlog`` entries) is let go and reads the log itself, from its cursor, until
    it has caught up."""

    def __init__(self, store: Store, *, interval: float = 0.02, page_size: int = 100, backlog: int = 10_000) -> None:
        # Weakly: the feeds are kept by store, and a store let go takes its feed along.
        self.store: Store = weakref.proxy(store)
        self.loop = asyncio.get_running_loop()
        self.interval = interval
        self.page_size = page_size
        self.backlog = backlog
        self.cursor = 0  # the newest entry handed out
        self.reads = 0  # store reads made: one per interval, however many subscribers
        self._queues: set[asyncio.Queue[Change | BaseException]] = set()
        self._task: asyncio.Task[None] | None = None
        self._starting = asyncio.Lock()
        # The nodes an entry's subscribers are sent, read once for all of them.
        self._nodes: dict[tuple[int, tuple[str, ...]], asyncio.Future[list[Node | None]]] = {}

    async def nodes(self, seq: int, ids: Sequence[str]) -> list[Node | None]:
        """The nodes ``ids`` that entry ``seq`` is about, as they are when its first
        subscriber asks: one store read however many subscribers ask."""
        key = (seq, tuple(ids))
        found = self._nodes.get(key)
        if found is None:
            found = self._nodes[key] = asyncio.get_running_loop().create_future()
            while len(self._nodes) > NODES_KEPT:
                del self._nodes[next(iter(self._nodes))]
            try:
                found.set_result(await self.store.get_nodes(list(ids)))
            except BaseException as error:
                del self._nodes[key]
                found.set_exception(error)
                found.exception()  # heard here: the others that wait for it hear it too
                raise
        return await asyncio.shield(found)

    async def subscribe(self) -> tuple[asyncio.Queue[Change | BaseException], int]:
        """A queue that gets every entry after the cursor answered with it."""
        async with self._starting:
            if self._task is None or self._task.done():
                self.cursor = await latest(self.store)
                self._task = asyncio.get_running_loop().create_task(self._poll())
            # One place beyond the backlog, for the word that ends it.
            queue: asyncio.Queue[Change | BaseException] = asyncio.Queue(self.backlog + 1)
            self._queues.add(queue)
            return queue, self.cursor

    def unsubscribe(self, queue: asyncio.Queue[Change | BaseException]) -> None:
        self._queues.discard(queue)
        if not self._queues and self._task is not None:
            self._task.cancel()
            self._task = None

    async def _poll(self) -> None:
        try:
            while self._queues:
                self.reads += 1
                found = await self.store.changes(ChangeQuery(first=self.page_size, after=self.cursor, ascending=True))
                for change in found:
                    self.cursor = change.seq
                    for queue in list(self._queues):
                        if queue.qsize() < self.backlog:
                            queue.put_nowait(change)
                        else:  # let go: it reads the log again from its cursor, so what it holds goes
                            self._queues.discard(queue)
                            while not queue.empty():
                                queue.get_nowait()
                            queue.put_nowait(_Behind())
                if len(found) < self.page_size:
                    await asyncio.sleep(self.interval)
        except Exception as error:  # the store failed: each subscriber hears it
            for queue in list(self._queues):
                self._queues.discard(queue)
                queue.put_nowait(error)


NODES_KEPT = 256

_FEEDS: weakref.WeakKeyDictionary[Store, Feed] = weakref.WeakKeyDictionary()


def feed_of(store: Store) -> Feed:
    """The process's feed of ``store``'s log."""
    loop = asyncio.get_running_loop()
    feed = _FEEDS.get(store)
    if feed is None or feed.loop is not loop:
        feed = _FEEDS[store] = Feed(store)
    return feed


def _wanted(change: Change, kinds: tuple[str, ...], operations: tuple[str, ...]) -> bool:
    """As the store's filters select: by the mutation field, by the kind of a node marked."""
    if operations and change.operation not in operations:
        return False
    return not kinds or any(t.kind in kinds for t in touches(change.items))


async def follow(
    store: Store,
    *,
    after: int | None = None,
    kinds: tuple[str, ...] = (),
    operations: tuple[str, ...] = (),
    nodes: frozenset[str] = frozenset(),
    page_size: int = 100,
    feed: Feed | None = None,
) -> AsyncIterator[Change]:
    """The entries committed after ``after`` (None: from now on), oldest first, for as long
    as it is read. Entries commit in the order of their numbers, so each comes once and
    none is missed, whichever gateway process wrote it: the ones before the process's
    feed (``feed_of``) are read from the log, the rest come from the feed. ``nodes``: only
    entries about one of them, each with its items about them."""
    feed = feed or feed_of(store)
    cursor = after
    while True:
        queue, head = await feed.subscribe()
        try:
            if cursor is None:
                cursor = head
            # Catching up: what was committed between the cursor and the feed's head.
            while cursor < head:
                query = ChangeQuery(first=page_size, after=cursor, ascending=True, kinds=kinds, operations=operations)
                found = [c for c in await store.changes(query) if c.seq <= head]
                for change in found:
                    cursor = change.seq
                    if nodes:
                        change = about(change, nodes)
                    if change.items:
                        yield change
                if not found:
                    cursor = head
            while True:
                got = await queue.get()
                if isinstance(got, _Behind):
                    break
                if isinstance(got, BaseException):
                    raise got
                if got.seq <= cursor:
                    continue
                cursor = got.seq
                if not _wanted(got, kinds, operations):
                    continue
                change = about(got, nodes) if nodes else got
                if change.items:
                    yield change
        finally:
            feed.unsubscribe(queue)

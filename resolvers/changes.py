"""Audit: the change log read back, a node's history and the store's changes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

from metagate.resolvers import validate
from metagate.store.changes import Change, ChangeQuery
from metagate.store.errors import BadUserInput
from metagate.store.model import Kind
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


async def follow(
    store: Store,
    *,
    after: int | None = None,
    kinds: tuple[str, ...] = (),
    operations: tuple[str, ...] = (),
    nodes: frozenset[str] = frozenset(),
    interval: float = 0.02,
    page_size: int = 100,
) -> AsyncIterator[Change]:
    """The entries committed after ``after`` (None: from now on), oldest first, for as long
    as it is read: the log is asked again every ``interval`` seconds once read to its end.
    Entries commit in the order of their numbers, so each comes once and none is missed,
    whichever gateway process wrote it. ``nodes``: only entries about one of them, each
    with its items about them."""
    cursor = await latest(store) if after is None else after
    while True:
        query = ChangeQuery(first=page_size, after=cursor, ascending=True, kinds=kinds, operations=operations)
        found = await store.changes(query)
        for change in found:
            cursor = change.seq
            if nodes:
                change = about(change, nodes)
            if change.items:
                yield change
        if len(found) < page_size:
            await asyncio.sleep(interval)

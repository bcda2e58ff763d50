"""Audit: the change log read back, a node's history and the store's changes."""

from __future__ import annotations

from dataclasses import dataclass

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


def about(change: Change, node_id: str) -> Change:
    """The change with only its items about ``node_id`` (the node's own, its edges')."""
    items = tuple(i for i in change.items if node_id in i.nodes())
    return Change(change.seq, change.at, change.operation, change.token_id, change.token_name, items)


async def page(store: Store, query: ChangeQuery) -> ChangePage:
    """One page: one more than asked is read, to know whether there is a next."""
    asked = query.first
    found = await store.changes(ChangeQuery(**{**vars(query), "first": asked + 1}))
    return ChangePage(found[:asked], len(found) > asked)


async def history(store: Store, node_id: str, first: int | None, after: str | None, *, default: int, maximum: int) -> ChangePage:
    size = validate.page_size(first, default=default, maximum=maximum)
    found = await page(store, ChangeQuery(first=size, after=decode_cursor(after), node=node_id))
    return ChangePage([about(c, node_id) for c in found.changes], found.has_next)


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

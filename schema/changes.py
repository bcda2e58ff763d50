"""Audit: the change log as GraphQL, a node's history and the store's changes."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

import strawberry
from strawberry.scalars import JSON

from metagate.resolvers import changes, validate
from metagate.resolvers.changes import ChangePage
from metagate.resolvers.ids import decode_id, encode_id
from metagate.schema.context import Info
from metagate.schema.types import Connection, Edge, PageInfo
from metagate.store import changes as log
from metagate.store.model import Kind, kind_of, parse_time

ITEMS_DEFAULT = 100
ITEMS_MOST = 1000


@strawberry.enum(description="What a mutation did to a node, an edge or a kind.")
class ChangeAction(enum.Enum):
    CREATED = "created"
    CHANGED = "changed"
    DELETED = "deleted"
    RESTORED = "restored"
    MOVED = "moved"
    LOGGED = "logged"
    DECLARED = "declared"


def _ids_encoded(value: Any) -> Any:
    """A moved value with the store ids in it (a version a deployment serves) as global ids."""
    if isinstance(value, str):
        kind = kind_of(value)
        return encode_id(value) if kind is not None and kind is not Kind.CUSTOM else value
    if isinstance(value, dict):
        return {k: _ids_encoded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_ids_encoded(v) for v in value]
    return value


@strawberry.type(
    description="One thing a mutation did: a node created, changed, deleted or restored; an edge created, changed"
    " (made again) or deleted; a move of something that moves (an alias, a served version, traffic, a job's"
    " status); metric points logged to a run; a kind declared."
)
class ChangeItem:
    item: strawberry.Private[log.ChangeItem]

    @strawberry.field
    def action(self) -> ChangeAction:
        return ChangeAction(self.item.action.value)

    @strawberry.field(
        description="The node: created, changed, deleted or restored; the subject of a move; the run points were logged to."
    )
    def node(self) -> strawberry.ID | None:
        return strawberry.ID(encode_id(self.item.node)) if self.item.node is not None else None

    @strawberry.field(description="The node's kind (lowercase, as stored); the name of a declared kind.")
    def kind(self) -> str | None:
        return self.item.kind

    @strawberry.field(description="An edge item's edge kind.")
    def edge_kind(self) -> str | None:
        return self.item.edge[0] if self.item.edge else None

    @strawberry.field(name="from", description="An edge item's from end.")
    def from_(self) -> strawberry.ID | None:
        return strawberry.ID(encode_id(self.item.edge[1])) if self.item.edge else None

    @strawberry.field(description="An edge item's to end.")
    def to(self) -> strawberry.ID | None:
        return strawberry.ID(encode_id(self.item.edge[2])) if self.item.edge else None

    @strawberry.field(
        description="Of a changed node, the parts that changed (attributes, tags, fields) as they were; of a deleted"
        " or remade edge, when it had been created (createdAt)."
    )
    def before(self) -> JSON | None:
        return JSON(self.item.before) if self.item.before is not None else None

    @strawberry.field(
        description="Of a changed node, the parts that changed as they are now; of a remade edge, its new createdAt;"
        " of a move, {topic, value}; of logged points, {keys: {key: count}}; of a declaration, {of: node|edge}."
    )
    def after(self) -> JSON | None:
        if self.item.after is None:
            return None
        return JSON(_ids_encoded(self.item.after) if self.item.action is log.Action.MOVED else self.item.after)


@strawberry.type(description="An entry of the change log: one mutation, who made it, when, and what it did.")
class Change:
    entry: strawberry.Private[log.Change]

    @strawberry.field(description="Its place in the log; pass it as `after` to read on from it.")
    def cursor(self) -> str:
        return str(self.entry.seq)

    @strawberry.field(description="When it was committed.")
    def at(self) -> dt.datetime:
        return parse_time(self.entry.at)

    @strawberry.field(description="The mutation field (logRun, ...), openlineage, or a command; null when not known.")
    def operation(self) -> str | None:
        return self.entry.operation

    @strawberry.field(description="The API token it came with; null without one (auth off, the command line).")
    def token_id(self) -> str | None:
        return self.entry.token_id

    @strawberry.field(description="That token's name.")
    def token_name(self) -> str | None:
        return self.entry.token_name

    @strawberry.field(description="How many items it has.")
    def item_count(self) -> int:
        return len(self.entry.items)

    @strawberry.field(description="What it did: nodes first, then edges, moves, points and declarations.")
    def items(self, first: int | None = None) -> list[ChangeItem]:
        size = validate.page_size(first, default=ITEMS_DEFAULT, maximum=ITEMS_MOST)
        return [ChangeItem(item=i) for i in self.entry.items[:size]]


def _connection(found: ChangePage) -> Connection[Change]:
    edges = [Edge(cursor=str(c.seq), node=Change(entry=c)) for c in found.changes]
    return Connection(
        edges=edges,
        nodes=[e.node for e in edges],
        page_info=PageInfo(
            has_next_page=found.has_next,
            has_previous_page=False,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )


@strawberry.input(description="Which changes: each given part must hold.")
class ChangeWhere:
    token: str | None = strawberry.field(default=None, description="Made with this API token (its id).")
    operation: str | None = strawberry.field(default=None, description="By this mutation field (logRun, ...).")
    kinds: list[Kind] | None = strawberry.field(default=None, description="About a node of one of these kinds.")
    after: dt.datetime | None = strawberry.field(default=None, description="Made at or after this time.")
    before: dt.datetime | None = strawberry.field(default=None, description="Made before this time.")

    def to_filter(self) -> changes.ChangeFilter:
        return changes.ChangeFilter(
            token=self.token,
            operation=self.operation,
            kinds=tuple(self.kinds or ()),
            since=validate.time(self.after, field="where.after"),
            until=validate.time(self.before, field="where.before"),
        )


@strawberry.type
class AuditQuery:
    @strawberry.field(
        description="Who changed a node and when, newest first: each change that created, changed, deleted or"
        " restored it, moved something of it, logged points to it, or made or removed an edge of it, with the items"
        " about it."
    )
    async def history(
        self, info: Info, id: strawberry.ID, first: int | None = None, after: str | None = None
    ) -> Connection[Change]:
        limits = info.context.limits
        found = await changes.history(
            info.context.store, decode_id(id), first, after, default=limits.default_page, maximum=limits.max_page
        )
        return _connection(found)

    @strawberry.field(description="The change log across the store, newest first. Needs the admin role.")
    async def changes(
        self, info: Info, where: ChangeWhere | None = None, first: int | None = None, after: str | None = None
    ) -> Connection[Change]:
        limits = info.context.limits
        wanted = where.to_filter() if where is not None else changes.ChangeFilter()
        found = await changes.changes(
            info.context.store, wanted, first, after, default=limits.default_page, maximum=limits.max_page
        )
        return _connection(found)

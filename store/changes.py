"""The change log: one entry per mutation, written in the mutation's own transaction,
naming who made it and each node and edge it created, changed or deleted. Audit (a
node's history, the store's changes) reads it, and so do soft delete, lineage as of a
time and subscriptions.

An adapter's write transaction keeps a ``Recorder``: each of its write methods tells it
what it wrote, and at the commit the adapter stores ``Recorder.items()`` as one entry
(none when nothing was written), numbered one after the store's last: an entry's
``seq`` is a cursor that a reader who saw entry n resumes after, missing nothing.
``ORIGIN`` says who writes: the gateway sets the token for a request and the operation
for each mutation field; a write outside a request (the command line) has neither
unless it sets them.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, NamedTuple

from metagate.store.model import Edge, EdgeKindDecl, JSONObject, Node, NodeKindDecl

if TYPE_CHECKING:
    from metagate.store.port import MetricPoint

# The parts of a node that a change names before and after.
PARTS = ("attributes", "tags", "fields")


class Action(enum.StrEnum):
    CREATED = "created"
    CHANGED = "changed"
    DELETED = "deleted"
    RESTORED = "restored"
    MOVED = "moved"  # something that moves, of a node: an alias, a served version, traffic, a job's status
    LOGGED = "logged"  # metric points appended to a run's history
    DECLARED = "declared"  # a node kind or an edge kind


class ChangeItem(NamedTuple):
    """One thing a mutation did. ``node``: the node created, changed, deleted or restored,
    a move's subject, the run points were logged to; ``kind``: that node's kind (a declared
    kind's name for DECLARED); ``edge``: (edge kind, from id, to id) of an edge item.
    ``before`` and ``after``: of a changed node, the parts that changed (attributes, tags,
    fields) as they were and as they are; of a deleted edge, its ``createdAt``; of a move,
    ``{topic, value}``; of logged points, ``{keys: {key: count}}``. A tuple: a batch of
    runs makes thousands, and a frozen dataclass is several times as dear to make."""

    action: Action
    node: str | None = None
    kind: str | None = None
    edge: tuple[str, str, str] | None = None
    before: JSONObject | None = None
    after: JSONObject | None = None

    def nodes(self) -> tuple[str, ...]:
        """The nodes it is about: its node, or its edge's two ends."""
        if self.edge is not None:
            return (self.edge[1], self.edge[2])
        return (self.node,) if self.node is not None else ()

    def to_json(self) -> JSONObject:
        action, node, kind, edge, before, after = self
        out: JSONObject = {"action": action.value}
        if node is not None:
            out["node"] = node
        if kind is not None:
            out["kind"] = kind
        if edge is not None:
            out["edge"] = list(edge)
        if before is not None:
            out["before"] = before
        if after is not None:
            out["after"] = after
        return out

    @classmethod
    def from_json(cls, value: JSONObject) -> ChangeItem:
        edge = value.get("edge")
        return cls(
            Action(value["action"]),
            value.get("node"),
            value.get("kind"),
            (edge[0], edge[1], edge[2]) if edge else None,
            value.get("before"),
            value.get("after"),
        )


@dataclass(frozen=True)
class Change:
    """An entry of the change log. ``seq`` numbers the entries from 1 in commit order."""

    seq: int
    at: str  # format_time text
    operation: str | None
    token_id: str | None
    token_name: str | None
    items: tuple[ChangeItem, ...]


class Touch(NamedTuple):
    """An entry's mark on one node it is about, which a node's history and the kinds
    filter read: the node's kind and its own action in the entry (None: only an edge of
    it was), with the parts a CHANGED took from it (``ChangeItem.before``)."""

    node: str
    kind: str
    action: Action | None
    before: JSONObject | None = None


@dataclass(frozen=True)
class ChangeQuery:
    """Entries newest first (``ascending``: oldest first), at most ``first``, those past
    ``after`` (a seq) in that order when given. Narrowed to those about ``node``, made with
    ``token`` (an id), by one of ``operations``, about a node of one of ``kinds``, made at
    or after ``since`` and before ``until`` (format_time text)."""

    first: int
    after: int | None = None
    ascending: bool = False
    node: str | None = None
    token: str | None = None
    operations: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    since: str | None = None
    until: str | None = None


@dataclass(frozen=True)
class Origin:
    """Who writes: the mutation field (its GraphQL name) and the token it came with."""

    operation: str | None = None
    token_id: str | None = None
    token_name: str | None = None


ORIGIN: ContextVar[Origin] = ContextVar("metagate_origin", default=Origin())  # noqa: B039 (frozen: never changed in place)


@contextmanager
def origin(**given: Any) -> Iterator[Origin]:
    """The writes made inside are made by ``given`` (operation, token_id, token_name),
    over what is set already."""
    now = replace(ORIGIN.get(), **given)
    token = ORIGIN.set(now)
    try:
        yield now
    finally:
        ORIGIN.reset(token)


def _parts(node: Node) -> JSONObject:
    return {"attributes": node.attributes, "tags": list(node.tags), "fields": node.fields}


_EdgeKey = tuple[str, str, str]


class Recorder:
    """What one write transaction has written so far, folded: a node created and then
    changed is created (as it is at the end), one changed twice is changed from its first
    state to its last, an edge created and removed again is nothing."""

    __slots__ = ("_edges", "_nodes", "_other", "_points")

    def __init__(self) -> None:
        self._nodes: dict[str, ChangeItem] = {}
        self._edges: dict[_EdgeKey, ChangeItem] = {}
        self._other: list[ChangeItem] = []
        self._points: dict[str, dict[str, int]] = {}

    def __bool__(self) -> bool:
        return bool(self._nodes or self._edges or self._other or self._points)

    def created(self, nodes: Sequence[Node]) -> None:
        for n in nodes:
            self._nodes[n.id] = ChangeItem(Action.CREATED, n.id, n.kind.value)

    def changed(self, before: Node, after: JSONObject) -> None:
        """``after``: the parts the write set (attributes, tags as a list, fields)."""
        held = self._nodes.get(before.id)
        if held is not None and held.action is not Action.CHANGED:
            return  # created (or deleted, restored) here: the entry says so already
        was = _parts(before)
        first = dict(held.before or {}) if held is not None else {}
        last = dict(held.after or {}) if held is not None else {}
        for part, value in after.items():
            first.setdefault(part, was[part])
            last[part] = value
        same = [part for part in first if first[part] == last[part]]
        for part in same:
            del first[part], last[part]
        if not first:
            self._nodes.pop(before.id, None)
            return
        self._nodes[before.id] = ChangeItem(Action.CHANGED, before.id, before.kind.value, before=first, after=last)

    def made_here(self, node_id: str) -> bool:
        held = self._nodes.get(node_id)
        return held is not None and held.action is Action.CREATED

    def marked(self, action: Action, ids: Sequence[str], reason: str | None = None) -> None:
        """Deleted (with the reason given, as ``after``) or restored."""
        after = {"reason": reason} if action is Action.DELETED and reason is not None else None
        for node_id in ids:
            held = self._nodes.get(node_id)
            if held is not None and held.action in (Action.DELETED, Action.RESTORED) and held.action is not action:
                del self._nodes[node_id]  # deleted and restored again (or the other way): nothing
                continue
            self._nodes[node_id] = ChangeItem(action, node_id, node_id.partition("/")[0], after=after)

    def edges_created(self, edges: Sequence[Edge]) -> None:
        for e in edges:
            key = (e.kind, e.from_id, e.to_id)
            held = self._edges.get(key)
            if held is not None and held.action is Action.DELETED:
                # Removed and made again: it stays, from a new time.
                before = held.before
                self._edges[key] = ChangeItem(Action.CHANGED, edge=key, before=before, after={"createdAt": e.created_at})
            else:
                self._edges[key] = ChangeItem(Action.CREATED, edge=key)

    def edges_deleted(self, edges: Sequence[Edge], stored: Sequence[str | None]) -> None:
        """``stored``: when each edge was stored (None: it is not, and nothing is removed)."""
        for e, at in zip(edges, stored, strict=True):
            key = (e.kind, e.from_id, e.to_id)
            held = self._edges.pop(key, None)
            if held is not None and held.action is Action.DELETED:
                self._edges[key] = held  # removed already: it stays removed, from its first time
                continue
            if held is not None and held.action is Action.CREATED:
                continue
            if held is not None and held.action is Action.CHANGED and held.before is not None:
                at = held.before.get("createdAt", at)
            if at is not None:
                self._edges[key] = ChangeItem(Action.DELETED, edge=key, before={"createdAt": at})

    def moved(self, subject: str, topic: str, value: Any) -> None:
        self._other.append(ChangeItem(Action.MOVED, subject, after={"topic": topic, "value": value}))

    def logged(self, run_id: str, keys: dict[str, int]) -> None:
        held = self._points.setdefault(run_id, {})
        for key, count in keys.items():
            held[key] = held.get(key, 0) + count

    def declared(self, node_kinds: Sequence[NodeKindDecl], edge_kinds: Sequence[EdgeKindDecl]) -> None:
        for k in node_kinds:
            self._other.append(ChangeItem(Action.DECLARED, kind=k.name, after={"of": "node"}))
        for d in edge_kinds:
            self._other.append(ChangeItem(Action.DECLARED, kind=d.name, after={"of": "edge"}))

    def items(self) -> list[ChangeItem]:
        logged = [ChangeItem(Action.LOGGED, run, "run", after={"keys": keys}) for run, keys in self._points.items()]
        return [*self._nodes.values(), *self._edges.values(), *self._other, *logged]


def touches(items: Sequence[ChangeItem]) -> list[Touch]:
    """Each node the items are about, once (a node's id begins with its kind)."""
    seen: dict[str, Touch] = {}
    for item in items:
        if item.edge is None:
            node = item.node
            if node is None:
                continue
            if item.action in _OWN:
                seen[node] = Touch(
                    node, node.partition("/")[0], item.action, item.before if item.action is Action.CHANGED else None
                )
            elif node not in seen:
                seen[node] = Touch(node, node.partition("/")[0], None)
            continue
        for node in item.edge[1:]:
            if node not in seen:
                seen[node] = Touch(node, node.partition("/")[0], None)
    return list(seen.values())


_OWN = frozenset({Action.CREATED, Action.CHANGED, Action.DELETED, Action.RESTORED})


def record_points(recorder: Recorder, points: Sequence[MetricPoint]) -> None:
    counts: dict[str, dict[str, int]] = {}
    for p in points:
        keys = counts.setdefault(p.run_id, {})
        keys[p.key] = keys.get(p.key, 0) + 1
    for run, keys in counts.items():
        recorder.logged(run, keys)


async def record_update(
    get_nodes: Callable[[Sequence[str]], Awaitable[list[Node | None]]],
    recorder: Recorder,
    node_id: str,
    attributes: JSONObject | None,
    tags: Sequence[str] | None,
    fields: JSONObject | None,
) -> None:
    """Tells ``recorder`` of an update of the node, read as it is before it."""
    after: JSONObject = {}
    if attributes is not None:
        after["attributes"] = attributes
    if tags is not None:
        after["tags"] = list(dict.fromkeys(tags))
    if fields is not None:
        after["fields"] = fields
    if not after or recorder.made_here(node_id):
        return  # a node made here is an item as it is at the commit
    [before] = await get_nodes([node_id])
    if before is not None:
        recorder.changed(before, after)

"""A read plan: what one GraphQL query operation asks of the store, with GraphQL gone.

The schema's planner makes a plan from a validated operation (fragments, aliases,
``@include``/``@skip`` and ``... on Type`` resolved; arguments checked); each adapter
compiles it into one query whose result is the operation's ``data`` object exactly as
the GraphQL executor would answer it: the same keys in the same order, ids and cursors
encoded, times as the API writes them, enums by name. The helpers at the end of this
module are those encodings, for the adapters to use.

When an answer needs an error (``node(id)`` of an unknown id, a name that several nodes
share), the adapter says the plan was not answered, and the executor answers the
operation instead, errors and all.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

import orjson

from metagate.store.model import Kind, Step, ValueType, parse_time
from metagate.store.port import LineageQuery, ListQuery, NameKey, SortKey

# --------------------------------------------------------------------------------------
# What is selected of a node.
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Const:
    """A value known from the plan: ``__typename`` of a type that is not a node."""

    key: str
    value: Any


@dataclass(frozen=True)
class Base:
    """A field every node has: ``id``, ``kind``, ``name``, ``createdAt``, ``tags``,
    ``attributes``, or ``__typename`` (the node's GraphQL type)."""

    key: str
    field: str


@dataclass(frozen=True)
class Typed:
    """A typed field of the node's kind, kept under ``stored`` in its fields. ``argument``
    is ``metric(name:)``'s name; ``default`` an ENUM's value when there is none."""

    key: str
    stored: str
    type: ValueType
    argument: str | None = None
    default: str | None = None


@dataclass(frozen=True)
class Follow:
    """The newest node at the other end of an ``edge_kind`` edge, or null."""

    key: str
    edge_kind: str
    step: Step
    select: Selection


@dataclass(frozen=True)
class FollowPage:
    """A page of the nodes at the other end of ``edge_kind`` edges, newest first (by
    created time, then id, both descending), after the cursor ``after``."""

    key: str
    edge_kind: str
    step: Step
    first: int
    after: SortKey | None
    page: PageSelection


NodeField = Const | Base | Typed | Follow | FollowPage


@dataclass(frozen=True)
class Selection:
    """What is selected of a node, per kind it may be: each kind's fields in answer
    order. A node of a kind not listed cannot be there (the field's type excludes it)."""

    by_kind: dict[Kind, tuple[NodeField, ...]]


# --------------------------------------------------------------------------------------
# What is selected of a page (a Relay connection).
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cursor:
    key: str


@dataclass(frozen=True)
class NodeAt:
    """A node under ``key``: an edge's node, a lineage entry's node, lineage's root,
    a summary's project."""

    key: str
    select: Selection


@dataclass(frozen=True)
class Edges:
    key: str
    fields: tuple[Const | Cursor | NodeAt, ...]


@dataclass(frozen=True)
class Nodes:
    key: str
    select: Selection


@dataclass(frozen=True)
class PageInfo:
    """``fields``: Const (``__typename``) or (key, one of hasNextPage, hasPreviousPage,
    startCursor, endCursor)."""

    key: str
    fields: tuple[Const | tuple[str, str], ...]


@dataclass(frozen=True)
class PageSelection:
    """``has_previous``: the page was asked for after a cursor (hasPreviousPage)."""

    fields: tuple[Const | Edges | Nodes | PageInfo, ...]
    has_previous: bool


# --------------------------------------------------------------------------------------
# The roots.
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NodeRoot:
    """``node(id)``: the node; not answered when there is none. ``as_of`` (format_time
    text): the node as it was then, its navigation as of then too (``port.LineageQuery``);
    not answered when there was none then."""

    key: str
    id: str
    select: Selection
    as_of: str | None = None


@dataclass(frozen=True)
class NodesRoot:
    """``nodes(ids)``: a list in the order of ``ids``, null where there is no node."""

    key: str
    ids: tuple[str, ...]
    select: Selection


@dataclass(frozen=True)
class NamedRoot:
    """A look-up by name: the node or null; not answered when several nodes match."""

    key: str
    name: NameKey
    select: Selection


@dataclass(frozen=True)
class ListRoot:
    """A list or ``search``: the page ``query`` reads (it holds ``first`` and the cursor),
    with cursors of (sort value, id)."""

    key: str
    query: ListQuery
    page: PageSelection


@dataclass(frozen=True)
class LineageNodes:
    """``lineage.nodes``: ``fields`` are NodeAt (``node``), Const (``__typename``) or
    (key, one of depth, direction)."""

    key: str
    fields: tuple[Const | NodeAt | tuple[str, str], ...]


@dataclass(frozen=True)
class LineageEdges:
    """``lineage.edges``: ``fields`` are Const (``__typename``) or (key, one of id, kind,
    from, to, createdAt)."""

    key: str
    fields: tuple[Const | tuple[str, str], ...]


@dataclass(frozen=True)
class LineageRoot:
    """``lineage``: ``fields`` are the selected parts of its answer in order: NodeAt
    (``root``, the start node), LineageNodes, LineageEdges, Const (``__typename``) and
    (key, "truncated"). The answer is the store's ``lineage(query)``: nodes in walk order
    (depth, kind, created time, id), at most ``query.limit``; edges ordered by kind, from
    id, to id; ``truncated`` when more than the limit were found, or ``depth_cut`` (the
    server's depth limit cut the depth asked for). Not answered when the start node does
    not exist."""

    key: str
    query: LineageQuery
    depth_cut: bool
    fields: tuple[NodeAt | LineageNodes | LineageEdges | Const | tuple[str, str], ...]


@dataclass(frozen=True)
class SummaryRoot:
    """``projectSummary``: ``fields`` are NodeAt (``project``), Const (``__typename``) or
    (key, one of models, runs, datasets, featuresets, deployments), counted as
    ``Store.project_counts`` counts. Not answered when there is no such project."""

    key: str
    project_id: str
    fields: tuple[NodeAt | Const | tuple[str, str], ...]


Root = Const | NodeRoot | NodesRoot | NamedRoot | ListRoot | LineageRoot | SummaryRoot


@dataclass(frozen=True)
class Plan:
    roots: tuple[Root, ...]
    # What an adapter makes of the plan (its statement), kept with it: the planner
    # remembers plans, so a plan asked again is compiled once. Not part of its value.
    memo: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


# --------------------------------------------------------------------------------------
# The encodings of the answer, shared by every adapter and the executor's types.
# --------------------------------------------------------------------------------------


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def encode_id(node_id: str) -> str:
    """The global id of a store id: URL-safe base64 without padding."""
    return _b64(node_id.encode())


def encode_cursor(key: SortKey) -> str:
    return _b64(orjson.dumps(list(key)))


def api_time(stored: str) -> str:
    """A stored time as the API writes a DateTime (ISO-8601 with +00:00, microseconds
    only when there are some)."""
    return parse_time(stored).isoformat()


def typed_value(type_: ValueType, value: Any, default: str | None = None) -> Any:
    """A typed field's answer from its stored value (None when absent; an ENUM's
    ``default``)."""
    if type_ is ValueType.TIME:
        return api_time(value) if isinstance(value, str) else None
    if type_ is ValueType.JSON:
        return {} if value is None else value
    if type_ is ValueType.RUN_STATUS:
        return value or None
    if type_ is ValueType.METRIC:
        return float(value) if value is not None else None
    if type_ is ValueType.ENUM:
        return value or default
    return value

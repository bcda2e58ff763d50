"""The persistence port: one async Protocol that every adapter implements.

Batch-first: every read that takes several keys returns its results in the order of
the keys asked for, one store round trip per call. Writes happen inside
``Store.write()``, one atomic transaction: all of it lands or none of it.
"""

from __future__ import annotations

import asyncio
import enum
import random
import re
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from operator import attrgetter
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from metagate.store.changes import Change, ChangeQuery
from metagate.store.errors import WriteConflict
from metagate.store.model import Direction, Edge, EdgeKindDecl, JSONObject, Kind, Node, NodeKindDecl, Step

T = TypeVar("T")

if TYPE_CHECKING:
    from metagate.store.plan import Plan

Scalar = str | int | float | bool | None
# A position in an ordered list: the sort value and the node id that breaks ties.
SortKey = tuple[Any, str]

METRIC_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.:\-]{0,127}")

# The typed fields that can be looked up through an index.
INDEXED_FIELDS = frozenset({"deploymentTag", "tag"})


@dataclass(frozen=True)
class NameKey:
    kind: Kind
    name: str
    scope: str | None = None  # None: in any scope


@dataclass(frozen=True)
class ServingPeriod:
    """What identifies a serving-perf record: its deployment and its period, both ends
    as ``format_time`` writes them (so that equal instants are equal text)."""

    deployment_id: str
    start: str
    end: str


@dataclass(frozen=True)
class NeighborRequest:
    """The nodes at the other end of ``edge_kind`` edges of ``node_id``, newest first:
    along its live edges, or along its hidden ones when ``from_deleted`` (a deleted
    node's edges are all hidden with it, and show what it was linked to)."""

    node_id: str
    edge_kind: str
    step: Step
    first: int
    after: SortKey | None = None
    from_deleted: bool = False
    as_of: str | None = None  # along the edges of the graph as it was then (see ``LineageQuery``)


@dataclass
class Page:
    items: list[tuple[Node, SortKey]]
    has_next: bool


@dataclass(frozen=True)
class AttributeEquals:
    key: str
    value: Scalar


@dataclass(frozen=True)
class MetricFilter:
    """Bounds on a run's development-performance metric (devperf ``metrics``)."""

    name: str
    lt: float | None = None
    lte: float | None = None
    gt: float | None = None
    gte: float | None = None

    def bounds(self) -> list[tuple[str, float]]:
        """The comparisons given, as (operator, value), in a fixed order."""
        given = (("<", self.lt), ("<=", self.lte), (">", self.gt), (">=", self.gte))
        return [(op, value) for op, value in given if value is not None]


def contains_pattern(text: str) -> str:
    """A LIKE pattern (escape character backslash) matching names that contain ``text``,
    in which the user's own % and _ match only themselves."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


class Op(str, enum.Enum):
    EQ = "eq"
    IN = "in"
    CONTAINS = "contains"  # a substring, case and accents as given
    STARTS_WITH = "startsWith"
    LT = "lt"
    LTE = "lte"
    GT = "gt"
    GTE = "gte"


class Subject(str, enum.Enum):
    """What a ``Compare`` compares."""

    NAME = "name"
    CREATED_AT = "createdAt"
    TAG = "tag"  # any one of the node's tags
    ATTRIBUTE = "attribute"  # the attribute ``key``: a JSON scalar
    TEXT = "text"  # the typed field ``key`` (TEXT, or RUN_STATUS)
    TIME = "time"  # the typed field ``key`` (TIME)
    METRIC = "metric"  # the number ``key`` of the node's ``metrics``
    CHOICE = "choice"  # the ENUM typed field ``key``; ``Compare.default`` when absent or empty


@dataclass(frozen=True)
class Compare:
    """A comparison that holds or not, never unknown: a node without the value compared
    (no name, no such attribute, a metric that is not a number) fails it, and passes
    its NOT. ``value`` is a tuple for IN; times are ``format_time`` text."""

    subject: Subject
    op: Op
    value: Any
    key: str | None = None
    default: str | None = None  # CHOICE: the value of a node without one


@dataclass(frozen=True)
class Related:
    """Some node one ``edge_kind`` step away matches ``where``."""

    edge_kind: str
    step: Step
    where: Where


@dataclass(frozen=True)
class AllOf:
    parts: tuple[Where, ...]


@dataclass(frozen=True)
class AnyOf:
    parts: tuple[Where, ...]


@dataclass(frozen=True)
class NotOf:
    part: Where


Where = AllOf | AnyOf | NotOf | Compare | Related


class OrderField(str, enum.Enum):
    CREATED_AT = "created_at"
    NAME = "name"
    METRIC = "metric"  # runs only: the devperf metric named by ListQuery.order_metric


@dataclass(frozen=True)
class ListQuery:
    kinds: tuple[Kind, ...]
    name: str | None = None
    name_contains: str | None = None
    scope: str | None = None
    tag: str | None = None
    attribute: AttributeEquals | None = None
    created_after: str | None = None  # inclusive
    created_before: str | None = None  # exclusive
    deployment_tag: str | None = None
    metric: MetricFilter | None = None
    where: Where | None = None
    order_by: OrderField = OrderField.CREATED_AT
    order_metric: str | None = None
    descending: bool = True
    first: int = 20
    after: SortKey | None = None
    include_deleted: bool = False  # deleted nodes too (they are left out otherwise)


@dataclass(frozen=True)
class LineageQuery:
    """The walk from ``start``: along live edges only, or, ``include_deleted``, along
    hidden ones too (through and to deleted nodes).

    ``as_of`` (format_time text): the walk over the graph as it was then, its nodes
    answered as they were (``Node.as_of``). At T, a node exists when it was created at
    or before T (and is not purged); it is deleted when one of its deletion spans
    (deleted at or before T, not restored or restored after T) holds T, with that
    span's time and reason; each of its parts (attributes, tags, fields) is the
    ``before`` of the first change mark of the node that changed that part after T,
    or as it is now. An edge exists at T when it is stored and was created at or
    before T (hidden or not), or it was removed after T and created at or before T;
    it is followed when both its ends exist at T and, but with ``include_deleted``,
    are live at T."""

    start: str
    direction: Direction
    depth: int
    limit: int
    kinds: tuple[Kind, ...] | None = None
    include_deleted: bool = False
    as_of: str | None = None


@dataclass
class LineageNode:
    node: Node
    depth: int
    direction: Direction  # UPSTREAM or DOWNSTREAM of the start


@dataclass
class LineageResult:
    nodes: list[LineageNode]
    edges: list[Edge]
    truncated: bool


@dataclass(frozen=True)
class Token:
    """An API token as stored: never the secret itself, only its hash."""

    id: str
    name: str
    role: str
    projects: tuple[str, ...]  # project ids a writer is limited to; () = all
    secret_hash: str
    created_at: str
    revoked_at: str | None = None


@dataclass
class ProjectCounts:
    models: int = 0
    runs: int = 0
    datasets: int = 0
    featuresets: int = 0
    deployments: int = 0
    extra: dict[str, int] = field(default_factory=dict)


class Reader(Protocol):
    """Reads. A deleted node is read only by id, and only when asked for
    (``get_nodes(deleted=True)``): every other read leaves it out, and each of its edges."""

    async def get_nodes(self, ids: Sequence[str], *, deleted: bool = False, as_of: str | None = None) -> list[Node | None]:
        """The nodes of these ids, None where there is none (or, unless ``deleted``, where
        it is deleted); with ``as_of``, as they were then (``LineageQuery``), None where
        one did not exist yet (or, unless ``deleted``, was deleted then)."""
        ...

    async def find_named(self, keys: Sequence[NameKey]) -> list[list[Node]]: ...

    async def find_by_field(self, kind: Kind, name: str, value: str) -> list[Node]: ...

    async def find_serving_perf(self, periods: Sequence[ServingPeriod]) -> list[Node | None]:
        """The serving-perf record of each deployment period, or None."""
        ...

    async def neighbors(self, requests: Sequence[NeighborRequest]) -> list[Page]: ...

    async def answer(self, plan: Plan) -> JSONObject | None:
        """The ``data`` of the operation ``plan`` was made from, read in one query (in a
        write transaction, seeing its writes); None when answering it needs an error (see
        ``store.plan``)."""
        ...

    async def answer_text(self, plan: Plan) -> bytes | None:
        """``answer`` as JSON text, for a response to carry as it is."""
        ...

    async def history(self, queries: Sequence[HistoryQuery]) -> list[list[HistoryEntry]]:
        """Each query's moves, newest first, in the order of the queries."""
        ...

    async def metric_history(self, queries: Sequence[MetricHistoryQuery]) -> list[list[MetricPoint]]:
        """Each query's points, in the order of the queries."""
        ...

    async def declared_kinds(self) -> tuple[list[NodeKindDecl], list[EdgeKindDecl]]:
        """The declared node kinds and edge kinds, each in name order."""
        ...

    async def stored_edges(self, edges: Sequence[Edge]) -> list[str | None]:
        """When each edge (by its kind and ends) was stored, or None where it is not."""
        ...


@dataclass(frozen=True)
class HistoryEntry:
    """One move of something that moves: an alias of a model (topic ``alias:<name>``), the
    version a deployment serves (``servedVersion``), a project's traffic weights
    (``traffic``). ``seq`` counts the subject's moves of that topic from 1; ``value`` is
    what it moved to (JSON), ``reason`` why, ``actor`` the token that moved it."""

    subject: str
    topic: str
    seq: int
    at: str
    value: Any
    reason: str | None = None
    actor: str | None = None


@dataclass(frozen=True)
class HistoryQuery:
    """A subject's moves of a topic, newest (highest ``seq``) first: at most ``first``,
    those before ``before`` (a seq) when given, and only those made at or before ``at``
    (a ``format_time`` text) when given."""

    subject: str
    topic: str
    first: int
    before: int | None = None
    at: str | None = None


@dataclass(frozen=True)
class IdempotencyRecord:
    """What a keyed mutation answered the first time, kept to answer its retries."""

    key: str
    fingerprint: str  # hash of the operation and its input
    result: JSONObject
    created_at: str


@dataclass(frozen=True)
class LineageEvent:
    """An OpenLineage event as it was received, kept whole so that the graph it made can
    be made again from the kept events. ``key`` identifies it (a run's id, its event type
    and time; a dataset's or job's namespace, name and time): one received again is the
    same event."""

    key: str
    kind: str  # RunEvent, DatasetEvent or JobEvent
    event_time: str  # format_time text
    received_at: str
    event: JSONObject


@dataclass(slots=True)
class MetricPoint:
    """One point of a run's metric history. ``id`` grows with each point logged and breaks
    ties: a history is in (step, timestamp, id) order. ``seq`` is its position in that
    order when read (from 0; -1 before it is stored): the stores keep it with the point,
    so that a sampled history reads only the rows it keeps, and a point logged out of
    order moves those after it up (a point's position never goes down). Not frozen: a
    call makes thousands on the writer's thread, and a frozen dataclass's are four
    times as dear to make."""

    run_id: str
    key: str
    value: float
    step: int
    timestamp: str  # format_time text
    id: str
    seq: int = field(default=-1, compare=False)


@dataclass(frozen=True)
class MetricHistoryQuery:
    """A run's points of one key in (step, timestamp, id) order: at most ``first``, those
    after ``after`` (a point's (step, timestamp, id)) when given; newest first with
    ``newest_first``; or, with ``most``, all of them downsampled to at most ``most``
    by row (``most - 1`` even runs' first points, and the last point)."""

    run_id: str
    key: str
    first: int
    after: tuple[int, str, str] | None = None
    newest_first: bool = False
    most: int | None = None
    # The position ``after`` had when read, where the store starts looking (its point is
    # there or further on now); -1: from the start.
    after_seq: int = -1


# A point's place in its history: (step, timestamp, id), made in C (a sort key of
# thousands of points a call).
metric_order: Callable[[MetricPoint], tuple[int, str, str]] = attrgetter("step", "timestamp", "id")


def metric_groups(points: Sequence[MetricPoint]) -> dict[tuple[str, str], list[MetricPoint]]:
    """The points of each history (run, key) they add to, each in history order."""
    groups: dict[tuple[str, str], list[MetricPoint]] = {}
    for p in points:
        groups.setdefault((p.run_id, p.key), []).append(p)
    for group in groups.values():
        group.sort(key=metric_order)
    return groups


History = tuple[str, str]  # (run id, key)
Placed = tuple[list[MetricPoint], int]  # points in history order, and the first one's position


def numbered(placed: Sequence[Placed]) -> Iterator[tuple[MetricPoint, int]]:
    """Each placed point with its position."""
    for points, start in placed:
        yield from zip(points, range(start, start + len(points)))


async def placed_points(
    points: Sequence[MetricPoint],
    lasts: Callable[[list[History]], Awaitable[dict[History, MetricPoint]]],
    after: Callable[[History, MetricPoint], Awaitable[list[MetricPoint]]],
    remove_from: Callable[[History, int], Awaitable[None]],
) -> list[Placed]:
    """What a store writes to add ``points`` (rows to number, with ``numbered``), for both
    adapters: a history's points after its last (``lasts``: each history's last stored
    point) are appended; otherwise its stored points ``after`` the first new one are
    removed from their first position on (``remove_from``) and written again among the
    new ones."""
    groups = metric_groups(points)
    last = await lasts(list(groups))
    placed: list[Placed] = []
    for history, group in groups.items():
        held = last.get(history)
        if held is None or metric_order(group[0]) > metric_order(held):
            placed.append((group, held.seq + 1 if held else 0))
            continue
        tail = await after(history, group[0])
        await remove_from(history, tail[0].seq)
        placed.append((sorted([*tail, *group], key=metric_order), tail[0].seq))
    return placed


def sampled_positions(n: int, most: int) -> list[int]:
    """The positions kept of a history of ``n`` points read as at most ``most`` (the
    first of each of most - 1 even runs of the first n - 1 rows, and the last row;
    resolvers.metrics.downsampled is the reference)."""
    if n <= most:
        return list(range(n))
    if most == 1:
        return [n - 1]
    tiles = most - 1
    return [-(-j * (n - 1) // tiles) for j in range(tiles)] + [n - 1]


class Tx(Reader, Protocol):
    """Reads and writes inside one atomic write; reads see the writes made so far."""

    async def insert_metric_points(self, points: Sequence[MetricPoint]) -> None: ...

    async def insert_kinds(self, node_kinds: Sequence[NodeKindDecl], edge_kinds: Sequence[EdgeKindDecl]) -> None:
        """Records declarations; a name declared before is a Conflict."""
        ...

    async def known_lineage_events(self, keys: Sequence[str]) -> set[str]:
        """Those of ``keys`` whose events are kept."""
        ...

    async def insert_lineage_events(self, events: Sequence[LineageEvent]) -> None: ...

    async def get_idempotency(self, key: str) -> IdempotencyRecord | None: ...

    async def put_idempotency(self, record: IdempotencyRecord) -> None: ...

    async def insert_nodes(self, nodes: Sequence[Node]) -> None: ...

    async def insert_edges(self, edges: Sequence[Edge]) -> None: ...

    async def update_node(
        self,
        node_id: str,
        *,
        attributes: JSONObject | None = None,
        tags: Sequence[str] | None = None,
        fields: JSONObject | None = None,
    ) -> None:
        """Replaces what is given of the node: its attributes, its tags, its typed fields
        (the whole ``fields`` object)."""
        ...

    async def delete_edges(self, edges: Sequence[Edge]) -> None:
        """Removes the edges of these kinds between these ends (their times are not compared)."""
        ...

    async def insert_history(self, entries: Sequence[HistoryEntry]) -> None:
        """Records moves; one that repeats a subject's topic and seq is a Conflict (a
        concurrent move took that number first)."""
        ...

    async def delete_nodes(self, ids: Sequence[str], at: str, reason: str | None) -> None:
        """Marks live nodes deleted at ``at`` and hides every edge they have; their names
        (and unique tags and serving periods) are free for others from now on."""
        ...

    async def restore_nodes(self, ids: Sequence[str]) -> None:
        """Undoes ``delete_nodes`` of these deleted nodes: each edge shows again whose two
        ends are live. A name (or unique value) taken meanwhile is a Conflict."""
        ...


class Store(Reader, Protocol):
    # Whether ``answer`` can answer plans here (ArangoDB before 3.12.1 cannot): when not,
    # a mutation does not write first only to learn that its payload cannot be read.
    compiled_reads: bool

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def ping(self) -> None: ...

    def write(self) -> AbstractAsyncContextManager[Tx]: ...

    async def transact(self, work: Callable[[Tx], Awaitable[T]]) -> T:
        """``work`` in one write transaction: all of it lands or none of it. ``work`` awaits
        nothing but the transaction it is given (the SQLite store runs it on its thread)."""
        ...

    async def list_nodes(self, query: ListQuery) -> Page: ...

    async def lineage(self, query: LineageQuery) -> LineageResult: ...

    async def project_counts(self, project_id: str) -> ProjectCounts: ...

    async def count_all(self) -> dict[str, int]:
        """Nodes per kind and edges per edge kind: what the store holds."""
        ...

    async def changes(self, query: ChangeQuery) -> list[Change]:
        """Change-log entries, as ``query`` asks."""
        ...

    async def count_deleted(self, before: str) -> int:
        """How many nodes were deleted before ``before`` (format_time text)."""
        ...

    async def purge_deleted(self, before: str, most: int) -> list[str]:
        """Removes for good at most ``most`` nodes deleted before ``before``, in one short
        transaction: the nodes, their edges, tags, metric points, moves, change marks,
        and the idempotency records whose answer names them (change-log entries stay).
        Answers the ids removed, oldest deletion first; none when there are none left."""
        ...

    async def lineage_events(self, first: int, after: tuple[str, str] | None = None) -> list[LineageEvent]:
        """Kept OpenLineage events in the order they were received (received_at, then
        key): at most ``first``, those after ``after`` (received_at, key) when given."""
        ...

    async def add_token(self, token: Token) -> None: ...

    async def get_token(self, token_id: str) -> Token | None: ...

    async def list_tokens(self) -> list[Token]: ...

    async def revoke_token(self, token_id: str, at: str) -> bool:
        """Marks the token revoked; False when there is no such live token."""
        ...


async def atomically(store: Store, work: Callable[[Tx], Awaitable[T]], *, attempts: int = 5) -> T:
    """Runs ``work`` in one write transaction; when a concurrent write wins (ArangoDB's
    write-write conflict, or a unique index refusing what a concurrent writer committed
    first, which ``work`` raises as WriteConflict) the whole transaction is rolled back
    and run again, a bounded number of times with a growing, jittered pause."""
    for attempt in range(1, attempts + 1):
        try:
            return await store.transact(work)
        except WriteConflict:
            if attempt == attempts:
                raise
            await asyncio.sleep(random.uniform(0, 0.01 * 2**attempt))
    raise AssertionError("unreachable")

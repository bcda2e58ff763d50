"""The store's vocabulary: node and edge records, kinds, and the lineage direction table.

Every adapter and every layer above the store speaks in these terms. The direction
table (``EDGE_KINDS``) is the single source of truth for lineage direction.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from dataclasses import dataclass, field
from typing import Any

JSONObject = dict[str, Any]


class Kind(str, enum.Enum):
    PROJECT = "project"
    DATASET = "dataset"
    FEATURESET = "featureset"
    RUN = "run"
    MODEL = "model"
    MODELPARAMS = "modelparams"
    DEVPERF = "devperf"
    DEPLOYMENT = "deployment"
    SERVINGPERF = "servingperf"


# Kinds whose nodes carry a name that is unique within a scope.
NAMED_KINDS = frozenset({Kind.PROJECT, Kind.DATASET, Kind.FEATURESET, Kind.RUN, Kind.MODEL, Kind.DEPLOYMENT})


class End(str, enum.Enum):
    FROM = "from"
    TO = "to"


class Step(str, enum.Enum):
    """Which way an edge is followed: OUT goes from -> to, IN goes to -> from."""

    OUT = "out"
    IN = "in"

    def reverse(self) -> Step:
        return Step.IN if self is Step.OUT else Step.OUT


class Direction(str, enum.Enum):
    UPSTREAM = "upstream"
    DOWNSTREAM = "downstream"
    BOTH = "both"


@dataclass(frozen=True)
class EdgeKind:
    name: str
    from_kind: Kind
    to_kind: Kind
    upstream: End | None  # None: grouping only, not lineage

    def step(self, direction: Direction) -> Step:
        """The way to follow this edge to walk in ``direction`` (UPSTREAM or DOWNSTREAM)."""
        if self.upstream is None or direction is Direction.BOTH:
            raise ValueError(f"{self.name} has no single step for {direction.value}")
        up = Step.OUT if self.upstream is End.TO else Step.IN
        return up if direction is Direction.UPSTREAM else up.reverse()


_TABLE = [
    ("featureset_dataset", Kind.FEATURESET, Kind.DATASET, End.TO),
    ("run_dataset", Kind.RUN, Kind.DATASET, End.TO),
    ("run_featureset", Kind.RUN, Kind.FEATURESET, End.TO),
    ("run_modelparams", Kind.RUN, Kind.MODELPARAMS, End.TO),
    ("run_model", Kind.RUN, Kind.MODEL, End.FROM),
    ("run_devperf", Kind.RUN, Kind.DEVPERF, End.FROM),
    ("deployment_model", Kind.DEPLOYMENT, Kind.MODEL, End.TO),
    ("deployment_featureset", Kind.DEPLOYMENT, Kind.FEATURESET, End.TO),
    ("deployment_modelparams", Kind.DEPLOYMENT, Kind.MODELPARAMS, End.TO),
    ("deployment_servingperf", Kind.DEPLOYMENT, Kind.SERVINGPERF, End.FROM),
    ("project_model", Kind.PROJECT, Kind.MODEL, None),
]

EDGE_KINDS: dict[str, EdgeKind] = {row[0]: EdgeKind(*row) for row in _TABLE}
LINEAGE_EDGE_KINDS = tuple(e for e in EDGE_KINDS.values() if e.upstream is not None)


def utcnow() -> str:
    return format_time(dt.datetime.now(dt.UTC))


def format_time(value: dt.datetime) -> str:
    """Fixed-width UTC ISO-8601, so that text order is time order. Raises ValueError for
    a time whose UTC date falls outside years 1 to 9999."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    try:
        v = value.astimezone(dt.UTC)
    except OverflowError as error:
        raise ValueError("the time is outside years 1 to 9999 in UTC") from error
    # Written out: strftime's %Y does not pad years before 1000 on every platform.
    return f"{v.year:04d}-{v.month:02d}-{v.day:02d}T{v.hour:02d}:{v.minute:02d}:{v.second:02d}.{v.microsecond:06d}Z"


def parse_time(value: str) -> dt.datetime:
    return dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)


def new_id(kind: Kind) -> str:
    return f"{kind.value}/{uuid.uuid4().hex}"


def kind_of(node_id: str) -> Kind | None:
    prefix, sep, key = node_id.partition("/")
    if not sep or not key:
        return None
    try:
        return Kind(prefix)
    except ValueError:
        return None


def key_of(node_id: str) -> str:
    return node_id.partition("/")[2]


@dataclass(frozen=True)
class Node:
    """A stored node. ``scope`` is the id of the node whose namespace holds the name
    ('' for kinds named globally); ``fields`` holds the kind's typed fields
    (a run's status and times, a devperf's metrics, ...); ``attributes`` is the
    user's free-form object."""

    id: str
    kind: Kind
    name: str | None
    created_at: str
    scope: str = ""
    tags: tuple[str, ...] = ()
    attributes: JSONObject = field(default_factory=dict)
    fields: JSONObject = field(default_factory=dict)


@dataclass(frozen=True)
class Edge:
    kind: str
    from_id: str
    to_id: str
    created_at: str

    @property
    def id(self) -> str:
        # Arangopipe's edge keys are fromKey-toKey; the logical id keeps that shape.
        return f"{self.kind}/{key_of(self.from_id)}-{key_of(self.to_id)}"

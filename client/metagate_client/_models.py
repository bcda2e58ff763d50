"""What the gateway answers, as typed values."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Asset:
    """A node of the pipeline graph. ``created`` tells whether the call that returned it
    recorded it (False when it was already there: registration is idempotent)."""

    id: str
    kind: str
    name: str | None
    created: bool = False
    tags: tuple[str, ...] = ()
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LoggedRun:
    """A run with the model parameters and development performance logged with it."""

    run: Asset
    model_params: Asset
    dev_perf: Asset
    created: bool


@dataclass(frozen=True)
class LineageEntry:
    asset: Asset
    depth: int  # edges from the root
    direction: str  # "upstream" or "downstream"


@dataclass(frozen=True)
class Lineage:
    root: Asset
    nodes: list[LineageEntry]
    edges: list[tuple[str, str, str]]  # (kind, from id, to id)
    truncated: bool  # the node limit or the gateway's depth limit cut the walk short

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
class Link:
    """A link of a node of a declared kind (``log_custom_node``): along the declared edge
    kind ``edge_kind``, from ``source`` to the node logged, or from it to ``target``."""

    edge_kind: str
    source: Asset | str | None = None
    target: Asset | str | None = None


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


@dataclass(frozen=True)
class ModelVersion:
    """A numbered version of a model: ``number`` 1, 2, 3, ... within its model; ``source``
    where the saved model is; ``aliases`` its model's aliases pointing at it."""

    id: str
    model: str  # the model's global id
    number: int
    source: str | None
    status: str
    run: str | None  # the global id of the run that produced it
    aliases: tuple[str, ...] = ()
    created: bool = False


@dataclass(frozen=True)
class Move:
    """What a move of an alias or of a deployment's served version answers: the version
    number it points at now, the one before (None: none), and whether anything changed."""

    version: int
    previous: int | None
    moved: bool


@dataclass(frozen=True)
class Job:
    """A train or serve job and the frozen snapshot it runs from: ``spec``, ``env``,
    ``image``, ``model_path``, ``hardware`` (Python names: instance_type, cpu, memory_gb,
    gpu, gpu_type, count, extras). ``replay_of``: the id of the job it replays."""

    id: str
    type: str
    status: str
    spec: dict[str, Any]
    env: dict[str, str]
    image: str | None
    model_path: str | None
    hardware: dict[str, Any] | None
    project: str
    model: str | None = None
    deployment: str | None = None
    replay_of: str | None = None
    run: str | None = None


@dataclass(frozen=True)
class LoggedStep:
    """An execution of one phase of a pipeline: ``phase`` (fetch, clean, ..., pipeline for
    a pipeline run), ``state`` (succeeded, failed, running, ...), its times as the gateway
    gives them, what it read (``inputs``) and wrote (``outputs``), and the global id of the
    pipeline run, job or run it belongs to (``parent``)."""

    id: str
    name: str
    phase: str
    state: str
    started_at: str | None
    ended_at: str | None
    inputs: tuple[Asset, ...] = ()
    outputs: tuple[Asset, ...] = ()
    parent: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MetricPoint:
    """One point of a run's metric history: a value at a training step and a time."""

    key: str
    value: float
    step: int
    timestamp: str  # ISO 8601, UTC


@dataclass(frozen=True)
class Logged:
    """One change a subscription gives (``AsyncClient.runs_logged``,
    ``serving_perf_logged``): what it logged, when (``at``, ISO-8601 UTC), and its
    ``cursor``, to resume after it (``after=``)."""

    cursor: str
    at: str
    nodes: tuple[Asset, ...]

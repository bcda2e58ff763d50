"""The data dictionary and the store's vocabulary: node kinds with their typed fields,
edge kinds with their two ends and which end is upstream, the navigation fields that
follow them, and the node and edge records.

Every adapter and every layer above the store speaks in these terms. The direction
table (``EDGE_KINDS``) is the single source of truth for lineage direction, and
``KINDS`` for what each kind holds and where its navigation leads: the GraphQL types,
the compiled SQL and AQL read them from here.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
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
    MODELVERSION = "modelversion"
    JOB = "job"
    STEP = "step"
    # A node of a kind an admin declared (its ``fields["kind"]``; see NodeKindDecl).
    CUSTOM = "custom"


# Kinds whose nodes carry a name that is unique within a scope.
# A model version's name is its number, unique within its model.
NAMED_KINDS = frozenset(
    {Kind.PROJECT, Kind.DATASET, Kind.FEATURESET, Kind.RUN, Kind.MODEL, Kind.DEPLOYMENT, Kind.MODELVERSION, Kind.CUSTOM}
)
# The kinds of the data dictionary itself (a declared kind may not take one's name).
BUILTIN_KINDS = frozenset(k.value for k in Kind if k is not Kind.CUSTOM)


# What a step reads and writes.
STEP_ASSETS = (Kind.DATASET, Kind.FEATURESET, Kind.MODELVERSION, Kind.MODEL, Kind.DEPLOYMENT)


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
        return step_toward_end(self.upstream, direction)


def step_toward_end(upstream: End, direction: Direction) -> Step:
    """The way to follow an edge whose ``upstream`` end is that one to walk in
    ``direction`` (UPSTREAM or DOWNSTREAM): built-in and declared edges alike."""
    up = Step.OUT if upstream is End.TO else Step.IN
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
    # A model version belongs to its model (grouping), was derived from the run that
    # produced it, and a deployment from the version it serves now.
    ("modelversion_model", Kind.MODELVERSION, Kind.MODEL, None),
    ("modelversion_run", Kind.MODELVERSION, Kind.RUN, End.TO),
    ("deployment_modelversion", Kind.DEPLOYMENT, Kind.MODELVERSION, End.TO),
    # A job belongs to its project and trains a model or serves a deployment (grouping);
    # the run a train job produced was derived from it, and a replay from its original.
    ("job_project", Kind.JOB, Kind.PROJECT, None),
    ("job_model", Kind.JOB, Kind.MODEL, None),
    ("job_deployment", Kind.JOB, Kind.DEPLOYMENT, None),
    ("job_replayof", Kind.JOB, Kind.JOB, End.TO),
    ("run_job", Kind.RUN, Kind.JOB, End.TO),
    # A step (an execution of one phase of a pipeline) was derived from what it read and
    # what it wrote from it: raw data -> clean -> cleaned data -> prepare -> ... -> deploy.
    *((f"step_input_{kind.value}", Kind.STEP, kind, End.TO) for kind in STEP_ASSETS),
    *((f"step_output_{kind.value}", Kind.STEP, kind, End.FROM) for kind in STEP_ASSETS),
    # A step belongs to the job or run it ran in, or to the pipeline run (a step of phase
    # PIPELINE) that groups it.
    ("step_job", Kind.STEP, Kind.JOB, None),
    ("step_run", Kind.STEP, Kind.RUN, None),
    ("step_parent", Kind.STEP, Kind.STEP, None),
]

EDGE_KINDS: dict[str, EdgeKind] = {row[0]: EdgeKind(*row) for row in _TABLE}
LINEAGE_EDGE_KINDS = tuple(e for e in EDGE_KINDS.values() if e.upstream is not None)


@dataclass(frozen=True)
class WalkStep:
    """One way a lineage walk moves: along ``edge`` in ``direction``, from a node of kind
    ``near`` to one of kind ``far``."""

    edge: EdgeKind
    direction: Direction
    step: Step

    @property
    def near(self) -> Kind:
        return self.edge.from_kind if self.step is Step.OUT else self.edge.to_kind

    @property
    def far(self) -> Kind:
        return self.edge.to_kind if self.step is Step.OUT else self.edge.from_kind


# Every step of a walk upstream or downstream, in a fixed order (compiled walks number them).
WALK_STEPS = tuple(WalkStep(e, d, e.step(d)) for e in LINEAGE_EDGE_KINDS for d in (Direction.UPSTREAM, Direction.DOWNSTREAM))


# User-defined kinds (Arangopipe's schema extension) are data, not entries of the tables
# above: an admin declares node kinds, and edge kinds between any two kinds with their
# upstream end (NodeKindDecl, EdgeKindDecl). A node of a declared kind is a Kind.CUSTOM
# node whose fields["kind"] and scope are the kind's name (a name is unique within its
# kind); an edge of a declared kind has the logical kind CUSTOM_EDGE_PREFIX + its name.
# A walk follows declared lineage edges by four steps of its own (CUSTOM_WALKS), read
# with the declarations from the store in the walk's own query: the direction of each
# is its declaration's.
CUSTOM_EDGE_PREFIX = "custom:"
DECLARED_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")


@dataclass(frozen=True)
class NodeKindDecl:
    name: str
    description: str | None
    schema: JSONObject | None  # a JSON Schema its nodes' attributes must meet
    created_at: str


@dataclass(frozen=True)
class EdgeKindDecl:
    name: str
    from_kind: str  # a built-in kind's value, or a declared kind's name
    to_kind: str
    upstream: End | None  # None: grouping only, not lineage
    description: str | None
    created_at: str

    @property
    def edge_kind(self) -> str:
        return CUSTOM_EDGE_PREFIX + self.name


def stored_kind(kind: str) -> Kind:
    """The kind a declared edge's end is stored as: a built-in kind, or CUSTOM."""
    return Kind(kind) if kind in BUILTIN_KINDS else Kind.CUSTOM


@dataclass(frozen=True)
class CustomWalk:
    """A walk's step along declared edges: those whose upstream end is ``upstream``,
    followed in ``step``, go ``direction``."""

    direction: Direction
    step: Step
    upstream: End


CUSTOM_WALKS = (
    CustomWalk(Direction.UPSTREAM, Step.OUT, End.TO),
    CustomWalk(Direction.UPSTREAM, Step.IN, End.FROM),
    CustomWalk(Direction.DOWNSTREAM, Step.OUT, End.FROM),
    CustomWalk(Direction.DOWNSTREAM, Step.IN, End.TO),
)


def steps_toward(wanted: Iterable[Kind] | None) -> tuple[WalkStep, ...]:
    """The steps a walk that answers only nodes of the ``wanted`` kinds (None: every kind)
    needs: those to a kind from which a wanted one can be reached in the step's direction.
    The others lead only to nodes the answer leaves out (a run's dev perf, looking for
    deployments downstream). This knows the built-in edge kinds only: where declared
    lineage edges exist, a walk with a kinds filter takes every step (each adapter
    tests that in the walk's query)."""
    if wanted is None:
        return WALK_STEPS
    kinds = frozenset(wanted)
    leads = {d: set(kinds) for d in (Direction.UPSTREAM, Direction.DOWNSTREAM)}
    grown = True
    while grown:
        grown = False
        for s in WALK_STEPS:
            if s.far in leads[s.direction] and s.near not in leads[s.direction]:
                leads[s.direction].add(s.near)
                grown = True
    return tuple(s for s in WALK_STEPS if s.far in leads[s.direction])


class ValueType(str, enum.Enum):
    """How a typed field is stored in a node's ``fields`` and answered."""

    TEXT = "text"
    TIME = "time"  # format_time text, answered as a DateTime
    JSON = "json"  # an object, ``{}`` when absent
    RUN_STATUS = "run_status"  # RUNNING, COMPLETED or FAILED; null when absent or empty
    METRIC = "metric"  # ``metric(name)``: one number of the ``metrics`` object, as a Float
    INT = "int"  # an integer, as stored
    ENUM = "enum"  # one of the field's ``choices``; its ``default`` when absent or empty


@dataclass(frozen=True)
class TypedField:
    """A field of a kind's own, kept under ``key`` in the node's ``fields``. An ENUM
    field names its GraphQL enum (``enum``), its values (``choices``) and the value a
    node without it answers (``default``; None: null)."""

    graphql: str
    key: str
    type: ValueType
    description: str | None = None
    enum: str | None = None
    choices: tuple[str, ...] = ()
    default: str | None = None


@dataclass(frozen=True)
class Navigation:
    """A field that follows an edge kind one step from a node: to one neighbour (the
    newest, or null) or to a page of them, newest first."""

    graphql: str
    edge_kind: str
    step: Step
    many: bool
    description: str | None = None

    @property
    def edge(self) -> EdgeKind:
        return EDGE_KINDS[self.edge_kind]

    @property
    def target(self) -> Kind:
        edge = self.edge
        return edge.to_kind if self.step is Step.OUT else edge.from_kind


@dataclass(frozen=True)
class KindSpec:
    kind: Kind
    graphql: str  # the GraphQL type's name
    fields: tuple[TypedField, ...] = ()
    navigation: tuple[Navigation, ...] = ()

    def navigation_field(self, graphql: str) -> Navigation | None:
        return next((n for n in self.navigation if n.graphql == graphql), None)

    def typed_field(self, graphql: str) -> TypedField | None:
        return next((f for f in self.fields if f.graphql == graphql), None)


def _one(graphql: str, edge_kind: str, step: Step, description: str | None = None) -> Navigation:
    return Navigation(graphql, edge_kind, step, False, description)


def _many(graphql: str, edge_kind: str, step: Step, description: str | None = None) -> Navigation:
    return Navigation(graphql, edge_kind, step, True, description)


_METRICS = TypedField("metrics", "metrics", ValueType.JSON)

# The lifecycles of the information hub's parts. Each is stored as ``status`` but named
# apart in GraphQL (a project's stage, a deployment's lifecycle, a version's registration,
# a job's state): fields of one name on several node types must have one type, or a
# selection of ``... on Run { status } ... on Job { status }`` could not be merged.
PROJECT_STATUSES = ("DEVELOPMENT", "STAGING", "PRODUCTION", "ARCHIVED")
DEPLOYMENT_STATUSES = ("LIVE", "RETIRED")
# MLflow's model version statuses.
VERSION_STATUSES = ("PENDING_REGISTRATION", "FAILED_REGISTRATION", "READY")
# A version is in the model zoo (LISTED) while it is production-ready: its model's
# champion, or served by a live deployment.
ZOO_LISTINGS = ("LISTED", "UNLISTED")
JOB_TYPES = ("TRAIN", "SERVE")
JOB_STATUSES = ("PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED")
# The phases of a pipeline a step executes (Apache Liminal's), OTHER for any other, and
# PIPELINE for a pipeline run that groups steps.
STEP_PHASES = (
    "FETCH",
    "CLEAN",
    "PREPARE",
    "TRAIN",
    "EVALUATE",
    "VALIDATE",
    "DEPLOY",
    "INFERENCE",
    "CONSUME",
    "OTHER",
    "PIPELINE",
)
# The GraphQL names of what a step reads and writes, by kind.
STEP_ASSET_FIELDS = {
    Kind.DATASET: "Datasets",
    Kind.FEATURESET: "Featuresets",
    Kind.MODELVERSION: "ModelVersions",
    Kind.MODEL: "Models",
    Kind.DEPLOYMENT: "Deployments",
}


def _words(camel: str) -> str:
    """``ModelVersions`` -> ``model versions``."""
    return re.sub(r"(?<!^)([A-Z])", r" \1", camel).lower()


def _enum(graphql: str, key: str, enum: str, choices: tuple[str, ...], default: str | None, description: str) -> TypedField:
    return TypedField(graphql, key, ValueType.ENUM, description, enum, choices, default)


# Every kind, in the order of the schema's types; fields and navigation in field order.
KINDS: dict[Kind, KindSpec] = {
    spec.kind: spec
    for spec in (
        KindSpec(
            Kind.PROJECT,
            "Project",
            fields=(_enum("stage", "status", "ProjectStage", PROJECT_STATUSES, "DEVELOPMENT", "Where it is in its lifecycle."),),
            navigation=(
                _many("models", "project_model", Step.OUT),
                _many("jobs", "job_project", Step.IN, "Its train and serve jobs, newest first."),
            ),
        ),
        KindSpec(
            Kind.DATASET,
            "Dataset",
            navigation=(
                _many("featuresets", "featureset_dataset", Step.IN, "Featuresets derived from this dataset."),
                _many("runs", "run_dataset", Step.IN, "Runs that used this dataset."),
            ),
        ),
        KindSpec(
            Kind.FEATURESET,
            "Featureset",
            navigation=(
                _one("dataset", "featureset_dataset", Step.OUT, "The dataset this featureset was derived from."),
                _many("runs", "run_featureset", Step.IN),
                _many("deployments", "deployment_featureset", Step.IN),
            ),
        ),
        KindSpec(
            Kind.RUN,
            "Run",
            fields=(
                TypedField("status", "status", ValueType.RUN_STATUS),
                TypedField("startTime", "startTime", ValueType.TIME),
                TypedField("endTime", "endTime", ValueType.TIME),
                TypedField("tag", "tag", ValueType.TEXT),
                TypedField("deploymentTag", "deploymentTag", ValueType.TEXT, "The tag a deployment is registered from."),
            ),
            navigation=(
                _one("dataset", "run_dataset", Step.OUT),
                _one("featureset", "run_featureset", Step.OUT),
                _one("modelParams", "run_modelparams", Step.OUT),
                _one("devPerf", "run_devperf", Step.OUT),
                _one("model", "run_model", Step.OUT, "The model this run trained."),
                _many("modelVersions", "modelversion_run", Step.IN, "The model versions registered from this run."),
                _one("job", "run_job", Step.OUT, "The train job that produced this run."),
            ),
        ),
        KindSpec(
            Kind.MODEL,
            "Model",
            fields=(
                TypedField("task", "task", ValueType.TEXT, "What the model does (classification, ranking, ...)."),
                TypedField("framework", "framework", ValueType.TEXT, "What it is built with (scikit-learn, PyTorch, ...)."),
                TypedField("lastVersion", "lastVersion", ValueType.INT, "The highest version number given; null before any."),
            ),
            navigation=(
                _one("project", "project_model", Step.IN),
                _many("runs", "run_model", Step.IN, "Runs that trained this model, newest first."),
                _many("deployments", "deployment_model", Step.IN),
                _many("versions", "modelversion_model", Step.IN, "The model's registered versions, newest first."),
                _many("jobs", "job_model", Step.IN, "The jobs that train it."),
            ),
        ),
        KindSpec(
            Kind.MODELPARAMS,
            "ModelParams",
            fields=(TypedField("params", "params", ValueType.JSON, "The hyper-parameters, as logged."),),
            navigation=(
                _one("run", "run_modelparams", Step.IN),
                _many("deployments", "deployment_modelparams", Step.IN),
            ),
        ),
        KindSpec(
            Kind.DEVPERF,
            "DevPerf",
            fields=(
                TypedField("metrics", "metrics", ValueType.JSON, "Development-performance metrics: name -> number."),
                TypedField("metric", "metrics", ValueType.METRIC),
            ),
            navigation=(_one("run", "run_devperf", Step.IN),),
        ),
        KindSpec(
            Kind.DEPLOYMENT,
            "Deployment",
            fields=(
                TypedField("tag", "tag", ValueType.TEXT),
                _enum("lifecycle", "status", "DeploymentLifecycle", DEPLOYMENT_STATUSES, "LIVE", "RETIRED serves no more."),
            ),
            navigation=(
                _one("model", "deployment_model", Step.OUT),
                _one("modelVersion", "deployment_modelversion", Step.OUT, "The version it serves (retired: it served last)."),
                _many("jobs", "job_deployment", Step.IN, "The jobs that serve it."),
                _one("featureset", "deployment_featureset", Step.OUT),
                _one("modelParams", "deployment_modelparams", Step.OUT),
                _many("servingPerf", "deployment_servingperf", Step.OUT, "Serving-performance records, newest first."),
            ),
        ),
        KindSpec(
            Kind.SERVINGPERF,
            "ServingPerf",
            fields=(
                TypedField("periodStart", "periodStart", ValueType.TIME),
                TypedField("periodEnd", "periodEnd", ValueType.TIME),
                _METRICS,
            ),
            navigation=(_one("deployment", "deployment_servingperf", Step.IN),),
        ),
        KindSpec(
            Kind.MODELVERSION,
            "ModelVersion",
            fields=(
                TypedField("version", "version", ValueType.INT, "1, 2, 3, ... within its model; never given twice."),
                _enum("registration", "status", "ModelVersionStatus", VERSION_STATUSES, "READY", "Whether it is ready to serve."),
                TypedField("source", "source", ValueType.TEXT, "Where the saved model is (a URI)."),
                TypedField("description", "description", ValueType.TEXT),
                TypedField("signature", "signature", ValueType.JSON, "Its inputs and outputs, as the pipeline gave them."),
                _enum("zoo", "zoo", "ZooListing", ZOO_LISTINGS, "UNLISTED", "LISTED in the model zoo: champion, or served live."),
            ),
            navigation=(
                _one("model", "modelversion_model", Step.OUT),
                _one("run", "modelversion_run", Step.OUT, "The run that produced this version."),
                _many("deployments", "deployment_modelversion", Step.IN, "Deployments serving it (retired: served it last)."),
            ),
        ),
        KindSpec(
            Kind.JOB,
            "Job",
            fields=(
                _enum("type", "type", "JobType", JOB_TYPES, None, "TRAIN produces a run; SERVE serves a deployment."),
                _enum("state", "status", "JobState", JOB_STATUSES, "PENDING", "SUCCEEDED, FAILED, CANCELLED are final."),
                TypedField("spec", "spec", ValueType.JSON, "What the executor runs, as the pipeline gave it."),
                TypedField("env", "env", ValueType.JSON, "Environment variables; a secret's is a secret:<name> reference."),
                TypedField("image", "image", ValueType.TEXT, "The container image."),
                TypedField("modelPath", "modelPath", ValueType.TEXT, "Where the saved model is read or written."),
                TypedField("startedAt", "startedAt", ValueType.TIME),
                TypedField("endedAt", "endedAt", ValueType.TIME),
            ),
            navigation=(
                _one("project", "job_project", Step.OUT),
                _one("model", "job_model", Step.OUT, "The model a TRAIN job trains."),
                _one("deployment", "job_deployment", Step.OUT, "The deployment a SERVE job serves."),
                _one("replayOf", "job_replayof", Step.OUT, "The job this one replays."),
                _many("replays", "job_replayof", Step.IN, "The jobs that replay this one."),
                _one("run", "run_job", Step.IN, "The run a TRAIN job produced."),
            ),
        ),
        KindSpec(
            Kind.STEP,
            "Step",
            fields=(
                _enum("phase", "phase", "StepPhase", STEP_PHASES, "OTHER", "The phase of the pipeline it executed."),
                _enum("state", "status", "JobState", JOB_STATUSES, "SUCCEEDED", "SUCCEEDED, FAILED, CANCELLED are final."),
                TypedField("startedAt", "startedAt", ValueType.TIME),
                TypedField("endedAt", "endedAt", ValueType.TIME),
            ),
            navigation=(
                *(
                    _many(f"{way}{plural}", f"step_{way}_{kind.value}", Step.OUT, f"The {_words(plural)} it {verb}.")
                    for way, verb in (("input", "read"), ("output", "wrote"))
                    for kind, plural in STEP_ASSET_FIELDS.items()
                ),
                _one("job", "step_job", Step.OUT, "The job it ran in."),
                _one("run", "step_run", Step.OUT, "The run it ran in."),
                _one("parent", "step_parent", Step.OUT, "The pipeline run it belongs to."),
                _many("steps", "step_parent", Step.IN, "The steps of this pipeline run, newest first."),
            ),
        ),
    )
}
# What reads and writes an asset, and the steps of a job, a run: each at the end of its kind's fields.
_STEP_LINKS = {
    **{
        kind: (
            _many("producedBy", f"step_output_{kind.value}", Step.IN, "The steps that wrote it, newest first."),
            _many("consumedBy", f"step_input_{kind.value}", Step.IN, "The steps that read it, newest first."),
        )
        for kind in STEP_ASSETS
    },
    Kind.JOB: (_many("steps", "step_job", Step.IN, "The steps that ran in this job, newest first."),),
    Kind.RUN: (_many("steps", "step_run", Step.IN, "The steps that ran in this run, newest first."),),
}
KINDS.update({kind: replace(KINDS[kind], navigation=KINDS[kind].navigation + links) for kind, links in _STEP_LINKS.items()})
KINDS[Kind.CUSTOM] = KindSpec(
    Kind.CUSTOM,
    "CustomNode",
    fields=(TypedField("customKind", "kind", ValueType.TEXT, "The user-defined kind it is of (its kind is CUSTOM)."),),
)
KIND_OF_TYPE: dict[str, Kind] = {spec.graphql: kind for kind, spec in KINDS.items()}


def sparse_step(edge: EdgeKind) -> Step | None:
    """The way along ``edge`` on which a node has few edges of its kind: the step of a
    navigation field to one neighbour (a run has one model, a model thousands of runs).
    None when both of its ends navigate it to many."""
    for spec in (KINDS[edge.from_kind], KINDS[edge.to_kind]):
        for n in spec.navigation:
            if n.edge_kind == edge.name and not n.many and spec.kind is (edge.from_kind if n.step is Step.OUT else edge.to_kind):
                return n.step
    return None


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
    """A stored time (format_time's form) as a datetime in UTC; ValueError otherwise."""
    if len(value) == 27 and value[10] == "T" and value[-1] == "Z":
        # fromisoformat is C, strptime Python: ten times faster, for a page of 500 points.
        return dt.datetime.fromisoformat(value[:-1]).replace(tzinfo=dt.UTC)
    return dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)


_last_stamp = 0
_stamp_lock = threading.Lock()


def new_id(kind: Kind) -> str:
    """A new node's id: its kind and an RFC 9562 version 7 UUID, whose first 48 bits are
    the Unix time in milliseconds and next 12 (after the version) the fraction of that
    millisecond (section 6.2, method 3), made strictly increasing within the process;
    the last 62 bits are random. Time-ordered ids go in at the end of the stores' indexes
    on ids, not at random places in them (bench/notes.md)."""
    global _last_stamp
    now = time.time_ns()
    stamp = (now // 1_000_000) << 12 | (now % 1_000_000) * 4096 // 1_000_000
    with _stamp_lock:
        stamp = _last_stamp = max(stamp, _last_stamp + 1)
    value = (stamp >> 12) << 80 | 0x7 << 76 | (stamp & 0xFFF) << 64 | 0b10 << 62 | secrets.randbits(62)
    return f"{kind.value}/{value:032x}"


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
    user's free-form object. A deleted node (``deleteNode``) has ``deleted_at`` (and the
    reason given): it keeps its parts, its name and its edges, hidden from every read
    but ``node(id)`` until it is restored or purged."""

    id: str
    kind: Kind
    name: str | None
    created_at: str
    scope: str = ""
    tags: tuple[str, ...] = ()
    attributes: JSONObject = field(default_factory=dict)
    fields: JSONObject = field(default_factory=dict)
    deleted_at: str | None = None
    deleted_reason: str | None = None
    # Read as of this time (format_time text): its parts and deletion are as they were
    # then, and so are the nodes its navigation leads to. None: as it is now.
    as_of: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Edge:
    kind: str
    from_id: str
    to_id: str
    created_at: str
    # A declared edge's upstream end, where the store needs it to write the edge (the
    # ArangoDB layout keeps lineage edges apart from grouping ones); not part of its identity.
    upstream: End | None = field(default=None, compare=False)

    @property
    def id(self) -> str:
        # Arangopipe's edge keys are fromKey-toKey; the logical id keeps that shape.
        return f"{self.kind}/{key_of(self.from_id)}-{key_of(self.to_id)}"


def client_vocabulary() -> str:
    """The text of ``metagate_client/_vocabulary.py``: the data dictionary's names as the
    client (its own distribution, without this package) knows them. ``make vocabulary``
    writes it; a test holds the file to this."""

    def strings(values: Iterable[str]) -> str:
        quoted = [f'"{v}"' for v in values]
        return f"({quoted[0]},)" if len(quoted) == 1 else f"({', '.join(quoted)})"

    def rows(values: Iterable[str]) -> str:
        return "".join(f"    {v},\n" for v in values)

    def navigation(kind: str, fields: list[str]) -> str:
        line = f'    "{kind}": {strings(fields)},\n'
        if len(line) <= 120:
            return line
        # As ruff formats a tuple too long for one line: one item a line.
        return f'    "{kind}": (\n' + "".join(f'        "{f}",\n' for f in fields) + "    ),\n"

    return (
        '"""The gateway\'s data dictionary, as the client knows it: written by `make vocabulary`\n'
        "from the gateway's store/model.py (do not edit); the gateway's tests hold it to the\n"
        'dictionary."""\n\n'
        "KINDS = (\n" + rows(f'"{k.value}"' for k in KINDS) + ")\n"
        "EDGE_KINDS = (\n" + rows(f'"{e}"' for e in EDGE_KINDS) + ")\n"
        "TYPES = {\n" + rows(f'"{k.value}": "{spec.graphql}"' for k, spec in KINDS.items()) + "}\n"
        "NAVIGATION = {\n"
        + "".join(navigation(k.value, [n.graphql for n in spec.navigation]) for k, spec in KINDS.items())
        + "}\n"
    )


def ui_vocabulary() -> str:
    """The text of ``ui/src/vocabulary.ts``: what the web UI needs of the data dictionary
    beyond the schema (which end of each lineage edge is upstream, to lay a picture out
    from what was derived from to what was derived). ``make vocabulary`` writes it; a
    test holds the file to this."""
    rows = "".join(
        f"  {name.upper()}: {'null' if e.upstream is None else chr(34) + e.upstream.value + chr(34)},\n"
        for name, e in EDGE_KINDS.items()
    )
    types = "".join(f'  {k.name}: "{spec.graphql}",\n' for k, spec in KINDS.items())
    return (
        "// The gateway's data dictionary, as the web UI knows it: written by `make vocabulary`\n"
        "// from the gateway's store/model.py (do not edit); the gateway's tests hold it to the\n"
        "// dictionary.\n\n"
        "// Each edge kind's upstream end: the node the other was derived from (null: grouping only).\n"
        'export const UPSTREAM_END: Record<string, "from" | "to" | null> = {\n' + rows + "};\n\n"
        "// Each kind's GraphQL type.\n"
        "export const TYPES: Record<string, string> = {\n" + types + "};\n"
    )

"""OpenLineage ingestion: the events that Airflow, Spark, dbt, Flink and any other
OpenLineage producer emit (spec 2-0-2: RunEvent, DatasetEvent, JobEvent), checked and
made into the pipeline graph.

- A run (``run.runId``) of a job (``job.namespace``, ``job.name``) is a step, named as
  its job, whose id is made from the run's id: every event of one run lands on one
  step. Its state follows the event types (START and RUNNING: RUNNING; COMPLETE:
  SUCCEEDED; FAIL: FAILED; ABORT: CANCELLED; OTHER changes nothing), never going back
  from an end, whatever order the events come in; START's time is its start, an end's
  its end. A job whose jobType facet says DAG, or a run that is some run's parent, is a
  pipeline run (phase PIPELINE); the rest are of phase OTHER.
- A dataset (``namespace``, ``name``) is the dataset named ``namespace/name``,
  registered when new. A run's inputs are what its step read, its outputs what it
  wrote; a dataset both read and written by one run is read (lineage stays acyclic).
- Facets are kept under the ``openlineage`` attribute of the step (run and job facets,
  and each dataset's input or output facets) and of the dataset (dataset facets): a
  facet replaces the earlier one of its name, and one marked ``_deleted`` removes it.
- A ``parent`` run facet puts the step in its parent's pipeline run, which is recorded
  (RUNNING, named as the parent job) if its own events have not come yet.
- Every event is kept whole, in the same transaction, so that the graph can be made
  again from the kept events; one received again (the same run id, event type and
  event time; for a dataset or job event its namespace, name and time) changes nothing.

A batch is one transaction: every event of it, or on any error none.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from metagate.resolvers import validate
from metagate.resolvers.registry import _edge, _existing, _insert_new, _node, _updated
from metagate.resolvers.steps import FINAL
from metagate.store.errors import BadUserInput, Conflict
from metagate.store.model import Edge, JSONObject, Kind, Node, Step, format_time, utcnow
from metagate.store.port import LineageEvent, NeighborRequest, Store, Tx, atomically

EVENT_TYPES = ("START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER")
STATES = {"START": "RUNNING", "RUNNING": "RUNNING", "COMPLETE": "SUCCEEDED", "FAIL": "FAILED", "ABORT": "CANCELLED"}
KINDS = ("RunEvent", "DatasetEvent", "JobEvent")
MAX_EVENTS = 1000  # events of one batch
MAX_DATASETS = 1000  # inputs and outputs of one event
MAX_TEXT = 2048  # a producer's or schema URL's length
ATTRIBUTE = "openlineage"


@dataclass(frozen=True)
class DatasetRef:
    namespace: str
    name: str
    facets: JSONObject
    run_facets: JSONObject  # inputFacets or outputFacets
    full_name: str  # the Metagate dataset's: namespace/name


def _dataset_ref(namespace: str, name: str, facets: JSONObject, run_facets: JSONObject, at: str) -> DatasetRef:
    return DatasetRef(namespace, name, facets, run_facets, validate.name(f"{namespace}/{name}", field=f"{at}.name"))


@dataclass(frozen=True)
class Parent:
    run_id: uuid.UUID
    namespace: str
    name: str


@dataclass(frozen=True)
class Event:
    kind: str
    key: str
    event_time: str
    raw: JSONObject
    producer: str
    event_type: str | None = None
    run_id: uuid.UUID | None = None
    namespace: str = ""  # the job's or the dataset's
    name: str = ""
    run_facets: JSONObject = field(default_factory=dict)
    job_facets: JSONObject = field(default_factory=dict)
    inputs: tuple[DatasetRef, ...] = ()
    outputs: tuple[DatasetRef, ...] = ()
    dataset: DatasetRef | None = None
    parent: Parent | None = None


@dataclass
class Ingested:
    accepted: int
    duplicates: int
    steps: list[str]  # the ids of the steps the events landed on, in order, once each


# -- checking ------------------------------------------------------------------------------


def _bad(at: str, message: str) -> BadUserInput:
    return BadUserInput(f"{at}: {message}" if at else message, field=at or None)


def _object(value: Any, at: str, *, required: bool = True) -> JSONObject:
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise _bad(at, "required, a JSON object" if value is None else "must be a JSON object")
    return value


def _text(value: Any, at: str, *, most: int = validate.MAX_NAME) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _bad(at, "required, a non-empty string" if value is None else "must be a non-empty string")
    if len(value) > most:
        raise _bad(at, f"is longer than {most} characters")
    if "\x00" in value:
        raise _bad(at, "must not contain NUL characters")
    return value


def _uuid(value: Any, at: str) -> uuid.UUID:
    if not isinstance(value, str):
        raise _bad(at, "required, a UUID" if value is None else "must be a UUID string")
    try:
        return uuid.UUID(value)
    except ValueError:
        raise _bad(at, f"{value[:80]!r} is not a UUID") from None


def _time(value: Any, at: str) -> str:
    if not isinstance(value, str):
        raise _bad(at, "required, an ISO 8601 date-time" if value is None else "must be an ISO 8601 date-time string")
    try:
        parsed = dt.datetime.fromisoformat(value)
        return format_time(parsed)  # a time without a zone is taken as UTC
    except ValueError:
        raise _bad(at, f"{value[:80]!r} is not an ISO 8601 date-time") from None


def _facets(value: Any, at: str) -> JSONObject:
    facets = _object(value, at, required=False)
    for name, facet in facets.items():
        if not isinstance(facet, dict):
            raise _bad(f"{at}.{name}", "a facet must be a JSON object")
    return facets


def _datasets(value: Any, at: str, run_facets_key: str | None) -> tuple[DatasetRef, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _bad(at, "must be an array of datasets")
    if len(value) > MAX_DATASETS:
        raise _bad(at, f"at most {MAX_DATASETS} datasets")
    out = []
    for i, item in enumerate(value):
        here = f"{at}[{i}]"
        item = _object(item, here)
        out.append(
            _dataset_ref(
                _text(item.get("namespace"), f"{here}.namespace"),
                _text(item.get("name"), f"{here}.name"),
                _facets(item.get("facets"), f"{here}.facets"),
                _facets(item.get(run_facets_key), f"{here}.{run_facets_key}") if run_facets_key else {},
                here,
            )
        )
    return tuple(out)


def _kind(event: JSONObject, schema_url: str) -> str:
    """Which event it is: the one its schemaURL names (``#/$defs/RunEvent``, or an older
    ``#/definitions/RunEvent``), else the one its parts make it (a run: a RunEvent; a job
    alone: a JobEvent; a dataset: a DatasetEvent)."""
    named = schema_url.rpartition("/")[2]
    if named in KINDS and ("#/$defs/" in schema_url or "#/definitions/" in schema_url):
        return named
    if "run" in event:
        return "RunEvent"
    if "job" in event:
        return "JobEvent"
    if "dataset" in event:
        return "DatasetEvent"
    raise _bad("run", "required: an event has a run (RunEvent), a job (JobEvent) or a dataset (DatasetEvent)")


def _key(*parts: str) -> str:
    return hashlib.sha256(orjson.dumps(parts)).hexdigest()


def check_event(value: Any, at: str = "") -> Event:
    """One event, checked: a BAD_USER_INPUT naming the field (``run.runId``,
    ``inputs[2].name``; in a batch ``[3].run.runId``) for the first thing wrong."""
    p = f"{at}." if at else ""
    event = _object(value, at or "event")
    event_time = _time(event.get("eventTime"), f"{p}eventTime")
    producer = _text(event.get("producer"), f"{p}producer", most=MAX_TEXT)
    schema_url = _text(event.get("schemaURL"), f"{p}schemaURL", most=MAX_TEXT)
    kind = _kind(event, schema_url)
    if kind == "DatasetEvent":
        d = _object(event.get("dataset"), f"{p}dataset")
        ref = _dataset_ref(
            _text(d.get("namespace"), f"{p}dataset.namespace"),
            _text(d.get("name"), f"{p}dataset.name"),
            _facets(d.get("facets"), f"{p}dataset.facets"),
            {},
            f"{p}dataset",
        )
        return Event(kind, _key(kind, ref.namespace, ref.name, event_time), event_time, event, producer, dataset=ref)
    job = _object(event.get("job"), f"{p}job")
    namespace = _text(job.get("namespace"), f"{p}job.namespace")
    name = validate.name(_text(job.get("name"), f"{p}job.name"), field=f"{p}job.name")
    job_facets = _facets(job.get("facets"), f"{p}job.facets")
    inputs = _datasets(event.get("inputs"), f"{p}inputs", "inputFacets" if kind == "RunEvent" else None)
    outputs = _datasets(event.get("outputs"), f"{p}outputs", "outputFacets" if kind == "RunEvent" else None)
    if kind == "JobEvent":
        return Event(
            kind,
            _key(kind, namespace, name, event_time),
            event_time,
            event,
            producer,
            namespace=namespace,
            name=name,
            job_facets=job_facets,
            inputs=inputs,
            outputs=outputs,
        )
    run = _object(event.get("run"), f"{p}run")
    run_id = _uuid(run.get("runId"), f"{p}run.runId")
    event_type = event.get("eventType")
    if event_type is not None and event_type not in EVENT_TYPES:
        raise _bad(f"{p}eventType", f"must be one of {', '.join(EVENT_TYPES)}")
    run_facets = _facets(run.get("facets"), f"{p}run.facets")
    parent = None
    if (given := run_facets.get("parent")) is not None and not given.get("_deleted"):
        at_parent = f"{p}run.facets.parent"
        parent_job = _object(given.get("job"), f"{at_parent}.job")
        parent = Parent(
            _uuid(_object(given.get("run"), f"{at_parent}.run").get("runId"), f"{at_parent}.run.runId"),
            _text(parent_job.get("namespace"), f"{at_parent}.job.namespace"),
            validate.name(_text(parent_job.get("name"), f"{at_parent}.job.name"), field=f"{at_parent}.job.name"),
        )
        if parent.run_id == run_id:
            raise _bad(f"{at_parent}.run.runId", "a run is not its own parent")
    return Event(
        kind,
        _key(kind, str(run_id), event_type or "", event_time),
        event_time,
        event,
        producer,
        event_type=event_type,
        run_id=run_id,
        namespace=namespace,
        name=name,
        run_facets=run_facets,
        job_facets=job_facets,
        inputs=inputs,
        outputs=outputs,
        parent=parent,
    )


def check_body(body: Any) -> list[Event]:
    """One event, or a batch: a JSON array of events."""
    if isinstance(body, list):
        if not body:
            raise _bad("", "an empty batch: give at least one event")
        if len(body) > MAX_EVENTS:
            raise _bad("", f"at most {MAX_EVENTS} events in one batch")
        return [check_event(item, f"[{i}]") for i, item in enumerate(body)]
    return [check_event(body)]


# -- applying ------------------------------------------------------------------------------


def _merged(held: Any, given: JSONObject) -> JSONObject:
    """Facets: each given one replaces the held one of its name; one marked ``_deleted``
    removes it."""
    out = dict(held) if isinstance(held, dict) else {}
    for name, facet in given.items():
        if facet.get("_deleted") is True:
            out.pop(name, None)
        else:
            out[name] = facet
    return out


def step_id(run_id: uuid.UUID) -> str:
    return f"{Kind.STEP.value}/{run_id.hex}"


def _with(attributes: JSONObject, at: str, **parts: Any) -> JSONObject:
    checked = validate.json_object({**attributes, ATTRIBUTE: {**(attributes.get(ATTRIBUTE) or {}), **parts}}, field=at)
    return checked


class _Batch:
    """One transaction's ingestion: the nodes it read or wrote, read once."""

    def __init__(self, tx: Tx) -> None:
        self.tx = tx
        self.nodes: dict[str, Node] = {}
        self.linked: dict[str, dict[str, str]] = {}  # step id -> asset id -> "input" | "output"
        self.parents: dict[str, str | None] = {}
        self.datasets: dict[str, str] = {}  # full name -> id

    async def node(self, node_id: str) -> Node | None:
        if node_id not in self.nodes:
            [found] = await self.tx.get_nodes([node_id], deleted=True)
            if found is None:
                return None
            if found.deleted_at is not None:
                # Its id is the event's (a run's): a step deleted is not made again.
                raise Conflict(f"the {found.kind.value} this event is about was deleted: restore it to record more of it")
            self.nodes[node_id] = found
        return self.nodes[node_id]

    async def save(self, before: Node | None, after: Node) -> Node:
        if before is None:
            await _insert_new(self.tx, [after])
            self.nodes[after.id] = after
            return after
        if (before.fields, before.attributes) != (after.fields, after.attributes):
            after = await _updated(self.tx, before, fields=after.fields, attributes=after.attributes)
            self.nodes[after.id] = after
        return after

    async def dataset(self, ref: DatasetRef, at: str) -> Node:
        if ref.full_name in self.datasets:
            held: Node | None = self.nodes[self.datasets[ref.full_name]]
        else:
            held = await _existing(self.tx, Kind.DATASET, ref.full_name, "")
            if held is not None:
                self.nodes[held.id] = held
                self.datasets[ref.full_name] = held.id
        attributes = held.attributes if held is not None else {}
        mine = attributes.get(ATTRIBUTE) or {}
        facets = _merged(mine.get("facets"), ref.facets)
        if held is not None and ATTRIBUTE in attributes and mine.get("facets") == facets:
            return held
        new = _with(attributes, f"{at}.facets", namespace=ref.namespace, name=ref.name, facets=facets)
        if held is None:
            made = await self.save(None, _node(Kind.DATASET, ref.full_name, attributes=new))
            self.datasets[ref.full_name] = made.id
            return made
        return await self.save(held, replace(held, attributes=new))

    async def links(self, step: Node) -> dict[str, str]:
        if step.id not in self.linked:
            ways = [(way, k) for way in ("input", "output") for k in (Kind.DATASET,)]
            pages = await self.tx.neighbors(
                [NeighborRequest(step.id, f"step_{way}_{k.value}", Step.OUT, MAX_DATASETS * 10) for way, k in ways]
            )
            self.linked[step.id] = {n.id: way for (way, _), page in zip(ways, pages) for n, _ in page.items}
        return self.linked[step.id]

    async def parent_of(self, step: Node) -> str | None:
        if step.id not in self.parents:
            [page] = await self.tx.neighbors([NeighborRequest(step.id, "step_parent", Step.OUT, 1)])
            self.parents[step.id] = page.items[0][0].id if page.items else None
        return self.parents[step.id]


def _step(held: Node | None, event: Event, node_id: str, name: str, namespace: str, at: str) -> Node:
    """The step as the event leaves it (not saved yet)."""
    if held is None:
        now = utcnow()
        held = Node(
            id=node_id, kind=Kind.STEP, name=name, created_at=now, scope=node_id, fields={"phase": "OTHER", "status": "RUNNING"}
        )
    fields = dict(held.fields)
    state = STATES.get(event.event_type or "")
    current = fields.get("status") or "RUNNING"
    if state is not None and current not in FINAL:
        fields["status"] = state
    if event.event_type == "START" or (event.event_type == "RUNNING" and not fields.get("startedAt")):
        start = fields.get("startedAt")
        fields["startedAt"] = min(start, event.event_time) if isinstance(start, str) else event.event_time
    if state in FINAL and (fields.get("status") == state or not fields.get("endedAt")):
        fields["endedAt"] = event.event_time
    job_type = event.job_facets.get("jobType")
    if isinstance(job_type, dict) and str(job_type.get("jobType", "")).upper() == "DAG":
        fields["phase"] = "PIPELINE"
    mine = held.attributes.get(ATTRIBUTE) or {}
    inputs = dict(mine.get("inputFacets") or {})
    outputs = dict(mine.get("outputFacets") or {})
    for ref in event.inputs:
        if ref.run_facets:
            inputs[ref.full_name] = _merged(inputs.get(ref.full_name), ref.run_facets)
    for ref in event.outputs:
        if ref.run_facets:
            outputs[ref.full_name] = _merged(outputs.get(ref.full_name), ref.run_facets)
    parts = {
        "namespace": namespace,
        "job": name,
        "runId": node_id.partition("/")[2],
        "producer": event.producer,
        "runFacets": _merged(mine.get("runFacets"), event.run_facets),
        "jobFacets": _merged(mine.get("jobFacets"), event.job_facets),
    }
    if inputs:
        parts["inputFacets"] = inputs
    if outputs:
        parts["outputFacets"] = outputs
    return replace(held, fields=fields, attributes=_with(held.attributes, f"{at}run.facets", **parts))


async def _run_event(batch: _Batch, event: Event, at: str) -> str:
    assert event.run_id is not None
    node_id = step_id(event.run_id)
    held = await batch.node(node_id)
    if held is not None and held.kind is not Kind.STEP:
        raise _bad(f"{at}run.runId", "this run id names another node")
    step = await batch.save(held, _step(held, event, node_id, event.name, event.namespace, at))
    edges: list[Edge] = []
    linked = await batch.links(step)
    read = {ref.full_name for ref in event.inputs}
    for way, refs in (("input", event.inputs), ("output", event.outputs)):
        for i, ref in enumerate(refs):
            if way == "output" and ref.full_name in read:
                continue  # read and written by the run: read
            dataset = await batch.dataset(ref, f"{at}{way}s[{i}]")
            if dataset.id not in linked:
                linked[dataset.id] = way
                edges.append(_edge(f"step_{way}_dataset", step, dataset))
    if event.parent is not None:
        parent_id = step_id(event.parent.run_id)
        parent = await batch.node(parent_id)
        if parent is not None and parent.kind is not Kind.STEP:
            raise _bad(f"{at}run.facets.parent.run.runId", "this run id names another node")
        if parent is None or parent.fields.get("phase") != "PIPELINE":
            placeholder = Event("RunEvent", "", event.event_time, {}, event.producer, event_type=None)
            made = parent or _step(None, placeholder, parent_id, event.parent.name, event.parent.namespace, at)
            parent = await batch.save(parent, replace(made, fields={**made.fields, "phase": "PIPELINE"}))
        if await batch.parent_of(step) is None:
            batch.parents[step.id] = parent.id
            edges.append(_edge("step_parent", step, parent))
    await batch.tx.insert_edges(edges)
    return step.id


async def _apply(batch: _Batch, event: Event, at: str) -> str | None:
    if event.kind == "RunEvent":
        return await _run_event(batch, event, at)
    if event.kind == "DatasetEvent":
        assert event.dataset is not None
        await batch.dataset(event.dataset, f"{at}dataset")
        return None
    # A JobEvent: the job's datasets, as a job's design says (no run: no step).
    for way, refs in (("inputs", event.inputs), ("outputs", event.outputs)):
        for i, ref in enumerate(refs):
            await batch.dataset(ref, f"{at}{way}[{i}]")
    return None


async def ingest(store: Store, events: Sequence[Event], *, batch: bool, received_at: Sequence[str] | None = None) -> Ingested:
    """Makes the events into the graph in one transaction and keeps them; an event
    already kept (or repeated in the batch) changes nothing. ``received_at``: when each
    was received (a rebuild's events keep theirs), one per event. When not given, the
    events are kept as received now, each a microsecond after the one before it, so
    that the order they are kept in (received, then key) is the order they were applied
    in: a later event's facets replace an earlier one's."""

    async def work(tx: Tx) -> Ingested:
        known = await tx.known_lineage_events([e.key for e in events])
        now = dt.datetime.now(dt.UTC)
        state = _Batch(tx)
        kept: list[LineageEvent] = []
        steps: dict[str, None] = {}
        duplicates = 0
        for i, event in enumerate(events):
            if event.key in known:
                duplicates += 1
                continue
            known.add(event.key)
            landed = await _apply(state, event, f"[{i}]." if batch else "")
            if landed is not None:
                steps[landed] = None
            received = received_at[i] if received_at is not None else format_time(now + dt.timedelta(microseconds=len(kept)))
            kept.append(LineageEvent(event.key, event.kind, event.event_time, received, event.raw))
        await tx.insert_lineage_events(kept)
        return Ingested(len(kept), duplicates, list(steps))

    return await atomically(store, work)


@dataclass
class Rebuilt:
    events: int  # the kept events read
    applied: int  # those the target did not hold yet


async def rebuild(source: Store, target: Store, *, page: int = 500) -> Rebuilt:
    """Makes the graph the events ``source`` keeps into ``target``, as ingesting them
    made it: in the order they were received, a page of them per transaction, each
    keeping when it was received. Events ``target`` holds already change nothing, so a
    rebuild stopped part way can be run again."""
    read = applied = 0
    after: tuple[str, str] | None = None
    while True:
        kept = await source.lineage_events(page, after)
        if not kept:
            return Rebuilt(read, applied)
        events = [check_event(e.event) for e in kept]
        done = await ingest(target, events, batch=True, received_at=[e.received_at for e in kept])
        read, applied = read + len(kept), applied + done.accepted
        after = (kept[-1].received_at, kept[-1].key)

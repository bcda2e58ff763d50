"""What the mutations do. Each function is one atomic write through ``Store.write()``:
it checks everything first, inside the transaction, and raises a coded error before
anything is written; the store rolls back whatever an error interrupts.

Registration is idempotent: a name that exists in its scope returns the existing node
with ``created=False`` and changes nothing. Logging is idempotent and never lossy: a run
name its model has, or a serving period its deployment has, answers the stored node with
``created=False`` when everything the new input states agrees with it, and is a CONFLICT
naming each field that differs otherwise.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson

from metagate.resolvers import validate
from metagate.resolvers.authz import check_project
from metagate.store.errors import BadUserInput, Conflict, NotFound, WriteConflict
from metagate.store.model import Edge, JSONObject, Kind, Node, Step, new_id, utcnow
from metagate.store.port import HistoryEntry, IdempotencyRecord, NameKey, NeighborRequest, ServingPeriod, Store, Tx, atomically

RUN_STATUSES = ("RUNNING", "COMPLETED", "FAILED")
T = TypeVar("T")
Then = Callable[[Tx, Any], Awaitable[None]]
"""Called with the transaction and a write's result, inside the write's transaction after
the write: what the mutation answers is read there (``schema.compiled``)."""


@dataclass
class Registered:
    node: Node
    created: bool


@dataclass
class RunLogged:
    run: Node
    model_params: Node | None
    dev_perf: Node | None
    created: bool


@dataclass
class Moved:
    """What a move answers: the node moved (a model, a deployment), the version it points
    at now, the one before (None: none), and whether anything changed."""

    node: Node
    version: Node | None
    previous: Node | None
    moved: bool


def _inputs(arguments: dict[str, Any]) -> dict[str, Any]:
    """A mutation's input, as its idempotency fingerprint sees it."""
    return {k: v for k, v in arguments.items() if k not in ("store", "idempotency_key", "allowed_projects", "then")}


def _fingerprint(operation: str, inputs: dict[str, Any]) -> str:
    payload = orjson.dumps([operation, inputs], option=orjson.OPT_SORT_KEYS, default=str)
    return hashlib.sha256(payload).hexdigest()


def _encode(result: Any) -> JSONObject:
    if isinstance(result, Registered):
        return {"type": "registered", "ids": [result.node.id], "created": result.created}
    if isinstance(result, RunLogged):
        ids = [result.run.id, *(n.id if n else None for n in (result.model_params, result.dev_perf))]
        return {"type": "run", "ids": ids, "created": result.created}
    if isinstance(result, list):
        return {"type": "runs", "runs": [_encode(r) for r in result]}
    if isinstance(result, Moved):
        ids = [result.node.id, *(n.id if n else None for n in (result.version, result.previous))]
        return {"type": "moved", "ids": ids, "moved": result.moved}
    return {"type": "node", "ids": [result.id]}


async def _decode(tx: Tx, record: JSONObject, by_id: dict[str, Node] | None = None) -> Any:
    if record["type"] == "runs":
        ids = [i for r in record["runs"] for i in r["ids"] if i is not None]
        nodes = {n.id: n for n in await tx.get_nodes(ids) if n is not None}
        return [await _decode(tx, r, nodes) for r in record["runs"]]
    if by_id is None:
        fetched = await tx.get_nodes([i for i in record["ids"] if i is not None])
        by_id = {n.id: n for n in fetched if n is not None}
    found = [by_id.get(i) if i else None for i in record["ids"]]
    if found[0] is None:
        raise Conflict("the node this idempotency key created no longer exists", field="idempotencyKey")
    if record["type"] == "registered":
        return Registered(found[0], record["created"])
    if record["type"] == "run":
        return RunLogged(found[0], found[1], found[2], record["created"])
    if record["type"] == "moved":
        return Moved(found[0], found[1], found[2], record["moved"])
    return found[0]


async def _commit(
    store: Store,
    idempotency_key: str | None,
    operation: str,
    inputs: dict[str, Any],
    work: Callable[[Tx], Awaitable[T]],
    then: Then | None = None,
    replayed: Callable[[Any], T] | None = None,
) -> T:
    """One atomic write. With an idempotency key, the ids the first call wrote (and its
    `created`) are kept in the same transaction; a retry with the key writes nothing and
    answers with those nodes as they are now (``replayed`` makes a record of an older
    form the result ``work`` gives). ``then`` runs last in the transaction."""

    async def keyed(tx: Tx) -> T:
        if idempotency_key is None:
            result = await work(tx)
        elif (record := await tx.get_idempotency(idempotency_key)) is not None:
            if record.fingerprint != fingerprint:
                raise Conflict("idempotencyKey was already used for a different request", field="idempotencyKey")
            result = await _decode(tx, record.result)
            if replayed is not None:
                result = replayed(result)
        else:
            result = await work(tx)
            await tx.put_idempotency(IdempotencyRecord(idempotency_key, fingerprint, _encode(result), utcnow()))
        if then is not None:
            await then(tx, result)
        return result

    fingerprint = _fingerprint(operation, inputs) if idempotency_key is not None else ""
    return await atomically(store, keyed)


async def require(tx: Tx, node_id: str, kind: Kind, *, field: str) -> Node:
    [node] = await tx.get_nodes([node_id])
    if node is None or node.kind is not kind:
        raise NotFound(f"{field}: no {kind.value} with this id", field=field)
    return node


async def _existing(tx: Tx, kind: Kind, name: str, scope: str) -> Node | None:
    [found] = await tx.find_named([NameKey(kind, name, scope)])
    return found[0] if found else None


async def _one_neighbor(tx: Tx, node_id: str, edge_kind: str, step: Step) -> Node | None:
    [page] = await tx.neighbors([NeighborRequest(node_id, edge_kind, step, 1)])
    return page.items[0][0] if page.items else None


def _node(
    kind: Kind,
    name: str | None,
    *,
    scope: str = "",
    tags: tuple[str, ...] = (),
    attributes: JSONObject | None = None,
    fields: JSONObject | None = None,
) -> Node:
    return Node(
        id=new_id(kind),
        kind=kind,
        name=name,
        created_at=utcnow(),
        scope=scope,
        tags=tags,
        attributes=attributes or {},
        fields={k: v for k, v in (fields or {}).items() if v is not None},
    )


def _edge(kind: str, from_node: Node, to_node: Node) -> Edge:
    return Edge(kind=kind, from_id=from_node.id, to_id=to_node.id, created_at=utcnow())


async def _register_named(
    store: Store,
    kind: Kind,
    name: str,
    tags: Any,
    attributes: Any,
    idempotency_key: str | None,
    inputs: dict[str, Any],
    then: Then | None,
) -> Registered:
    name = validate.name(name)
    tags = validate.tags(tags)
    attributes = validate.json_object(attributes)

    async def work(tx: Tx) -> Registered:
        existing = await _existing(tx, kind, name, "")
        if existing is not None:
            return Registered(existing, created=False)
        node = _node(kind, name, tags=tags, attributes=attributes)
        await _insert_new(tx, [node])
        return Registered(node, created=True)

    return await _commit(store, idempotency_key, kind.value, inputs, work, then)


async def create_project(
    store: Store,
    *,
    name: str,
    tags: Any = None,
    attributes: Any = None,
    idempotency_key: str | None = None,
    then: Then | None = None,
) -> Registered:
    inputs = _inputs(locals())
    return await _register_named(store, Kind.PROJECT, name, tags, attributes, idempotency_key, inputs, then)


async def register_dataset(
    store: Store,
    *,
    name: str,
    tags: Any = None,
    attributes: Any = None,
    idempotency_key: str | None = None,
    then: Then | None = None,
) -> Registered:
    inputs = _inputs(locals())
    return await _register_named(store, Kind.DATASET, name, tags, attributes, idempotency_key, inputs, then)


async def register_featureset(
    store: Store,
    *,
    name: str,
    dataset_id: str,
    tags: Any = None,
    attributes: Any = None,
    idempotency_key: str | None = None,
    then: Then | None = None,
) -> Registered:
    inputs = _inputs(locals())
    name = validate.name(name)
    tags = validate.tags(tags)
    attributes = validate.json_object(attributes)

    async def work(tx: Tx) -> Registered:
        dataset = await require(tx, dataset_id, Kind.DATASET, field="datasetId")
        existing = await _existing(tx, Kind.FEATURESET, name, "")
        if existing is not None:
            source = await _one_neighbor(tx, existing.id, "featureset_dataset", Step.OUT)
            if source is None or source.id != dataset.id:
                raise Conflict(
                    f"featureset {name!r} exists and was derived from another dataset",
                    field="name",
                )
            return Registered(existing, created=False)
        node = _node(Kind.FEATURESET, name, tags=tags, attributes=attributes)
        await _insert_new(tx, [node])
        await tx.insert_edges([_edge("featureset_dataset", node, dataset)])
        return Registered(node, created=True)

    return await _commit(store, idempotency_key, "register_featureset", inputs, work, then)


async def register_model(
    store: Store,
    *,
    name: str,
    project_id: str,
    tags: Any = None,
    attributes: Any = None,
    variation: JSONObject | None = None,
    allowed_projects: frozenset[str] | None = None,
    idempotency_key: str | None = None,
    then: Then | None = None,
) -> Registered:
    """``variation``: the model's task, framework and default hardware, checked (``hub.
    variation``). A name the project has answers that model (created False); what the
    input states of its variation must agree with it (a CONFLICT names what differs:
    ``updateModel`` changes it)."""
    inputs = _inputs(locals())
    name = validate.name(name)
    tags = validate.tags(tags)
    attributes = validate.json_object(attributes)
    stated = variation or {}

    async def work(tx: Tx) -> Registered:
        project = await require(tx, project_id, Kind.PROJECT, field="projectId")
        await check_project(tx, allowed_projects, project)
        existing = await _existing(tx, Kind.MODEL, name, project.id)
        if existing is not None:
            differ = [k for k, v in stated.items() if not _same_json(v, existing.fields.get(k))]
            if differ:
                raise Conflict(
                    f"model {name!r} exists with another {', '.join(differ)}: change it with updateModel",
                    field=differ[0],
                    fields=differ,
                )
            return Registered(existing, created=False)
        node = _node(Kind.MODEL, name, scope=project.id, tags=tags, attributes=attributes, fields=stated)
        await _insert_new(tx, [node])
        await tx.insert_edges([_edge("project_model", project, node)])
        return Registered(node, created=True)

    return await _commit(store, idempotency_key, "register_model", inputs, work, then)


@dataclass(frozen=True)
class RunSpec:
    """One validated run to log; ``at`` prefixes the fields its errors name. None is a
    field the input left out (or null): a new run takes its default, a re-log of a
    stored run does not compare it."""

    model_id: str
    dataset_id: str
    featureset_id: str
    params: JSONObject | None
    metrics: dict[str, float] | None
    name: str | None
    tag: str | None
    deployment_tag: str | None
    status: str | None
    start: str | None
    end: str | None
    tags: tuple[str, ...] | None
    attributes: JSONObject | None
    at: str = ""


def run_spec(
    *,
    model_id: str,
    dataset_id: str,
    featureset_id: str,
    params: Any = None,
    metrics: Any = None,
    name: str | None = None,
    tag: str | None = None,
    deployment_tag: str | None = None,
    status: str | None = None,
    start_time: dt.datetime | None = None,
    end_time: dt.datetime | None = None,
    tags: Any = None,
    attributes: Any = None,
    at: str = "",
) -> RunSpec:
    """Checks one run's input (everything that needs no store) and normalises it."""
    name = validate.optional_name(name, field=f"{at}name")
    tag = validate.optional_name(tag, field=f"{at}tag")
    deployment_tag = validate.optional_name(deployment_tag, field=f"{at}deploymentTag")
    checked_params = None if params is None else validate.json_object(params, field=f"{at}params")
    checked_metrics = None if metrics is None else validate.metrics(metrics, field=f"{at}metrics")
    checked_tags = None if tags is None else validate.tags(tags, field=f"{at}tags")
    checked_attributes = None if attributes is None else validate.json_object(attributes, field=f"{at}attributes")
    if status is not None and status not in RUN_STATUSES:
        raise BadUserInput(f"status must be one of {', '.join(RUN_STATUSES)}", field=f"{at}status")
    start = validate.time(start_time, field=f"{at}startTime")
    end = validate.time(end_time, field=f"{at}endTime")
    if start and end and end < start:
        raise BadUserInput("endTime is before startTime", field=f"{at}endTime")
    return RunSpec(
        model_id,
        dataset_id,
        featureset_id,
        checked_params,
        checked_metrics,
        name,
        tag,
        deployment_tag,
        status,
        start,
        end,
        checked_tags,
        checked_attributes,
        at,
    )


@dataclass(frozen=True)
class _Run:
    """A run as a re-log is compared with it: stored, or logged earlier in the batch."""

    run: Node
    model_params: Node | None
    dev_perf: Node | None
    dataset_id: str | None
    featureset_id: str | None

    def logged(self, *, created: bool) -> RunLogged:
        return RunLogged(self.run, self.model_params, self.dev_perf, created)


def _same_json(a: Any, b: Any) -> bool:
    """Equality of JSON values: numbers by value (1 == 1.0), but true is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_json(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same_json(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def _differing_keys(prefix: str, stated: JSONObject, stored: Any) -> list[str]:
    """``prefix.key`` for each key whose values differ, a key on one side only included."""
    held = stored if isinstance(stored, dict) else {}
    return [
        f"{prefix}.{k}"
        for k in sorted(stated.keys() | held.keys())
        if k not in stated or k not in held or not _same_json(stated[k], held[k])
    ]


def _instant(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _tags_and_attributes(tags: tuple[str, ...] | None, attributes: JSONObject | None, node: Node) -> list[str]:
    differ = []
    if tags is not None and set(tags) != set(node.tags):
        differ.append("tags")
    if attributes is not None and not _same_json(attributes, node.attributes):
        differ.append("attributes")
    return differ


def _run_differences(spec: RunSpec, held: _Run) -> list[str]:
    """The fields the re-log states whose values the run holds otherwise, in the order of
    the input's fields."""
    differ: list[str] = []
    if spec.params is not None:
        differ += _differing_keys("params", spec.params, held.model_params.fields.get("params") if held.model_params else {})
    if spec.metrics is not None:
        differ += _differing_keys("metrics", spec.metrics, held.dev_perf.fields.get("metrics") if held.dev_perf else {})
    if spec.dataset_id != held.dataset_id:
        differ.append("datasetId")
    if spec.featureset_id != held.featureset_id:
        differ.append("featuresetId")
    fields = held.run.fields
    for field, value in (("deploymentTag", spec.deployment_tag), ("tag", spec.tag), ("status", spec.status)):
        if value is not None and fields.get(field) != value:
            differ.append(field)
    for field, value in (("startTime", spec.start), ("endTime", spec.end)):
        if value is not None and _instant(value) != _instant(fields.get(field)):
            differ.append(field)
    return differ + _tags_and_attributes(spec.tags, spec.attributes, held.run)


def _same_run(spec: RunSpec, held: _Run) -> None:
    differ = [f"{spec.at}{field}" for field in _run_differences(spec, held)]
    if differ:
        raise Conflict(
            f"run {orjson.dumps(spec.name).decode()} of this model was logged with other content:"
            f" {', '.join(differ)} differ; log it under a new name",
            field=differ[0],
            fields=differ,
        )


async def _insert_new(tx: Tx, nodes: Sequence[Node]) -> None:
    """Inserts nodes whose names (or serving periods) this transaction found free: every
    registration and log does, so that a racing writer never turns a re-run into an error."""
    await found_free(tx.insert_nodes(nodes))


async def found_free(write: Awaitable[None]) -> None:
    """Runs a write of what this transaction's own look-up found missing (a node by its
    name, a declaration, an edge). A unique index refusing it means a concurrent writer
    committed the same in between: WriteConflict, so that the transaction runs again and
    answers as if it had come second (what is stored, or CONFLICT)."""
    try:
        await write
    except WriteConflict:
        raise
    except Conflict as error:
        raise WriteConflict("a concurrent write recorded the same first; try again") from error


async def _log_runs(tx: Tx, specs: list[RunSpec], allowed_projects: frozenset[str] | None) -> list[RunLogged]:
    """Writes runs in one transaction with a fixed number of store calls, however many
    runs there are: one read of the referenced nodes, one of existing names, one of the
    existing runs' params, perf, dataset and featureset, one insert of nodes and one of
    edges (plus one read per deployment tag). A name that exists, or that repeats within
    the batch, answers the run it names when everything the later input states agrees,
    and is a CONFLICT naming what differs otherwise."""
    wanted = list(dict.fromkeys(i for s in specs for i in (s.model_id, s.dataset_id, s.featureset_id)))
    found = dict(zip(wanted, await tx.get_nodes(wanted)))

    def referenced(spec: RunSpec, node_id: str, kind: Kind, field: str) -> Node:
        node = found.get(node_id)
        if node is None or node.kind is not kind:
            raise NotFound(f"{spec.at}{field}: no {kind.value} with this id", field=f"{spec.at}{field}")
        return node

    models = [referenced(s, s.model_id, Kind.MODEL, "modelId") for s in specs]
    for model in {model.id: model for model in models}.values():
        await check_project(tx, allowed_projects, model)
    refs = [
        (
            model,
            referenced(s, s.dataset_id, Kind.DATASET, "datasetId"),
            referenced(s, s.featureset_id, Kind.FEATURESET, "featuresetId"),
        )
        for s, model in zip(specs, models)
    ]

    first_of: dict[NameKey, int] = {}  # each name's first run in the batch
    repeat_of: dict[int, int] = {}  # a later run of a name -> its first
    for i, s in enumerate(specs):
        if s.name is not None:
            key = NameKey(Kind.RUN, s.name, refs[i][0].id)
            if key in first_of:
                repeat_of[i] = first_of[key]
            else:
                first_of[key] = i
    held: dict[int, _Run] = {}
    if first_of:
        matches = await tx.find_named(list(first_of))
        existing = {first_of[key]: match[0] for key, match in zip(first_of, matches) if match}
        order = list(existing)
        kinds = ("run_modelparams", "run_devperf", "run_dataset", "run_featureset")
        pages = (
            await tx.neighbors([NeighborRequest(existing[i].id, k, Step.OUT, 1) for i in order for k in kinds]) if order else []
        )
        for n, i in enumerate(order):
            mp, dp, ds, fs = (p.items[0][0] if p.items else None for p in pages[len(kinds) * n : len(kinds) * (n + 1)])
            held[i] = _Run(existing[i], mp, dp, ds.id if ds else None, fs.id if fs else None)

    logged: dict[int, RunLogged] = {}
    new: list[int] = []
    nodes: list[Node] = []
    edges: list[Edge] = []
    for i, spec in enumerate(specs):
        first = repeat_of.get(i, i)
        if first in held:
            _same_run(spec, held[first])
            logged[i] = held[first].logged(created=False)
            continue
        model, dataset, featureset = refs[i]
        run_id = new_id(Kind.RUN)
        run = Node(
            id=run_id,
            kind=Kind.RUN,
            name=spec.name or run_id.partition("/")[2],
            created_at=utcnow(),
            scope=model.id,
            tags=spec.tags or (),
            attributes=spec.attributes or {},
            fields={
                k: v
                for k, v in {
                    "status": spec.status or "COMPLETED",
                    "startTime": spec.start,
                    "endTime": spec.end,
                    "tag": spec.tag,
                    "deploymentTag": spec.deployment_tag,
                }.items()
                if v is not None
            },
        )
        model_params = _node(Kind.MODELPARAMS, None, scope=run.id, fields={"params": spec.params or {}})
        dev_perf = _node(Kind.DEVPERF, None, scope=run.id, fields={"metrics": spec.metrics or {}})
        nodes += [run, model_params, dev_perf]
        edges += [
            _edge("run_model", run, model),
            _edge("run_dataset", run, dataset),
            _edge("run_featureset", run, featureset),
            _edge("run_modelparams", run, model_params),
            _edge("run_devperf", run, dev_perf),
        ]
        new.append(i)
        # A later run of the same name in this batch is compared with this one.
        held[i] = _Run(run, model_params, dev_perf, dataset.id, featureset.id)
        logged[i] = held[i].logged(created=True)

    deployment_tags = [specs[i] for i in new if specs[i].deployment_tag is not None]
    if len({s.deployment_tag for s in deployment_tags}) < len(deployment_tags):
        raise Conflict("a deploymentTag repeats within the batch", field="runs")
    for spec in deployment_tags:
        if await tx.find_by_field(Kind.RUN, "deploymentTag", spec.deployment_tag or ""):
            raise Conflict(
                f"{spec.at}deploymentTag {spec.deployment_tag!r} is already carried by another run",
                field=f"{spec.at}deploymentTag",
            )
    await _insert_new(tx, nodes)
    await tx.insert_edges(edges)
    return [logged[i] for i in range(len(specs))]


def _fingerprinted(run: dict[str, Any]) -> dict[str, Any]:
    # A status left out was COMPLETED in the fingerprint before re-logs compared only
    # what is stated: a key kept from then still matches its retry.
    return {**run, "status": run.get("status") or "COMPLETED"}


async def log_run(
    store: Store,
    *,
    allowed_projects: frozenset[str] | None = None,
    idempotency_key: str | None = None,
    then: Then | None = None,
    **run: Any,
) -> RunLogged:
    """Logs one run with its params and perf; ``run`` takes ``run_spec``'s arguments. A
    name its model has answers that run (created False) when everything ``run`` states
    agrees with it, and is a CONFLICT naming what differs otherwise."""
    spec = run_spec(**run)

    async def work(tx: Tx) -> RunLogged:
        [logged] = await _log_runs(tx, [spec], allowed_projects)
        return logged

    return await _commit(store, idempotency_key, "log_run", _fingerprinted(run), work, then)


async def log_runs(
    store: Store,
    runs: list[dict[str, Any]],
    *,
    max_runs: int,
    allowed_projects: frozenset[str] | None = None,
    idempotency_key: str | None = None,
    then: Then | None = None,
) -> list[RunLogged]:
    """Logs many runs in one transaction: all of them or, on any error, none. Each run is
    given as ``log_run``'s keyword arguments and behaves as ``log_run`` would, a name
    repeated within the batch included (its later runs are compared with its first)."""
    if not runs:
        raise BadUserInput("runs must not be empty", field="runs")
    if len(runs) > max_runs:
        raise BadUserInput(f"at most {max_runs} runs per request", field="runs")
    specs = [run_spec(**run, at=f"runs[{i}].") for i, run in enumerate(runs)]

    async def work(tx: Tx) -> list[RunLogged]:
        return await _log_runs(tx, specs, allowed_projects)

    return await _commit(store, idempotency_key, "log_runs", {"runs": [_fingerprinted(r) for r in runs]}, work, then)


async def register_deployment(
    store: Store,
    *,
    name: str | None = None,
    deployment_tag: str | None = None,
    model_id: str | None = None,
    featureset_id: str | None = None,
    model_params_id: str | None = None,
    model_version_id: str | None = None,
    tag: str | None = None,
    tags: Any = None,
    attributes: Any = None,
    actor: str | None = None,
    idempotency_key: str | None = None,
    then: Then | None = None,
) -> Registered:
    """``model_version_id``: the version of the deployment's model it serves from the
    start (its first move in the deployment's history)."""
    inputs = _inputs(locals())
    inputs.pop("actor")
    explicit = (model_id, featureset_id, model_params_id)
    if deployment_tag is not None:
        if any(explicit) or tag is not None:
            raise BadUserInput(
                "give either deploymentTag or modelId, featuresetId and modelParamsId, not both",
                field="deploymentTag",
            )
        deployment_tag = validate.name(deployment_tag, field="deploymentTag")
        tag = deployment_tag
    elif not all(explicit):
        raise BadUserInput(
            "a deployment needs the deploymentTag of a run, or modelId, featuresetId and modelParamsId",
            field="deploymentTag",
        )
    tag = validate.optional_name(tag, field="tag")
    if name is None and tag is None:
        raise BadUserInput("a deployment needs a name (or a tag to name it by)", field="name")
    name = validate.name(name if name is not None else tag or "")
    tags = validate.tags(tags)
    attributes = validate.json_object(attributes)

    async def work(tx: Tx) -> Registered:
        existing = await _existing(tx, Kind.DEPLOYMENT, name, "")
        if existing is not None:
            if tag is not None and existing.fields.get("tag") != tag:
                raise Conflict(f"deployment {name!r} exists with another tag", field="name")
            if model_version_id is not None:
                serves = await _one_neighbor(tx, existing.id, "deployment_modelversion", Step.OUT)
                if serves is None or serves.id != model_version_id:
                    raise Conflict(
                        f"deployment {name!r} exists serving another version: move it with serveModelVersion",
                        field="modelVersionId",
                    )
            return Registered(existing, created=False)
        if tag is not None and await tx.find_by_field(Kind.DEPLOYMENT, "tag", tag):
            raise Conflict(f"tag {tag!r} belongs to another deployment", field="tag")
        if deployment_tag is not None:
            runs = await tx.find_by_field(Kind.RUN, "deploymentTag", deployment_tag)
            if not runs:
                raise NotFound(f"no run carries deploymentTag {deployment_tag!r}", field="deploymentTag")
            run = runs[0]
            [m, f, p] = await tx.neighbors(
                [
                    NeighborRequest(run.id, "run_model", Step.OUT, 1),
                    NeighborRequest(run.id, "run_featureset", Step.OUT, 1),
                    NeighborRequest(run.id, "run_modelparams", Step.OUT, 1),
                ]
            )
            if not (m.items and f.items and p.items):
                raise Conflict("the run of this deploymentTag lacks its model, featureset or params")
            model, featureset, params = m.items[0][0], f.items[0][0], p.items[0][0]
        else:
            assert model_id and featureset_id and model_params_id
            model = await require(tx, model_id, Kind.MODEL, field="modelId")
            featureset = await require(tx, featureset_id, Kind.FEATURESET, field="featuresetId")
            params = await require(tx, model_params_id, Kind.MODELPARAMS, field="modelParamsId")
        version = None
        if model_version_id is not None:
            version = await require(tx, model_version_id, Kind.MODELVERSION, field="modelVersionId")
            if version.scope != model.id:
                raise BadUserInput("modelVersionId: a version of another model than the deployment's", field="modelVersionId")
            if (version.fields.get("status") or "READY") != "READY":
                raise Conflict("modelVersionId: only a READY version serves", field="modelVersionId")
        node = _node(Kind.DEPLOYMENT, name, tags=tags, attributes=attributes, fields={"tag": tag, "status": "LIVE"})
        await _insert_new(tx, [node])
        edges = [
            _edge("deployment_model", node, model),
            _edge("deployment_featureset", node, featureset),
            _edge("deployment_modelparams", node, params),
        ]
        if version is not None:
            edges.append(_edge("deployment_modelversion", node, version))
        await tx.insert_edges(edges)
        if version is not None:
            served = {"version": version.id, "rollback": False}
            await tx.insert_history([HistoryEntry(node.id, "servedVersion", 1, node.created_at, served, actor=actor)])
            # Served by a live deployment: in the model zoo. Written whatever it was, so that
            # a move racing this one on ArangoDB conflicts with it (see hub._relist).
            await tx.update_node(version.id, fields={**version.fields, "zoo": "LISTED"})
        return Registered(node, created=True)

    return await _commit(store, idempotency_key, "register_deployment", inputs, work, then)


async def log_serving_perf(
    store: Store,
    *,
    period_start: dt.datetime,
    period_end: dt.datetime,
    metrics: Any,
    deployment_id: str | None = None,
    deployment_tag: str | None = None,
    tags: Any = None,
    attributes: Any = None,
    allowed_projects: frozenset[str] | None = None,
    idempotency_key: str | None = None,
    then: Then | None = None,
) -> Registered:
    """Logs a deployment's serving performance for a period. A period is logged once: a
    deployment period that exists answers its record (created False) when the metrics,
    and the tags and attributes where given, agree with it, and is a CONFLICT naming what
    differs otherwise."""
    inputs = _inputs(locals())
    if (deployment_id is None) == (deployment_tag is None):
        raise BadUserInput("give exactly one of deploymentId and deploymentTag", field="deploymentId")
    start = validate.time(period_start, field="periodStart")
    end = validate.time(period_end, field="periodEnd")
    assert start is not None and end is not None
    if end <= start:
        raise BadUserInput("periodEnd must be after periodStart", field="periodEnd")
    metrics = validate.metrics(metrics)
    checked_tags = None if tags is None else validate.tags(tags)
    checked_attributes = None if attributes is None else validate.json_object(attributes)

    async def work(tx: Tx) -> Registered:
        if deployment_id is not None:
            deployment = await require(tx, deployment_id, Kind.DEPLOYMENT, field="deploymentId")
        else:
            assert deployment_tag is not None
            found = await tx.find_by_field(Kind.DEPLOYMENT, "tag", deployment_tag)
            if not found:
                raise NotFound(f"deploymentTag: no deployment has tag {deployment_tag!r}", field="deploymentTag")
            deployment = found[0]
        await check_project(tx, allowed_projects, deployment)
        [existing] = await tx.find_serving_perf([ServingPeriod(deployment.id, start, end)])
        if existing is not None:
            differ = _differing_keys("metrics", metrics, existing.fields.get("metrics"))
            differ += _tags_and_attributes(checked_tags, checked_attributes, existing)
            if differ:
                raise Conflict(
                    f"serving perf of this deployment for {start} to {end} was logged with other content:"
                    f" {', '.join(differ)} differ",
                    field=differ[0],
                    fields=differ,
                )
            return Registered(existing, created=False)
        node = _node(
            Kind.SERVINGPERF,
            None,
            scope=deployment.id,
            tags=checked_tags or (),
            attributes=checked_attributes,
            fields={"periodStart": start, "periodEnd": end, "metrics": metrics},
        )
        await _insert_new(tx, [node])
        await tx.insert_edges([_edge("deployment_servingperf", deployment, node)])
        return Registered(node, created=True)

    def replayed(result: Registered | Node) -> Registered:
        # A keyed answer recorded before serving perf said whether it was created: the
        # call that recorded it created the node.
        return result if isinstance(result, Registered) else Registered(result, created=True)

    return await _commit(store, idempotency_key, "log_serving_perf", inputs, work, then, replayed)


async def _writable(tx: Tx, node_id: str, allowed_projects: frozenset[str] | None) -> Node:
    [node] = await tx.get_nodes([node_id])
    if node is None:
        raise NotFound("id: no node with this id", field="id")
    await check_project(tx, allowed_projects, node)
    return node


async def _updated(tx: Tx, node: Node, **changes: Any) -> Node:
    await tx.update_node(node.id, **changes)
    [updated] = await tx.get_nodes([node.id])
    assert updated is not None
    return updated


async def update_attributes(
    store: Store,
    *,
    node_id: str,
    attributes: Any,
    replace: bool = False,
    allowed_projects: frozenset[str] | None = None,
    idempotency_key: str | None = None,
    then: Then | None = None,
) -> Node:
    inputs = _inputs(locals())
    attributes = validate.json_object(attributes)

    async def work(tx: Tx) -> Node:
        node = await _writable(tx, node_id, allowed_projects)
        merged = validate.json_object(dict(attributes) if replace else {**node.attributes, **attributes})
        if node.kind is Kind.CUSTOM:
            from metagate.resolvers.kinds import check_custom_attributes  # kinds builds on this module

            await check_custom_attributes(tx, node, merged)
        return await _updated(tx, node, attributes=merged)

    return await _commit(store, idempotency_key, "update_attributes", inputs, work, then)


async def add_tags(
    store: Store,
    *,
    node_id: str,
    tags: Any,
    allowed_projects: frozenset[str] | None = None,
    idempotency_key: str | None = None,
    then: Then | None = None,
) -> Node:
    inputs = _inputs(locals())
    new = validate.tags(tags)
    if not new:
        raise BadUserInput("tags: give at least one tag", field="tags")

    async def work(tx: Tx) -> Node:
        node = await _writable(tx, node_id, allowed_projects)
        # A tag the node already has adds nothing, so it does not count twice.
        return await _updated(tx, node, tags=validate.tags(list(dict.fromkeys([*node.tags, *new]))))

    return await _commit(store, idempotency_key, "add_tags", inputs, work, then)

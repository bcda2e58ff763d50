"""Steps: executions of one phase of a pipeline (fetch, clean, prepare, train, evaluate,
validate, deploy, inference, consume, or any other), each with its state, its start and
end, and what it read and wrote: datasets, featuresets, model versions, models and
deployments. A dataset derived from another through a step (raw -> cleaned -> split) is
told by the step's edges, so lineage runs from raw data through every step to a
deployment. A step may belong to the job or run it ran in, or to a pipeline run: a step
of phase PIPELINE that groups the others.

``log_steps`` records steps with all their edges in one transaction; a dataset a step
writes may be named rather than given by id, and is registered when it is new.
``update_step`` moves a step that was logged RUNNING on (its end, what it read and
wrote since).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from metagate.resolvers import validate
from metagate.resolvers.authz import check_project, project_of
from metagate.resolvers.registry import Then, _commit, _edge, _inputs, _insert_new, _node, _updated, require
from metagate.store.errors import BadUserInput, Conflict, NotFound
from metagate.store.model import JOB_STATUSES, STEP_ASSETS, STEP_PHASES, Edge, JSONObject, Kind, Node, Step, utcnow
from metagate.store.port import NameKey, NeighborRequest, Store, Tx

FINAL = ("SUCCEEDED", "FAILED", "CANCELLED")
# Where a step goes from each state; SUCCEEDED, FAILED and CANCELLED are final.
MOVES = {"PENDING": ("RUNNING", *FINAL), "RUNNING": FINAL}
MAX_LINKS = 1000  # inputs and outputs of one step
MAX_STEPS = 1000  # steps of one batch
MAX_BATCH_LINKS = 10_000  # inputs and outputs of all the steps of one batch
PARENT_EDGES = {Kind.JOB: "step_job", Kind.RUN: "step_run", Kind.STEP: "step_parent"}
_BOTH = "an asset is also an input: a step writes what it derives, not what it read"


@dataclass(frozen=True)
class AssetRef:
    """An asset a step read or wrote: by id, or a dataset by name (one a step writes is
    registered when it is new; one it reads must exist, or be written by an earlier
    step of the same batch)."""

    id: str | None = None
    dataset: str | None = None


@dataclass(frozen=True)
class StepSpec:
    name: str
    phase: str
    state: str | None = None  # None: SUCCEEDED
    started_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    parent_id: str | None = None
    parent_index: int | None = None  # an earlier step of the same batch
    inputs: tuple[AssetRef, ...] = ()
    outputs: tuple[AssetRef, ...] = ()
    tags: tuple[str, ...] | None = None
    attributes: Any = None


@dataclass(frozen=True)
class _Checked:
    name: str
    fields: JSONObject
    parent_id: str | None
    parent_index: int | None
    inputs: tuple[AssetRef, ...]
    outputs: tuple[AssetRef, ...]
    tags: tuple[str, ...]
    attributes: JSONObject


def _refs(refs: Sequence[AssetRef], at: str) -> tuple[AssetRef, ...]:
    if len(refs) > MAX_LINKS:
        raise BadUserInput(f"{at}: at most {MAX_LINKS} assets", field=at)
    out: dict[AssetRef, None] = {}
    for i, ref in enumerate(refs):
        if (ref.id is None) == (ref.dataset is None):
            raise BadUserInput(f"{at}[{i}]: give an asset's id or a dataset's name, one of them", field=f"{at}[{i}]")
        out[AssetRef(ref.id, validate.name(ref.dataset, field=f"{at}[{i}].dataset") if ref.dataset is not None else None)] = None
    return tuple(out)  # an asset given twice is one edge


def _choice(value: str | None, choices: tuple[str, ...], default: str, *, field: str) -> str:
    if value is None:
        return default
    if value not in choices:
        raise BadUserInput(f"{field} must be one of {', '.join(choices)}", field=field)
    return value


def _times(state: str, started_at: dt.datetime | None, ended_at: dt.datetime | None, at: str) -> JSONObject:
    start = validate.time(started_at, field=f"{at}startedAt")
    end = validate.time(ended_at, field=f"{at}endedAt")
    if start is not None and end is not None and end < start:
        raise BadUserInput(f"{at}endedAt is before its startedAt", field=f"{at}endedAt")
    if end is not None and state not in FINAL:
        raise BadUserInput(f"{at}endedAt: a {state} step has not ended", field=f"{at}endedAt")
    now = utcnow()
    if state == "RUNNING" and start is None:
        start = now
    if state in FINAL and end is None:
        end = max(now, start) if start is not None else now
    return {"startedAt": start, "endedAt": end}


def check(spec: StepSpec, index: int, at: str = "") -> _Checked:
    state = _choice(spec.state, JOB_STATUSES, "SUCCEEDED", field=f"{at}state")
    phase = _choice(spec.phase, STEP_PHASES, "OTHER", field=f"{at}phase")
    if spec.parent_id is not None and spec.parent_index is not None:
        raise BadUserInput(f"{at}parentIndex: give parentId or parentIndex, not both", field=f"{at}parentIndex")
    if spec.parent_index is not None and not 0 <= spec.parent_index < index:
        raise BadUserInput(f"{at}parentIndex: the index of an earlier step of this batch", field=f"{at}parentIndex")
    inputs, outputs = _refs(spec.inputs, f"{at}inputs"), _refs(spec.outputs, f"{at}outputs")
    if set(inputs) & set(outputs):
        raise BadUserInput(f"{at}outputs: {_BOTH}", field=f"{at}outputs")
    return _Checked(
        name=validate.name(spec.name, field=f"{at}name"),
        fields={"phase": phase, "status": state, **_times(state, spec.started_at, spec.ended_at, at)},
        parent_id=spec.parent_id,
        parent_index=spec.parent_index,
        inputs=inputs,
        outputs=outputs,
        tags=validate.tags(spec.tags, field=f"{at}tags"),
        attributes=validate.json_object(spec.attributes, field=f"{at}attributes"),
    )


async def _links(
    tx: Tx, step: Node, inputs: Sequence[AssetRef], outputs: Sequence[AssetRef], at: str, allowed: frozenset[str] | None
) -> list[tuple[Edge, Node]]:
    """The edges from a step to what it read and wrote, each with its asset: one per
    asset however often and however it was named (by id, a dataset by name); an asset
    both read and written is refused. A dataset written by a name no dataset has is
    registered. Every id is looked up in one store call, every name in one more."""
    ways = (("input", inputs), ("output", outputs))
    ids = list(dict.fromkeys(r.id for _, refs in ways for r in refs if r.id is not None))
    names = list(dict.fromkeys(r.dataset for _, refs in ways for r in refs if r.dataset is not None))
    by_id = dict(zip(ids, await tx.get_nodes(ids))) if ids else {}
    by_name: dict[str, Node] = {}
    if names:
        found = await tx.find_named([NameKey(Kind.DATASET, n, "") for n in names])
        by_name = {n: f[0] for n, f in zip(names, found) if f}
    new: list[Node] = []
    way_of: dict[str, str] = {}
    edges = []
    for direction, refs in ways:
        for i, ref in enumerate(refs):
            here = f"{at}{direction}s[{i}]"
            if ref.dataset is not None:
                asset = by_name.get(ref.dataset)
                if asset is None:
                    if direction == "input":
                        raise NotFound(f"{here}: no dataset named {ref.dataset!r}", field=here)
                    asset = by_name[ref.dataset] = _node(Kind.DATASET, ref.dataset)
                    new.append(asset)
            else:
                found_node = by_id[ref.id] if ref.id is not None else None
                if found_node is None or found_node.kind not in STEP_ASSETS:
                    raise NotFound(f"{here}: no dataset, featureset, model version, model or deployment with this id", field=here)
                await check_project(tx, allowed, found_node)
                asset = found_node
            if asset.id in way_of:
                if way_of[asset.id] != direction:
                    raise BadUserInput(f"{at}outputs: {_BOTH}", field=f"{at}outputs")
                continue
            way_of[asset.id] = direction
            edges.append((_edge(f"step_{direction}_{asset.kind.value}", step, asset), asset))
    if new:
        await _insert_new(tx, new)
    return edges


async def _project(tx: Tx, parent: Node | None, assets: Sequence[Node]) -> str | None:
    """The project a step is logged in: its parent's, else that of the first model, model
    version or deployment it read or wrote; None when it touched shared datasets and
    featuresets only (such a step is shared as they are)."""
    for node in (parent,) if parent is not None else assets:
        project = await project_of(tx, node)
        if project is not None:
            return project
    return None


def _new_step(checked: _Checked) -> Node:
    step = _node(Kind.STEP, checked.name, tags=checked.tags, attributes=checked.attributes, fields=checked.fields)
    # Steps of one name are many (a clean step runs every day): each is a namespace of its own.
    return replace(step, scope=step.id)


async def _log(tx: Tx, checked: list[_Checked], allowed: frozenset[str] | None, prefix: str | None) -> list[Node]:
    steps: list[Node] = []
    for i, c in enumerate(checked):
        at = f"{prefix}[{i}]." if prefix else ""
        step = _new_step(c)
        if c.parent_index is not None:
            parent: Node = steps[c.parent_index]
        elif c.parent_id is not None:
            [found] = await tx.get_nodes([c.parent_id])
            if found is None or found.kind not in PARENT_EDGES:
                raise NotFound(f"{at}parentId: no job, run or pipeline run with this id", field=f"{at}parentId")
            await check_project(tx, allowed, found)
            parent = found
        else:
            parent = None  # type: ignore[assignment]
        if parent is not None and parent.kind is Kind.STEP and parent.fields.get("phase") != "PIPELINE":
            field = f"{at}parentIndex" if c.parent_index is not None else f"{at}parentId"
            raise BadUserInput(f"{field}: a step belongs to a pipeline run, a step of phase PIPELINE", field=field)
        links = await _links(tx, step, c.inputs, c.outputs, at, allowed)
        project = await _project(tx, parent, [asset for _, asset in links])
        if project is not None:
            step = replace(step, fields={**step.fields, "project": project})
        await _insert_new(tx, [step])
        edges = [e for e, _ in links]
        if parent is not None:
            edges.append(_edge(PARENT_EDGES[parent.kind], step, parent))
        await tx.insert_edges(edges)
        steps.append(step)
    return steps


async def log_steps(
    store: Store,
    *,
    steps: Sequence[StepSpec],
    allowed_projects: frozenset[str] | None = None,
    idempotency_key: str | None = None,
    then: Then | None = None,
    batch: bool = True,
) -> list[Node]:
    """Records steps with their inputs, outputs and parents in one transaction: all of
    them, or on any error none. A step's ``parentIndex`` names an earlier step of the
    batch (the pipeline run they belong to)."""
    inputs = _inputs(locals())
    if batch and not steps:
        raise BadUserInput("steps: give at least one step", field="steps")
    if len(steps) > MAX_STEPS:
        raise BadUserInput(f"steps: at most {MAX_STEPS} steps in one batch", field="steps")
    prefix = "steps" if batch else None
    checked = [check(s, i, f"{prefix}[{i}]." if prefix else "") for i, s in enumerate(steps)]
    if sum(len(c.inputs) + len(c.outputs) for c in checked) > MAX_BATCH_LINKS:
        raise BadUserInput(f"steps: at most {MAX_BATCH_LINKS} inputs and outputs in one batch", field="steps")

    async def work(tx: Tx) -> list[Node]:
        return await _log(tx, checked, allowed_projects, prefix)

    operation = "log_steps" if batch else "log_step"
    return await _commit(store, idempotency_key, operation, inputs, work, then)


async def log_step(
    store: Store,
    *,
    step: StepSpec,
    allowed_projects: frozenset[str] | None = None,
    idempotency_key: str | None = None,
    then: Then | None = None,
) -> Node:
    async def first(tx: Tx, result: Any) -> None:
        if then is not None:
            await then(tx, result[0])

    [logged] = await log_steps(
        store,
        steps=[step],
        allowed_projects=allowed_projects,
        idempotency_key=idempotency_key,
        then=first if then is not None else None,
        batch=False,
    )
    return logged


async def _linked(tx: Tx, step: Node) -> dict[str, str]:
    """What a step is linked to now: asset id -> "input" or "output"."""
    ways = [(d, k) for d in ("input", "output") for k in STEP_ASSETS]
    pages = await tx.neighbors([NeighborRequest(step.id, f"step_{d}_{k.value}", Step.OUT, MAX_LINKS + 1) for d, k in ways])
    return {n.id: d for (d, _), page in zip(ways, pages) for n, _ in page.items}


async def update_step(
    store: Store,
    *,
    step_id: str,
    state: str | None = None,
    ended_at: dt.datetime | None = None,
    inputs: Sequence[AssetRef] = (),
    outputs: Sequence[AssetRef] = (),
    attributes: Any = None,
    allowed_projects: frozenset[str] | None = None,
    idempotency_key: str | None = None,
    then: Then | None = None,
) -> Node:
    """Moves a step on: to a new state (PENDING -> RUNNING -> SUCCEEDED | FAILED |
    CANCELLED; ending sets endedAt, now unless given), with what it read and wrote since
    it was logged (an asset it is linked to already adds nothing) and attributes merged
    into its own. Reporting the state it has, with nothing new, changes nothing."""
    arguments = _inputs(locals())
    new_state = _choice(state, JOB_STATUSES, "", field="state") if state is not None else None
    checked_inputs, checked_outputs = _refs(inputs, "inputs"), _refs(outputs, "outputs")
    if set(checked_inputs) & set(checked_outputs):
        raise BadUserInput(f"outputs: {_BOTH}", field="outputs")
    extra = validate.json_object(attributes)
    end = validate.time(ended_at, field="endedAt")

    async def work(tx: Tx) -> Node:
        step = await require(tx, step_id, Kind.STEP, field="stepId")
        await check_project(tx, allowed_projects, step)
        fields = dict(step.fields)
        current = fields.get("status") or "SUCCEEDED"
        if end is not None and (new_state or current) not in FINAL:
            raise BadUserInput(f"endedAt: a {new_state or current} step has not ended", field="endedAt")
        if new_state is not None and new_state != current:
            if new_state not in MOVES.get(current, ()):
                raise Conflict(f"a {current} step cannot become {new_state}", field="state")
            fields["status"] = new_state
            if new_state == "RUNNING" and not fields.get("startedAt"):
                fields["startedAt"] = utcnow()
            if new_state in FINAL:
                start = fields.get("startedAt")
                fields["endedAt"] = end or (max(utcnow(), start) if isinstance(start, str) else utcnow())
                if isinstance(start, str) and fields["endedAt"] < start:
                    raise BadUserInput("endedAt is before the step's startedAt", field="endedAt")
        elif end is not None and end != fields.get("endedAt"):
            raise BadUserInput("endedAt: given only with the state that ends the step", field="endedAt")
        have = await _linked(tx, step)
        edges = []
        links = await _links(tx, step, checked_inputs, checked_outputs, "", allowed_projects)
        for e, _ in links:
            way = "input" if e.kind.startswith("step_input_") else "output"
            if have.get(e.to_id, way) != way:
                raise BadUserInput(
                    f"{way}s: the step already {'wrote' if way == 'input' else 'read'} one of them", field=f"{way}s"
                )
            if e.to_id not in have:
                edges.append(e)
                have[e.to_id] = way
        if len(have) > MAX_LINKS:
            raise BadUserInput(f"a step reads and writes at most {MAX_LINKS} assets", field="outputs" if outputs else "inputs")
        if "project" not in fields and edges:
            # A shared step that now touches a project's model is of that project.
            added = {e.to_id for e in edges}
            project = await _project(tx, None, [asset for _, asset in links if asset.id in added])
            if project is not None:
                fields["project"] = project
        merged = {**step.attributes, **extra}
        if fields == step.fields and not edges and merged == step.attributes:
            return step
        updated = await _updated(tx, step, fields=fields, attributes=validate.json_object(merged))
        await tx.insert_edges(edges)
        return updated

    return await _commit(store, idempotency_key, "update_step", arguments, work, then)

"""The information hub's writes: a model's variation (task, framework, default hardware),
its numbered versions and their aliases, the version each deployment serves, a project's
lifecycle and its traffic weights. Each is one atomic write, as in ``registry``; every
move of an alias, of a deployment's version and of a project's traffic is kept in the
store's history, numbered per subject, so that what held at any instant can be read.

Version numbers come from the model's ``lastVersion``, raised in the same transaction as
the version is written: two registrations racing on one model conflict (the model is
written by both) and the second runs again, so numbers are never given twice, and a
version's name is its number, unique within its model, besides.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from metagate.resolvers import validate
from metagate.resolvers.authz import check_project, project_of
from metagate.resolvers.registry import (
    Moved,
    Registered,
    Then,
    _commit,
    _edge,
    _inputs,
    _insert_new,
    _node,
    _one_neighbor,
    _updated,
    require,
)
from metagate.store.errors import BadUserInput, Conflict, NotFound, WriteConflict
from metagate.store.model import (
    DEPLOYMENT_STATUSES,
    PROJECT_STATUSES,
    VERSION_STATUSES,
    Edge,
    JSONObject,
    Kind,
    Node,
    Step,
    utcnow,
)
from metagate.store.port import HistoryEntry, HistoryQuery, NameKey, NeighborRequest, Store, Tx

ALIAS = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]{0,63}")
# Names a version lookup could read as something else.
RESERVED_ALIAS = re.compile(r"latest|[vV][0-9]+")
MAX_SOURCE = 2048
MAX_DESCRIPTION = 5000
MAX_REASON = 1000
MAX_TRAFFIC = 100
MAX_ALIASES = 100
HARDWARE_NUMBERS = {"cpu": float, "memoryGb": float, "gpu": int, "count": int}
HARDWARE_TEXTS = ("instanceType", "gpuType")
SERVED = "servedVersion"
TRAFFIC = "traffic"
CHAMPION = "champion"


def alias_topic(alias: str) -> str:
    return f"alias:{alias}"


# -- checks of input that need no store ------------------------------------------------


def alias(value: str, *, field: str = "alias") -> str:
    if not isinstance(value, str) or not ALIAS.fullmatch(value):
        raise BadUserInput(f"{field}: an alias is 1 to 64 letters, digits, _ . or -, starting with a letter or _", field=field)
    if RESERVED_ALIAS.fullmatch(value):
        raise BadUserInput(f"{field}: {value!r} would read as a version; choose another alias", field=field)
    return value


def _text(value: str | None, most: int, *, field: str) -> str | None:
    if value is None:
        return None
    if "\x00" in value or len(value) > most:
        raise BadUserInput(f"{field}: at most {most} characters, without NUL", field=field)
    return value


def reason(value: str | None, *, required: bool = False) -> str | None:
    checked = _text(value, MAX_REASON, field="reason")
    if required and not (checked or "").strip():
        raise BadUserInput("reason: say why (it is kept with the move)", field="reason")
    return checked


def source(value: str) -> str:
    checked = _text(value, MAX_SOURCE, field="source")
    if not checked or not checked.strip() or any(c.isspace() for c in checked):
        raise BadUserInput("source: the URI of the saved model, without spaces", field="source")
    return checked


def hardware(value: Any, *, field: str) -> JSONObject | None:
    """A hardware spec as stored: the numbers and texts given (camelCase keys), with
    ``extras`` a free-form object; None when nothing is given."""
    if value is None:
        return None
    spec: JSONObject = {}
    for key, kind in HARDWARE_NUMBERS.items():
        number = value.get(key)
        if number is None:
            continue
        if kind is int and (isinstance(number, bool) or not isinstance(number, int) or not 0 <= number <= 1_000_000):
            raise BadUserInput(f"{field}.{key}: a whole number from 0 to 1000000", field=f"{field}.{key}")
        if kind is float and (isinstance(number, bool) or not isinstance(number, (int, float)) or not 0 < number <= 1e9):
            raise BadUserInput(f"{field}.{key}: a number above 0", field=f"{field}.{key}")
        spec[key] = kind(number)
    for key in HARDWARE_TEXTS:
        text = value.get(key)
        if text is not None:
            spec[key] = validate.name(text, field=f"{field}.{key}")
    if value.get("extras") is not None:
        spec["extras"] = validate.json_object(value["extras"], field=f"{field}.extras")
    return spec


def default_hardware(value: Any) -> JSONObject | None:
    """``{serving, training}``, each a hardware spec or left out."""
    if value is None:
        return None
    out = {}
    for use in ("serving", "training"):
        spec = hardware(value.get(use), field=f"defaultHardware.{use}")
        if spec is not None:
            out[use] = spec
    return out


def _choice(value: str | None, choices: tuple[str, ...], *, field: str) -> str | None:
    if value is not None and value not in choices:
        raise BadUserInput(f"{field} must be one of {', '.join(choices)}", field=field)
    return value


# -- reads inside a write ------------------------------------------------------------------


async def _latest(tx: Tx, subject: str, topic: str) -> HistoryEntry | None:
    [entries] = await tx.history([HistoryQuery(subject, topic, 1)])
    return entries[0] if entries else None


async def _record(tx: Tx, subject: str, topic: str, value: Any, why: str | None, actor: str | None) -> HistoryEntry:
    latest = await _latest(tx, subject, topic)
    entry = HistoryEntry(subject, topic, (latest.seq if latest else 0) + 1, utcnow(), value, why, actor)
    try:
        await tx.insert_history([entry])
    except WriteConflict:
        raise
    except Conflict as error:
        raise WriteConflict("a concurrent move took the same history number; try again") from error
    return entry


async def _version(tx: Tx, model: Node, *, version: int | None, alias_name: str | None, field: str = "version") -> Node:
    """The version of ``model`` numbered ``version``, or the one ``alias_name`` points at."""
    if (version is None) == (alias_name is None):
        raise BadUserInput("give exactly one of version and alias", field=field)
    if alias_name is not None:
        target = (model.fields.get("aliases") or {}).get(alias(alias_name))
        if target is None:
            raise NotFound(f"alias: model {model.name!r} has no alias {alias_name!r}", field="alias")
        [found] = await tx.get_nodes([target])
        if found is None:
            raise NotFound(f"alias: the version {alias_name!r} points at no longer exists", field="alias")
        return found
    assert version is not None
    [matches] = await tx.find_named([NameKey(Kind.MODELVERSION, str(version), model.id)])
    if not matches:
        raise NotFound(f"version: model {model.name!r} has no version {version}", field=field)
    return matches[0]


async def _relist(tx: Tx, version_ids: Sequence[str | None], *, retiring: str | None = None) -> None:
    """Puts each version in the model zoo or takes it out, as it is production-ready now:
    its model's champion, or served by a live deployment (``retiring`` counts as retired).
    A version whose listing changes is written, so that two moves deciding it race."""
    for version in await tx.get_nodes([v for v in dict.fromkeys(version_ids) if v]):
        if version is None:
            continue
        [model] = await tx.get_nodes([version.scope])
        champion = model is not None and (model.fields.get("aliases") or {}).get(CHAMPION) == version.id
        [serving] = await tx.neighbors([NeighborRequest(version.id, "deployment_modelversion", Step.IN, 1000)])
        live = any(d.fields.get("status") != "RETIRED" and d.id != retiring for d, _ in serving.items)
        ready = (version.fields.get("status") or "READY") == "READY"
        listing = "LISTED" if ready and (champion or live) else "UNLISTED"
        # Written even when the listing stays: on ArangoDB two moves that each leave a
        # version listed for the other's reason would otherwise share no document, and
        # both land (snapshot isolation), leaving the listing stale.
        await tx.update_node(version.id, fields={**version.fields, "zoo": listing})


async def _fresh(tx: Tx, *nodes: Node | None) -> list[Node | None]:
    """The nodes as the transaction holds them now (a move may have relisted them)."""
    found = await tx.get_nodes([n.id for n in nodes if n is not None])
    by_id = {n.id: n for n in found if n is not None}
    return [by_id.get(n.id) if n is not None else None for n in nodes]


async def _deployment_model(tx: Tx, deployment: Node) -> Node:
    model = await _one_neighbor(tx, deployment.id, "deployment_model", Step.OUT)
    if model is None:
        raise Conflict("the deployment has no model to serve a version of", field="deploymentId")
    return model


# -- the writes ------------------------------------------------------------------------


async def update_model(
    store: Store,
    *,
    model_id: str,
    task: str | None = None,
    framework: str | None = None,
    default_hardware_: Any = None,
    allowed_projects: frozenset[str] | None = None,
    idempotency_key: str | None = None,
    then: Then | None = None,
) -> Node:
    """Sets what is given of a model's variation: task, framework, default hardware."""
    inputs = _inputs(locals())
    changes = variation(task, framework, default_hardware_)
    if not changes:
        raise BadUserInput("give task, framework or defaultHardware", field="task")

    async def work(tx: Tx) -> Node:
        model = await require(tx, model_id, Kind.MODEL, field="id")
        await check_project(tx, allowed_projects, model)
        merged = dict(changes)
        if "defaultHardware" in changes:  # one use given leaves the other as it was
            merged["defaultHardware"] = {**(model.fields.get("defaultHardware") or {}), **changes["defaultHardware"]}
        return await _updated(tx, model, fields={**model.fields, **merged})

    return await _commit(store, idempotency_key, "update_model", inputs, work, then)


def variation(task: str | None, framework: str | None, hardware_: Any) -> JSONObject:
    """A model's variation fields, checked, as stored (only those given)."""
    out: JSONObject = {}
    if task is not None:
        out["task"] = validate.name(task, field="task")
    if framework is not None:
        out["framework"] = validate.name(framework, field="framework")
    checked = default_hardware(hardware_)
    if checked is not None:
        out["defaultHardware"] = checked
    return out


async def register_model_version(
    store: Store,
    *,
    model_id: str,
    run_id: str,
    source_: str,
    signature: Any = None,
    description: str | None = None,
    status: str | None = None,
    tags: Any = None,
    attributes: Any = None,
    allowed_projects: frozenset[str] | None = None,
    idempotency_key: str | None = None,
    then: Then | None = None,
) -> Registered:
    """The model's next version, from ``run`` (a run of that model) and the saved model at
    ``source``. Registering the same run and source again answers the version they made
    (created False) and writes nothing."""
    inputs = _inputs(locals())
    uri = source(source_)
    checked_signature = validate.json_object(signature, field="signature") if signature is not None else None
    checked_description = _text(description, MAX_DESCRIPTION, field="description")
    checked_status = _choice(status, VERSION_STATUSES, field="registration")
    checked_tags = validate.tags(tags)
    checked_attributes = validate.json_object(attributes)

    async def work(tx: Tx) -> Registered:
        model = await require(tx, model_id, Kind.MODEL, field="modelId")
        await check_project(tx, allowed_projects, model)
        run = await require(tx, run_id, Kind.RUN, field="runId")
        if run.scope != model.id:
            raise BadUserInput("runId: that run trained another model", field="runId")
        [page] = await tx.neighbors([NeighborRequest(run.id, "modelversion_run", Step.IN, 1000)])
        for existing, _ in page.items:
            if existing.scope == model.id and existing.fields.get("source") == uri:
                stated = {"signature": checked_signature, "description": checked_description, "registration": checked_status}
                held = {**existing.fields, "registration": existing.fields.get("status")}
                differ = [k for k, v in stated.items() if v is not None and held.get(k) != v]
                if differ:
                    raise Conflict(
                        f"version {existing.name} of this run and source was registered with another {', '.join(differ)}",
                        field=differ[0],
                        fields=differ,
                    )
                return Registered(existing, created=False)
        number = int(model.fields.get("lastVersion") or 0) + 1
        node = _node(
            Kind.MODELVERSION,
            str(number),
            scope=model.id,
            tags=checked_tags,
            attributes=checked_attributes,
            fields={
                "version": number,
                "status": checked_status or "READY",
                "source": uri,
                "description": checked_description,
                "signature": checked_signature,
            },
        )
        # The model is written first: a concurrent registration conflicts on it.
        await tx.update_node(model.id, fields={**model.fields, "lastVersion": number})
        await _insert_new(tx, [node])
        await tx.insert_edges([_edge("modelversion_model", node, model), _edge("modelversion_run", node, run)])
        return Registered(node, created=True)

    return await _commit(store, idempotency_key, "register_model_version", inputs, work, then)


async def set_model_alias(
    store: Store,
    *,
    model_id: str,
    alias_name: str,
    version: int,
    reason_: str | None = None,
    actor: str | None = None,
    allowed_projects: frozenset[str] | None = None,
    idempotency_key: str | None = None,
    then: Then | None = None,
) -> Moved:
    """Points the model's alias at one of its versions, moving it from where it pointed."""
    inputs = _inputs(locals())
    name = alias(alias_name)
    why = reason(reason_)

    async def work(tx: Tx) -> Moved:
        model = await require(tx, model_id, Kind.MODEL, field="modelId")
        await check_project(tx, allowed_projects, model)
        target = await _version(tx, model, version=version, alias_name=None)
        aliases = dict(model.fields.get("aliases") or {})
        before = aliases.get(name)
        if before is None and len(aliases) >= MAX_ALIASES:
            raise BadUserInput(f"alias: a model has at most {MAX_ALIASES} aliases", field="alias")
        [previous] = await tx.get_nodes([before]) if before else [None]
        if before == target.id:
            return Moved(model, target, previous, moved=False)
        aliases[name] = target.id
        updated = await _updated(tx, model, fields={**model.fields, "aliases": aliases})
        await _record(tx, model.id, alias_topic(name), {"version": target.id}, why, actor)
        if name == CHAMPION:
            await _relist(tx, [before, target.id])
        now, before_node = await _fresh(tx, target, previous)
        return Moved(updated, now, before_node, moved=True)

    return await _commit(store, idempotency_key, "set_model_alias", inputs, work, then)


async def serve_version(
    store: Store,
    *,
    deployment_id: str,
    version: int | None = None,
    alias_name: str | None = None,
    reason_: str | None = None,
    rollback: bool = False,
    actor: str | None = None,
    allowed_projects: frozenset[str] | None = None,
    idempotency_key: str | None = None,
    then: Then | None = None,
) -> Moved:
    """Points a deployment at a version of its model (by number, or the one an alias
    points at). A rollback moves it back to a version it served before, and needs a
    reason. Serving the version it serves already changes nothing."""
    inputs = _inputs(locals())
    why = reason(reason_, required=rollback)
    if alias_name is not None:
        alias(alias_name)

    async def work(tx: Tx) -> Moved:
        deployment = await require(tx, deployment_id, Kind.DEPLOYMENT, field="deploymentId")
        await check_project(tx, allowed_projects, deployment)
        if deployment.fields.get("status") == "RETIRED":
            raise Conflict("the deployment is retired: it serves nothing", field="deploymentId")
        model = await _deployment_model(tx, deployment)
        target = await _version(tx, model, version=version, alias_name=alias_name)
        if target.scope != model.id:
            raise Conflict("that version belongs to another model than the deployment's", field="version")
        if (target.fields.get("status") or "READY") != "READY":
            raise Conflict(
                f"version {target.name} is {target.fields.get('status')}: only a READY version serves", field="version"
            )
        current = await _one_neighbor(tx, deployment.id, "deployment_modelversion", Step.OUT)
        if current is not None and current.id == target.id:
            return Moved(deployment, target, current, moved=False)
        if rollback:
            [served] = await tx.history([HistoryQuery(deployment.id, SERVED, 10_000)])
            if not any(e.value.get("version") == target.id for e in served):
                raise BadUserInput(
                    f"version {target.name} never served this deployment: a rollback goes back to a version it served;"
                    " serve a new one with serveModelVersion",
                    field="version",
                )
        if current is not None:
            await tx.delete_edges([Edge("deployment_modelversion", deployment.id, current.id, "")])
        await tx.insert_edges([_edge("deployment_modelversion", deployment, target)])
        # The deployment is written too: a retirement racing this move writes it as well,
        # so one of the two runs again (ArangoDB's snapshot isolation lets two writes
        # that share no document both land).
        deployment = await _updated(tx, deployment, fields={**deployment.fields, "servedVersion": target.id})
        await _relist(tx, [current.id if current else None, target.id])
        now, current = await _fresh(tx, target, current)
        value = {"version": target.id, "rollback": rollback, **({"alias": alias_name} if alias_name else {})}
        await _record(tx, deployment.id, SERVED, value, why, actor)
        return Moved(deployment, now, current, moved=True)

    operation = "rollback_deployment" if rollback else "serve_model_version"
    return await _commit(store, idempotency_key, operation, inputs, work, then)


async def _project_deployments(tx: Tx, project: Node, most: int) -> list[Node]:
    """The project's deployments (through its models), at most ``most`` per model."""
    [models] = await tx.neighbors([NeighborRequest(project.id, "project_model", Step.OUT, most)])
    pages = await tx.neighbors([NeighborRequest(m.id, "deployment_model", Step.IN, most) for m, _ in models.items])
    return [d for page in pages for d, _ in page.items]


async def set_traffic_weights(
    store: Store,
    *,
    project_id: str,
    weights: Sequence[tuple[str, int]],
    reason_: str | None = None,
    actor: str | None = None,
    allowed_projects: frozenset[str] | None = None,
    idempotency_key: str | None = None,
    then: Then | None = None,
) -> Node:
    """Sets how a project's traffic is shared between its live deployments: the weights
    given sum to 100, and a live deployment not given takes 0."""
    inputs = _inputs(locals())
    why = reason(reason_)
    if not weights:
        raise BadUserInput("weights: give at least one deployment's weight", field="weights")
    if len(weights) > MAX_TRAFFIC:
        raise BadUserInput(f"weights: at most {MAX_TRAFFIC} deployments", field="weights")
    seen: set[str] = set()
    for i, (deployment_id, weight) in enumerate(weights):
        if deployment_id in seen:
            raise BadUserInput(f"weights[{i}].deploymentId: the deployment is given twice", field=f"weights[{i}].deploymentId")
        seen.add(deployment_id)
        if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= 100:
            raise BadUserInput(f"weights[{i}].weight: a whole number from 0 to 100", field=f"weights[{i}].weight")
    total = sum(w for _, w in weights)
    if total != 100:
        raise BadUserInput(f"weights must sum to 100, not {total}", field="weights")

    async def work(tx: Tx) -> Node:
        project = await require(tx, project_id, Kind.PROJECT, field="projectId")
        await check_project(tx, allowed_projects, project)
        found = await tx.get_nodes([d for d, _ in weights])
        for i, node in enumerate(found):
            at = f"weights[{i}].deploymentId"
            if node is None or node.kind is not Kind.DEPLOYMENT:
                raise NotFound(f"{at}: no deployment with this id", field=at)
            if await project_of(tx, node) != project.id:
                raise BadUserInput(f"{at}: deployment {node.name!r} is not one of this project's", field=at)
            if node.fields.get("status") == "RETIRED":
                raise BadUserInput(f"{at}: deployment {node.name!r} is retired", field=at)
        traffic = [{"deployment": d, "weight": w} for d, w in weights]
        updated = await _updated(tx, project, fields={**project.fields, "traffic": traffic})
        await _record(tx, project.id, TRAFFIC, traffic, why, actor)
        return updated

    return await _commit(store, idempotency_key, "set_traffic_weights", inputs, work, then)


async def set_project_stage(
    store: Store, *, project_id: str, stage: str, idempotency_key: str | None = None, then: Then | None = None
) -> Node:
    inputs = _inputs(locals())
    checked = _choice(stage, PROJECT_STATUSES, field="stage")

    async def work(tx: Tx) -> Node:
        project = await require(tx, project_id, Kind.PROJECT, field="projectId")
        if project.fields.get("status") == checked:
            return project
        return await _updated(tx, project, fields={**project.fields, "status": checked})

    return await _commit(store, idempotency_key, "set_project_stage", inputs, work, then)


async def retire_deployment(
    store: Store,
    *,
    deployment_id: str,
    actor: str | None = None,
    allowed_projects: frozenset[str] | None = None,
    idempotency_key: str | None = None,
    then: Then | None = None,
) -> Node:
    """Marks a deployment RETIRED: it takes no traffic and serves no new version. One
    that carries traffic in its project's weights is refused: move its traffic first."""
    inputs = _inputs(locals())
    inputs.pop("actor")
    assert "RETIRED" in DEPLOYMENT_STATUSES

    async def work(tx: Tx) -> Node:
        deployment = await require(tx, deployment_id, Kind.DEPLOYMENT, field="deploymentId")
        await check_project(tx, allowed_projects, deployment)
        if deployment.fields.get("status") == "RETIRED":
            return deployment
        project_id = await project_of(tx, deployment)
        if project_id is not None:
            [project] = await tx.get_nodes([project_id])
            carried = [t for t in (project.fields.get("traffic") or []) if t["deployment"] == deployment.id] if project else []
            if any(t["weight"] > 0 for t in carried):
                raise Conflict(
                    "the deployment carries traffic: set the project's traffic weights without it first", field="deploymentId"
                )
            if project is not None:
                # Weights name live deployments only: its 0 leaves with them, a change kept
                # like any other. The project is written either way, so that weights set
                # at the same time (which write it too) conflict with this, not miss it.
                kept = [t for t in project.fields.get("traffic") or [] if t["deployment"] != deployment.id]
                await tx.update_node(project.id, fields={**project.fields, "traffic": kept})
                if carried:
                    await _record(tx, project.id, TRAFFIC, kept, f"deployment {deployment.name} retired", actor)
        served = await _one_neighbor(tx, deployment.id, "deployment_modelversion", Step.OUT)
        await _relist(tx, [served.id if served else None], retiring=deployment.id)
        if served is not None:
            # Its lineage keeps the version it served last; its history says it serves none now.
            await _record(tx, deployment.id, SERVED, {"version": None, "retired": True}, "retired", actor)
        return await _updated(tx, deployment, fields={**deployment.fields, "status": "RETIRED"})

    return await _commit(store, idempotency_key, "retire_deployment", inputs, work, then)

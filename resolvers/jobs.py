"""Jobs: a train or serve job of a project, holding the frozen snapshot it runs from
(spec, environment, container image, saved model path, hardware), so that it can be
replayed exactly; its status moves PENDING -> RUNNING -> SUCCEEDED | FAILED, or to
CANCELLED before it ends, each change kept with its time in the job's history.

A replay is a new PENDING job with the same snapshot, linked to the job it replays; the
original is never changed. An executor finds work with ``jobs(status: PENDING)`` and
reports with ``updateJobStatus``; a train job that succeeds names the run it produced.
"""

from __future__ import annotations

import re
from typing import Any

from metagate.resolvers import validate
from metagate.resolvers.authz import check_project
from metagate.resolvers.hub import _record, hardware, reason
from metagate.resolvers.registry import Then, _commit, _edge, _inputs, _insert_new, _node, _one_neighbor, _updated, require
from metagate.store.errors import BadUserInput, Conflict
from metagate.store.model import JOB_STATUSES, JOB_TYPES, JSONObject, Kind, Node, Step, utcnow
from metagate.store.port import Store, Tx

STATUS = "status"
# Where a job goes from each status; SUCCEEDED, FAILED and CANCELLED are final.
MOVES = {
    "PENDING": ("RUNNING", "CANCELLED", "FAILED"),
    "RUNNING": ("SUCCEEDED", "FAILED", "CANCELLED"),
}
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
# Names that say their value is a secret, word by word (HF_TOKEN, DB_PASSWORD,
# AWS_SECRET_ACCESS_KEY, OPENAI_API_KEY; not TOKENIZER_PATH): such a value is given as a
# reference to where the executor finds it (``secret:<name>``), never as itself.
SECRET_WORDS = frozenset({"SECRET", "SECRETS", "TOKEN", "PASSWORD", "PASSWD", "PWD", "CREDENTIAL", "CREDENTIALS", "APIKEY"})
SECRET_PAIRS = frozenset({("API", "KEY"), ("ACCESS", "KEY"), ("PRIVATE", "KEY"), ("SECRET", "KEY")})
SECRET_REF = re.compile(r"secret:[A-Za-z0-9_./\-]{1,200}")
MAX_ENV = 200
MAX_VALUE = 4096
SNAPSHOT = ("spec", "env", "image", "modelPath", "hardware")


def _secret(name: str) -> bool:
    words = [w for w in name.upper().split("_") if w]
    return any(w in SECRET_WORDS for w in words) or any(pair in SECRET_PAIRS for pair in zip(words, words[1:]))


def env(value: Any) -> dict[str, str]:
    """The job's environment variables: names as a shell takes them, values text; a
    variable whose name says it holds a secret takes a ``secret:<name>`` reference."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadUserInput("env: an object of NAME: value", field="env")
    if len(value) > MAX_ENV:
        raise BadUserInput(f"env: at most {MAX_ENV} variables", field="env")
    out: dict[str, str] = {}
    for name, text in value.items():
        at = f"env.{name}"
        if not ENV_NAME.fullmatch(name):
            raise BadUserInput(f"{at}: a variable name is letters, digits and _, not starting with a digit", field="env")
        if not isinstance(text, str) or "\x00" in text or len(text) > MAX_VALUE:
            raise BadUserInput(f"{at}: a text of at most {MAX_VALUE} characters", field=at)
        if _secret(name) and text and not SECRET_REF.fullmatch(text):
            raise BadUserInput(
                f"{at}: its name says it is a secret: give where the executor finds it (secret:<name>), not its value;"
                " nothing of it was kept",
                field=at,
            )
        out[name] = text
    return out


def snapshot(*, spec: Any, env_: Any, image: str | None, model_path: str | None, hardware_: Any) -> JSONObject:
    """What a job runs from, checked, as stored: the same snapshot replays the same job."""
    checked_image = validate.name(image, field="image") if image is not None else None
    if model_path is not None and (not model_path.strip() or any(c.isspace() for c in model_path) or len(model_path) > 2048):
        raise BadUserInput("modelPath: a path or URI without spaces", field="modelPath")
    return {
        "spec": validate.json_object(spec, field="spec") if spec is not None else {},
        "env": env(env_),
        "image": checked_image,
        "modelPath": model_path,
        "hardware": hardware(hardware_, field="hardware"),
    }


async def create_job(
    store: Store,
    *,
    project_id: str,
    type_: str,
    spec: Any = None,
    env_: Any = None,
    image: str | None = None,
    model_path: str | None = None,
    hardware_: Any = None,
    model_id: str | None = None,
    deployment_id: str | None = None,
    tags: Any = None,
    attributes: Any = None,
    actor: str | None = None,
    allowed_projects: frozenset[str] | None = None,
    idempotency_key: str | None = None,
    then: Then | None = None,
) -> Node:
    """A PENDING job of the project: a TRAIN job of one of its models, or a SERVE job of
    one of its deployments."""
    inputs = _inputs(locals())
    inputs.pop("actor")
    if type_ not in JOB_TYPES:
        raise BadUserInput(f"type must be one of {', '.join(JOB_TYPES)}", field="type")
    if type_ == "SERVE" and deployment_id is None:
        raise BadUserInput("a SERVE job names the deployment it serves", field="deploymentId")
    if type_ == "TRAIN" and deployment_id is not None:
        raise BadUserInput("a TRAIN job serves no deployment: give modelId", field="deploymentId")
    if type_ == "TRAIN" and model_id is None:
        raise BadUserInput("a TRAIN job names the model it trains", field="modelId")
    frozen = snapshot(spec=spec, env_=env_, image=image, model_path=model_path, hardware_=hardware_)
    checked_tags = validate.tags(tags)
    checked_attributes = validate.json_object(attributes)

    async def work(tx: Tx) -> Node:
        project = await require(tx, project_id, Kind.PROJECT, field="projectId")
        await check_project(tx, allowed_projects, project)
        model = await require(tx, model_id, Kind.MODEL, field="modelId") if model_id else None
        if model is not None and model.scope != project.id:
            raise BadUserInput("modelId: a model of another project", field="modelId")
        deployment = await require(tx, deployment_id, Kind.DEPLOYMENT, field="deploymentId") if deployment_id else None
        if deployment is not None:
            served = await _one_neighbor(tx, deployment.id, "deployment_model", Step.OUT)
            if served is None or served.scope != project.id:
                raise BadUserInput("deploymentId: a deployment of another project", field="deploymentId")
            if deployment.fields.get("status") == "RETIRED":
                raise Conflict("deploymentId: the deployment is retired: it serves nothing", field="deploymentId")
            if model is not None and model.id != served.id:
                raise BadUserInput("modelId: the deployment serves another model", field="modelId")
        job = _new_job(project, type_, frozen, checked_tags, checked_attributes)
        await _insert_new(tx, [job])
        edges = [_edge("job_project", job, project)]
        if model is not None:
            edges.append(_edge("job_model", job, model))
        if deployment is not None:
            edges.append(_edge("job_deployment", job, deployment))
        await tx.insert_edges(edges)
        await _record(tx, job.id, STATUS, {"status": "PENDING"}, None, actor)
        return job

    return await _commit(store, idempotency_key, "create_job", inputs, work, then)


def _new_job(project: Node, type_: str, frozen: JSONObject, tags: tuple[str, ...], attributes: JSONObject) -> Node:
    return _node(
        Kind.JOB,
        None,
        scope=project.id,
        tags=tags,
        attributes=attributes,
        fields={"type": type_, "status": "PENDING", **frozen},
    )


async def replay_job(
    store: Store,
    *,
    job_id: str,
    actor: str | None = None,
    allowed_projects: frozenset[str] | None = None,
    idempotency_key: str | None = None,
    then: Then | None = None,
) -> Node:
    """A new PENDING job with exactly the snapshot of ``job_id``, of the same project,
    model or deployment, linked to it; ``job_id`` is not changed."""
    inputs = _inputs(locals())
    inputs.pop("actor")

    async def work(tx: Tx) -> Node:
        original = await require(tx, job_id, Kind.JOB, field="jobId")
        await check_project(tx, allowed_projects, original)
        [project] = await tx.get_nodes([original.scope])
        if project is None:
            raise Conflict("the job's project no longer exists", field="jobId")
        deployment = await _one_neighbor(tx, original.id, "job_deployment", Step.OUT)
        if deployment is not None and deployment.fields.get("status") == "RETIRED":
            raise Conflict("the deployment this job serves is retired: a replay would serve nothing", field="jobId")
        frozen = {k: original.fields.get(k) for k in SNAPSHOT}
        job = _new_job(project, original.fields["type"], frozen, original.tags, original.attributes)
        await _insert_new(tx, [job])
        edges = [_edge("job_project", job, project), _edge("job_replayof", job, original)]
        for edge_kind in ("job_model", "job_deployment"):
            linked = await _one_neighbor(tx, original.id, edge_kind, Step.OUT)
            if linked is not None:
                edges.append(_edge(edge_kind, job, linked))
        await tx.insert_edges(edges)
        await _record(tx, job.id, STATUS, {"status": "PENDING"}, f"replay of {original.id}", actor)
        return job

    return await _commit(store, idempotency_key, "replay_job", inputs, work, then)


async def update_job_status(
    store: Store,
    *,
    job_id: str,
    status: str,
    run_id: str | None = None,
    message: str | None = None,
    actor: str | None = None,
    allowed_projects: frozenset[str] | None = None,
    idempotency_key: str | None = None,
    then: Then | None = None,
) -> Node:
    """Moves a job's status on (PENDING -> RUNNING -> SUCCEEDED | FAILED; CANCELLED before
    it ends). Reporting the status it has changes nothing. A TRAIN job's run is named
    when it SUCCEEDS (a run of its model)."""
    inputs = _inputs(locals())
    inputs.pop("actor")
    if status not in JOB_STATUSES:
        raise BadUserInput(f"status must be one of {', '.join(JOB_STATUSES)}", field="status")
    why = reason(message)

    async def work(tx: Tx) -> Node:
        job = await require(tx, job_id, Kind.JOB, field="jobId")
        await check_project(tx, allowed_projects, job)
        current = job.fields.get("status") or "PENDING"
        produced = await _one_neighbor(tx, job.id, "run_job", Step.IN)
        if current == status and (run_id is None or (produced is not None and produced.id == run_id)):
            return job  # a report repeated (an executor's retry): nothing changes
        if status not in MOVES.get(current, ()):
            raise Conflict(f"a {current} job cannot become {status}", field="status")
        fields = {**job.fields, "status": status}
        now = utcnow()
        if status == "RUNNING":
            fields["startedAt"] = now
        if status in ("SUCCEEDED", "FAILED", "CANCELLED"):
            fields["endedAt"] = now
        edges = []
        if run_id is not None:
            if job.fields.get("type") != "TRAIN" or status != "SUCCEEDED":
                raise BadUserInput("runId: only a TRAIN job that SUCCEEDED names the run it produced", field="runId")
            run = await require(tx, run_id, Kind.RUN, field="runId")
            model = await _one_neighbor(tx, job.id, "job_model", Step.OUT)
            if model is None or run.scope != model.id:
                raise BadUserInput("runId: a run of another model than the job's", field="runId")
            if produced is not None or await _one_neighbor(tx, run.id, "run_job", Step.OUT) is not None:
                raise Conflict("runId: the run, or this job, is already linked to a job's run", field="runId")
            edges.append(_edge("run_job", run, job))
        updated = await _updated(tx, job, fields=fields)
        await tx.insert_edges(edges)
        await _record(tx, job.id, STATUS, {"status": status}, why, actor)
        return updated

    return await _commit(store, idempotency_key, "update_job_status", inputs, work, then)

"""Property test: `lineage` over random pipeline graphs agrees with an independent BFS.

The graphs are recorded through the public GraphQL mutations only, and the expected
answer is computed here from our own record of the edges each mutation creates and
our own copy of the direction table in DESIGN.md ("Data dictionary"). Nothing about
lineage direction is imported from the code under test: a wrong row there, a walk
that turns around, or an off-by-one in depth must show up as a difference.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict, deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from metagate.gateway.app import create_app
from metagate.gateway.config import Settings
from metagate.resolvers.queries import Limits
from metagate.store.sqlite import SQLiteStore
from tests.conftest import GraphQLClient

# --------------------------------------------------------------------------------------
# The oracle: DESIGN.md's edge-kind table, typed by hand (not store.model.EDGE_KINDS),
# so that a wrong row in the code's table cannot also be wrong here.
# Value: which end of the edge is upstream; None for grouping-only edges.
# --------------------------------------------------------------------------------------

UPSTREAM_END: dict[str, str | None] = {
    "FEATURESET_DATASET": "to",
    "RUN_DATASET": "to",
    "RUN_FEATURESET": "to",
    "RUN_MODELPARAMS": "to",
    "RUN_MODEL": "from",
    "RUN_DEVPERF": "from",
    "DEPLOYMENT_MODEL": "to",
    "DEPLOYMENT_FEATURESET": "to",
    "DEPLOYMENT_MODELPARAMS": "to",
    "DEPLOYMENT_SERVINGPERF": "from",
    "PROJECT_MODEL": None,
    # The information hub: a version from its run, a deployment from the version it
    # serves; a train job's run from the job, a replay from its original.
    "MODELVERSION_MODEL": None,
    "MODELVERSION_RUN": "to",
    "DEPLOYMENT_MODELVERSION": "to",
    "JOB_PROJECT": None,
    "JOB_MODEL": None,
    "JOB_DEPLOYMENT": None,
    "JOB_REPLAYOF": "to",
    "RUN_JOB": "to",
    # Steps: a step from what it read, what it wrote from it; its job, run or pipeline
    # run only groups it.
    **{f"STEP_INPUT_{asset}": "to" for asset in ("DATASET", "FEATURESET", "MODELVERSION", "MODEL", "DEPLOYMENT")},
    **{f"STEP_OUTPUT_{asset}": "from" for asset in ("DATASET", "FEATURESET", "MODELVERSION", "MODEL", "DEPLOYMENT")},
    "STEP_JOB": None,
    "STEP_RUN": None,
    "STEP_PARENT": None,
    # Declared by the test (record_custom): a dataset from its source, a report from the
    # deployment it watched (declared deployment -> report), a report from a source, a
    # featureset also from a dataset, and a grouping. Spelt CUSTOM:<name> here.
    "CUSTOM:source_of": "to",
    "CUSTOM:reports": "from",
    "CUSTOM:report_source": "to",
    "CUSTOM:twin": "to",
    "CUSTOM:grouped": None,
}

NODE_KINDS = (
    "PROJECT",
    "DATASET",
    "FEATURESET",
    "RUN",
    "MODEL",
    "MODELPARAMS",
    "DEVPERF",
    "DEPLOYMENT",
    "SERVINGPERF",
    "MODELVERSION",
    "JOB",
    "STEP",
    "CUSTOM",
)

DIRECTIONS = ("UPSTREAM", "DOWNSTREAM", "BOTH")
DEPTHS = (1, 2, 3, 4, 5, 6)
# Without steps the longest lineage path these graphs hold is 5 edges (dataset ->
# featureset -> run -> model -> deployment -> servingperf); steps deriving datasets from
# datasets make longer ones, so depths 1-6 also cut walks short. The server's default
# depth is 10.
SERVER_DEFAULT_DEPTH = 10

EdgeKey = tuple[str, str, str]  # (kind, from id, to id), as the API spells them


@dataclass
class Graph:
    """What the mutations should have written, as we understand their meaning."""

    kind: dict[str, str] = field(default_factory=dict)  # global id -> NodeKind
    edges: set[EdgeKey] = field(default_factory=set)
    order: list[str] = field(default_factory=list)  # creation order, for stable draws

    def node(self, node_id: str, kind: str) -> str:
        assert node_id not in self.kind, f"a mutation returned an id twice: {node_id}"
        self.kind[node_id] = kind
        self.order.append(node_id)
        return node_id

    def edge(self, kind: str, from_id: str, to_id: str) -> None:
        self.edges.add((kind, from_id, to_id))

    def steps(self, node_id: str, direction: str) -> Iterator[tuple[str, EdgeKey]]:
        """One lineage step from ``node_id``: (the node reached, the edge used)."""
        for edge in self.edges:
            kind, frm, to = edge
            up = UPSTREAM_END[kind]
            if up is None:
                continue  # project_model groups models; it is not lineage
            upstream_id, downstream_id = (to, frm) if up == "to" else (frm, to)
            if direction == "UPSTREAM" and downstream_id == node_id:
                yield upstream_id, edge
            elif direction == "DOWNSTREAM" and upstream_id == node_id:
                yield downstream_id, edge

    def reach(self, start: str, direction: str, depth: int) -> dict[str, int]:
        """Minimal edge count to every node reachable from ``start`` walking one way
        only (UPSTREAM or DOWNSTREAM), within ``depth``; ``start`` itself excluded."""
        assert direction in ("UPSTREAM", "DOWNSTREAM")
        seen = {start: 0}
        queue = deque([start])
        while queue:
            here = queue.popleft()
            if seen[here] == depth:
                continue
            for there, _ in self.steps(here, direction):
                if there not in seen:
                    seen[there] = seen[here] + 1
                    queue.append(there)
        del seen[start]
        return seen

    def expected(self, start: str, direction: str, depth: int) -> dict[str, tuple[int, str]]:
        """node id -> (minimal depth, UPSTREAM|DOWNSTREAM). BOTH is the union of two
        one-way walks, never a walk that changes direction half way."""
        ways = ("UPSTREAM", "DOWNSTREAM") if direction == "BOTH" else (direction,)
        out: dict[str, tuple[int, str]] = {}
        for way in ways:
            for node_id, d in self.reach(start, way, depth).items():
                # Lineage is acyclic (dataset < featureset < run < model < deployment
                # < servingperf; params before run and deployment; run before devperf),
                # so nothing is both upstream and downstream of the start.
                assert node_id not in out, f"oracle: {node_id} both up- and downstream"
                out[node_id] = (d, way)
        return out


# --------------------------------------------------------------------------------------
# Random pipeline plans. Indices are drawn small and resolved modulo what exists, so
# every plan is valid and shrinks well.
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunPlan:
    model: int
    dataset: int
    featureset: int
    name: int | None  # from a tiny range, so that a model's run names repeat
    tagged: bool  # carries a deploymentTag


@dataclass(frozen=True)
class DeploymentPlan:
    by_tag: bool  # from a tagged run; otherwise explicit model/featureset/params
    run: int
    model: int
    featureset: int
    params_of: int  # whose run's modelparams an explicit deployment uses


@dataclass(frozen=True)
class Plan:
    projects: int
    datasets: int
    featuresets: tuple[int, ...]  # the dataset each featureset is derived from
    models: tuple[int, ...]  # the project each model belongs to
    runs: tuple[RunPlan, ...]
    deployments: tuple[DeploymentPlan, ...]
    serving: tuple[tuple[int, bool], ...]  # (deployment, logged through its tag)
    versions: tuple[int, ...] = ()  # the run each model version is registered from
    serves: tuple[tuple[int, int], ...] = ()  # (deployment, version) moves, in order
    jobs: tuple[tuple[int, bool, int | None], ...] = ()  # (model, replayed, the run it produced)
    steps: tuple[StepPlan, ...] = ()
    grouped: bool = False  # the steps are logged under a pipeline run
    custom: tuple[CustomPlan, ...] = ()


@dataclass(frozen=True)
class CustomPlan:
    """A node of a declared kind (a source, or a report) and what it links to: a
    source's datasets, a report's deployments and sources; or, with ``twin``, a
    featureset linked to another dataset it was derived from."""

    report: bool
    links: tuple[int, ...]
    grouped_with: int | None = None
    twin: bool = False


@dataclass(frozen=True)
class StepPlan:
    """A step reading some assets that exist (those of the pipeline, and the datasets
    earlier steps wrote), writing new datasets and perhaps one asset that exists."""

    inputs: tuple[int, ...]
    new_datasets: int
    existing_output: int | None


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    projects = draw(st.integers(1, 2))
    datasets = draw(st.integers(1, 3))
    featuresets = draw(st.lists(st.integers(0, datasets - 1), min_size=1, max_size=4))
    models = draw(st.lists(st.integers(0, projects - 1), min_size=1, max_size=3))
    runs = draw(
        st.lists(
            st.builds(
                RunPlan,
                model=st.integers(0, len(models) - 1),
                dataset=st.integers(0, datasets - 1),
                featureset=st.integers(0, len(featuresets) - 1),
                name=st.none() | st.integers(0, 2),
                tagged=st.booleans(),
            ),
            max_size=8,
        )
    )
    deployments = draw(
        st.lists(
            st.builds(
                DeploymentPlan,
                by_tag=st.booleans(),
                run=st.integers(0, 7),
                model=st.integers(0, len(models) - 1),
                featureset=st.integers(0, len(featuresets) - 1),
                params_of=st.integers(0, 7),
            ),
            max_size=3,
        )
    )
    serving = draw(st.lists(st.tuples(st.integers(0, 2), st.booleans()), max_size=4))
    versions = draw(st.lists(st.integers(0, 7), max_size=4))
    serves = draw(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 3)), max_size=4))
    jobs = draw(st.lists(st.tuples(st.integers(0, 2), st.booleans(), st.none() | st.integers(0, 7)), max_size=3))
    step_plans = st.builds(
        StepPlan,
        inputs=st.lists(st.integers(0, 30), max_size=3).map(tuple),
        new_datasets=st.integers(0, 2),
        existing_output=st.none() | st.integers(0, 30),
    )
    steps = draw(st.lists(step_plans, max_size=5))
    custom = draw(
        st.lists(
            st.builds(
                CustomPlan,
                report=st.booleans(),
                links=st.lists(st.integers(0, 30), max_size=3).map(tuple),
                grouped_with=st.none() | st.integers(0, 5),
                twin=st.booleans(),
            ),
            max_size=4,
        )
    )
    return Plan(
        projects,
        datasets,
        tuple(featuresets),
        tuple(models),
        tuple(runs),
        tuple(deployments),
        tuple(serving),
        tuple(versions),
        tuple(serves),
        tuple(jobs),
        tuple(steps),
        draw(st.booleans()),
        tuple(custom),
    )


# --------------------------------------------------------------------------------------
# Recording a plan through the mutations, noting the edges each one means
# (resolvers/registry.py).
# --------------------------------------------------------------------------------------

CREATE_PROJECT = "mutation($i: CreateProjectInput!) { createProject(input: $i) { project { id } created } }"
REGISTER_DATASET = "mutation($i: RegisterDatasetInput!) { registerDataset(input: $i) { dataset { id } created } }"
REGISTER_FEATURESET = "mutation($i: RegisterFeaturesetInput!) { registerFeatureset(input: $i) { featureset { id } created } }"
REGISTER_MODEL = "mutation($i: RegisterModelInput!) { registerModel(input: $i) { model { id } created } }"
LOG_RUN = "mutation($i: LogRunInput!) { logRun(input: $i) { run { id } modelParams { id } devPerf { id } created } }"
REGISTER_DEPLOYMENT = "mutation($i: RegisterDeploymentInput!) { registerDeployment(input: $i) { deployment { id } created } }"
LOG_SERVING_PERF = "mutation($i: LogServingPerfInput!) { logServingPerf(input: $i) { servingPerf { id } } }"
REGISTER_VERSION = "mutation($i: RegisterModelVersionInput!) { registerModelVersion(input: $i) { modelVersion { id } } }"
SERVE = "mutation($i: ServeModelVersionInput!) { serveModelVersion(input: $i) { moved } }"
CREATE_JOB = "mutation($i: CreateJobInput!) { createJob(input: $i) { job { id } } }"
JOB_STATUS = "mutation($i: UpdateJobStatusInput!) { updateJobStatus(input: $i) { job { id } } }"
REPLAY_JOB = "mutation($i: ReplayJobInput!) { replayJob(input: $i) { job { id } } }"
LOG_STEPS = """mutation($i: LogStepsInput!) { logSteps(input: $i) { steps { step { id
  outputDatasets { nodes { id name } } } } } }"""
# Where each kind a step may touch stands in the pipeline's order (what is derived comes
# later): a step reads only what stands before what it writes, so that lineage stays
# acyclic as the oracle's BOTH assumes.
RANK = {"DATASET": 0.0, "FEATURESET": 1.0, "MODEL": 3.0, "MODELVERSION": 4.0, "DEPLOYMENT": 5.0}


@dataclass
class LoggedRun:
    run: str
    model: str
    featureset: str
    params: str
    perf: str
    deployment_tag: str | None


async def record(gql: GraphQLClient, plan: Plan) -> Graph:
    g = Graph()

    projects = []
    for p in range(plan.projects):
        out = (await gql(CREATE_PROJECT, i={"name": f"project-{p}"}))["createProject"]
        assert out["created"] is True
        projects.append(g.node(out["project"]["id"], "PROJECT"))

    datasets = []
    for d in range(plan.datasets):
        out = (await gql(REGISTER_DATASET, i={"name": f"dataset-{d}"}))["registerDataset"]
        assert out["created"] is True
        datasets.append(g.node(out["dataset"]["id"], "DATASET"))

    featuresets = []
    for f, derived_from in enumerate(plan.featuresets):
        out = (await gql(REGISTER_FEATURESET, i={"name": f"features-{f}", "datasetId": datasets[derived_from]}))[
            "registerFeatureset"
        ]
        assert out["created"] is True
        featuresets.append(g.node(out["featureset"]["id"], "FEATURESET"))
        g.edge("FEATURESET_DATASET", featuresets[-1], datasets[derived_from])

    models = []
    for m, project in enumerate(plan.models):
        out = (await gql(REGISTER_MODEL, i={"name": f"model-{m}", "projectId": projects[project]}))["registerModel"]
        assert out["created"] is True
        models.append(g.node(out["model"]["id"], "MODEL"))
        g.edge("PROJECT_MODEL", projects[project], models[-1])

    runs: list[LoggedRun] = []
    by_name: dict[tuple[str, str], LoggedRun] = {}
    logged_as: dict[tuple[str, str], dict[str, Any]] = {}
    for r, rp in enumerate(plan.runs):
        model, dataset, featureset = models[rp.model], datasets[rp.dataset], featuresets[rp.featureset]
        name = f"trial-{rp.name}" if rp.name is not None else None
        tag = f"dt-{r}" if rp.tagged else None
        data = {
            "modelId": model,
            "datasetId": dataset,
            "featuresetId": featureset,
            "name": name,
            "deploymentTag": tag,
            "params": {"max_depth": r},
            "metrics": {"rmse": 1.0 / (r + 1)},
        }
        earlier = by_name.get((model, name)) if name is not None else None
        if earlier is not None:
            # A name its model already has: other content (params always differ here) is
            # refused, the same content answers the stored run; neither writes anything.
            refused = await gql.error(LOG_RUN, i=data)
            assert refused["extensions"]["code"] == "CONFLICT", refused
            out = (await gql(LOG_RUN, i=logged_as[(model, name)]))["logRun"]
            assert out["created"] is False
            assert (out["run"]["id"], out["modelParams"]["id"], out["devPerf"]["id"]) == (
                earlier.run,
                earlier.params,
                earlier.perf,
            )
            continue
        out = (await gql(LOG_RUN, i=data))["logRun"]
        assert out["created"] is True
        run = g.node(out["run"]["id"], "RUN")
        params = g.node(out["modelParams"]["id"], "MODELPARAMS")
        perf = g.node(out["devPerf"]["id"], "DEVPERF")
        g.edge("RUN_MODEL", run, model)
        g.edge("RUN_DATASET", run, dataset)
        g.edge("RUN_FEATURESET", run, featureset)
        g.edge("RUN_MODELPARAMS", run, params)
        g.edge("RUN_DEVPERF", run, perf)
        logged = LoggedRun(run, model, featureset, params, perf, tag)
        runs.append(logged)
        if name is not None:
            by_name[(model, name)] = logged
            logged_as[(model, name)] = data

    deployments: list[tuple[str, str]] = []  # (id, its tag)
    undeployed = [r for r in runs if r.deployment_tag is not None]
    for j, dp in enumerate(plan.deployments):
        if not runs:
            break  # an explicit deployment needs some run's modelparams
        if dp.by_tag and undeployed:
            source = undeployed.pop(dp.run % len(undeployed))
            assert source.deployment_tag is not None
            tag = source.deployment_tag
            out = (await gql(REGISTER_DEPLOYMENT, i={"deploymentTag": tag}))["registerDeployment"]
            model, featureset, params = source.model, source.featureset, source.params
        else:
            model = models[dp.model % len(models)]
            featureset = featuresets[dp.featureset % len(featuresets)]
            params = runs[dp.params_of % len(runs)].params
            tag = f"ex-{j}"
            out = (
                await gql(
                    REGISTER_DEPLOYMENT,
                    i={
                        "name": f"deployment-{j}",
                        "tag": tag,
                        "modelId": model,
                        "featuresetId": featureset,
                        "modelParamsId": params,
                    },
                )
            )["registerDeployment"]
        assert out["created"] is True
        deployment = g.node(out["deployment"]["id"], "DEPLOYMENT")
        g.edge("DEPLOYMENT_MODEL", deployment, model)
        g.edge("DEPLOYMENT_FEATURESET", deployment, featureset)
        g.edge("DEPLOYMENT_MODELPARAMS", deployment, params)
        deployments.append((deployment, tag))

    for week, (which, through_tag) in enumerate(plan.serving):
        if not deployments:
            break
        deployment, tag = deployments[which % len(deployments)]
        target = {"deploymentTag": tag} if through_tag else {"deploymentId": deployment}
        out = await gql(
            LOG_SERVING_PERF,
            i={
                **target,
                "periodStart": f"2026-01-{week + 1:02d}T00:00:00Z",
                "periodEnd": f"2026-01-{week + 2:02d}T00:00:00Z",
                "metrics": {"rmse": 0.5},
            },
        )
        serving = g.node(out["logServingPerf"]["servingPerf"]["id"], "SERVINGPERF")
        g.edge("DEPLOYMENT_SERVINGPERF", deployment, serving)

    await record_hub(gql, plan, g, projects, models, runs, deployments, plan.models)
    await record_steps(gql, plan, g)
    await record_custom(gql, plan, g, datasets, featuresets)

    # Registering again is idempotent: same node, and (what matters here) no new edge
    # that our record would not know about.
    again = (await gql(REGISTER_FEATURESET, i={"name": "features-0", "datasetId": datasets[plan.featuresets[0]]}))[
        "registerFeatureset"
    ]
    assert again == {"featureset": {"id": featuresets[0]}, "created": False}
    again = (await gql(REGISTER_MODEL, i={"name": "model-0", "projectId": projects[plan.models[0]]}))["registerModel"]
    assert again == {"model": {"id": models[0]}, "created": False}
    return g


async def record_hub(
    gql: GraphQLClient,
    plan: Plan,
    g: Graph,
    projects: list[str],
    models: list[str],
    runs: list[LoggedRun],
    deployments: list[tuple[str, str]],
    project_of: tuple[int, ...],
) -> None:
    """Versions of some runs, deployments moved between versions of their model, and
    train jobs (some replayed, some naming the run they produced)."""
    versions: list[tuple[str, str]] = []  # (id, its model)
    for v, which in enumerate(plan.versions):
        if not runs:
            break
        run = runs[which % len(runs)]
        out = await gql(REGISTER_VERSION, i={"modelId": run.model, "runId": run.run, "source": f"s3://v/{v}"})
        version = g.node(out["registerModelVersion"]["modelVersion"]["id"], "MODELVERSION")
        g.edge("MODELVERSION_MODEL", version, run.model)
        g.edge("MODELVERSION_RUN", version, run.run)
        versions.append((version, run.model))
    model_of = {}
    for deployment, _ in deployments:
        model_of[deployment] = next(e[2] for e in g.edges if e[0] == "DEPLOYMENT_MODEL" and e[1] == deployment)
    for which, version_index in plan.serves:
        if not deployments or not versions:
            break
        deployment, _ = deployments[which % len(deployments)]
        version, model = versions[version_index % len(versions)]
        if model != model_of[deployment]:
            continue  # a deployment serves versions of its own model only
        number = [m for _, m in versions[: version_index % len(versions) + 1]].count(model)  # 1, 2, ... per model
        await gql(SERVE, i={"deploymentId": deployment, "version": number})
        g.edges = {e for e in g.edges if not (e[0] == "DEPLOYMENT_MODELVERSION" and e[1] == deployment)}
        g.edge("DEPLOYMENT_MODELVERSION", deployment, version)
    claimed: set[str] = set()
    for m, replayed, produced in plan.jobs:
        model = models[m % len(models)]
        project = projects[project_of[m % len(models)]]
        job = g.node(
            (await gql(CREATE_JOB, i={"projectId": project, "type": "TRAIN", "modelId": model}))["createJob"]["job"]["id"], "JOB"
        )
        g.edge("JOB_PROJECT", job, project)
        g.edge("JOB_MODEL", job, model)
        if replayed:
            replay = g.node((await gql(REPLAY_JOB, i={"jobId": job}))["replayJob"]["job"]["id"], "JOB")
            g.edge("JOB_PROJECT", replay, project)
            g.edge("JOB_MODEL", replay, model)
            g.edge("JOB_REPLAYOF", replay, job)
            job = replay  # the replay produced the run, if any
        mine = [r for r in runs if r.model == model and r.run not in claimed]
        if produced is not None and mine:
            run = mine[produced % len(mine)]
            await gql(JOB_STATUS, i={"jobId": job, "status": "RUNNING"})
            await gql(JOB_STATUS, i={"jobId": job, "status": "SUCCEEDED", "runId": run.run})
            claimed.add(run.run)
            g.edge("RUN_JOB", run.run, job)


async def record_steps(gql: GraphQLClient, plan: Plan, g: Graph) -> None:
    """The plan's steps in one logSteps batch (under a pipeline run when grouped); a
    dataset an earlier step of the batch wrote is read by its name."""
    if not plan.steps:
        return
    rank = {i: RANK[g.kind[i]] for i in g.order if g.kind[i] in RANK}
    assets: list[tuple[str | None, str | None, float]] = [(i, None, r) for i, r in rank.items()]  # (id, name, rank)
    entries: list[dict[str, Any]] = [{"name": "pipeline", "phase": "PIPELINE"}] if plan.grouped else []
    wanted: list[tuple[list[tuple[str | None, str | None]], list[str], str | None]] = []
    for s, sp in enumerate(plan.steps):
        inputs = list(dict.fromkeys(assets[i % len(assets)] for i in sp.inputs))
        here = max((r for _, _, r in inputs), default=-1.0) + 0.01
        existing = assets[sp.existing_output % len(assets)] if sp.existing_output is not None else None
        if existing is not None and (existing[0] is None or existing[2] <= here):
            existing = None  # only what stands after all it read, and only what is there before the batch
        names = [f"derived-{s}-{k}" for k in range(sp.new_datasets)]
        entry: dict[str, Any] = {
            "name": f"step-{s}",
            "phase": ("FETCH", "CLEAN", "PREPARE", "TRAIN", "OTHER")[s % 5],
            "inputs": [{"id": i} if i is not None else {"dataset": n} for i, n, _ in inputs],
            "outputs": [{"dataset": n} for n in names] + ([{"id": existing[0]}] if existing else []),
        }
        if plan.grouped:
            entry["parentIndex"] = 0
        entries.append(entry)
        wanted.append(([(i, n) for i, n, _ in inputs], names, existing[0] if existing else None))
        assets += [(None, n, here + 0.001) for n in names]
    logged = [e["step"] for e in (await gql(LOG_STEPS, i={"steps": entries}))["logSteps"]["steps"]]
    if plan.grouped:
        parent = g.node(logged.pop(0)["id"], "STEP")
    by_name: dict[str, str] = {}
    for step, (inputs_, names, existing_id) in zip(logged, wanted):
        step_id = g.node(step["id"], "STEP")
        if plan.grouped:
            g.edge("STEP_PARENT", step_id, parent)
        written = {n["name"]: n["id"] for n in step["outputDatasets"]["nodes"]}
        for name in names:
            by_name[name] = g.node(written[name], "DATASET")
            g.edge("STEP_OUTPUT_DATASET", step_id, by_name[name])
        for node_id, name in inputs_:
            target = node_id if node_id is not None else by_name[name or ""]
            g.edge(f"STEP_INPUT_{g.kind[target]}", step_id, target)
        if existing_id is not None:
            g.edge(f"STEP_OUTPUT_{g.kind[existing_id]}", step_id, existing_id)


DECLARE_NODE_KIND = "mutation($i: DeclareNodeKindInput!) { declareNodeKind(input: $i) { created } }"
DECLARE_EDGE_KIND = "mutation($i: DeclareEdgeKindInput!) { declareEdgeKind(input: $i) { created } }"
LOG_CUSTOM = "mutation($i: LogCustomNodeInput!) { logCustomNode(input: $i) { node { id } created } }"
LINK_NODES = "mutation($i: LinkNodesInput!) { linkNodes(input: $i) { created } }"
DECLARED = (
    ("source_of", "dataset", "source", "TO"),
    ("reports", "deployment", "report", "FROM"),
    ("report_source", "report", "source", "TO"),
    ("twin", "featureset", "dataset", "TO"),
    ("grouped", "source", "report", "NONE"),
)


async def record_custom(gql: GraphQLClient, plan: Plan, g: Graph, datasets: list[str], featuresets: list[str]) -> None:
    """Declared kinds (a source stands before all data, a report after what it watched,
    so lineage stays acyclic) and the plan's nodes of them with their links; a twin
    links a featureset to one of the datasets registered first (before every derived one)."""
    if not plan.custom:
        return
    for kind in ("source", "report"):
        assert (await gql(DECLARE_NODE_KIND, i={"name": kind}))["declareNodeKind"]["created"] is True
    for name, from_kind, to_kind, upstream in DECLARED:
        await gql(DECLARE_EDGE_KIND, i={"name": name, "fromKind": from_kind, "toKind": to_kind, "upstream": upstream})
    all_datasets = [i for i in g.order if g.kind[i] == "DATASET"]
    deployments = [i for i in g.order if g.kind[i] == "DEPLOYMENT"]
    sources: list[str] = []
    reports: list[str] = []
    for c, cp in enumerate(plan.custom):
        if cp.twin:
            featureset, dataset = (
                featuresets[c % len(featuresets)],
                datasets[cp.links[0] % len(datasets)] if cp.links else datasets[0],
            )
            out = await gql(LINK_NODES, i={"edgeKind": "twin", "fromId": featureset, "toId": dataset})
            if ("CUSTOM:twin", featureset, dataset) not in g.edges:
                assert out["linkNodes"]["created"] is True
            g.edge("CUSTOM:twin", featureset, dataset)
        links: list[dict[str, str]] = []
        wanted: list[tuple[str, str, str | None]] = []  # (edge kind, other end, the end it is: from/to)
        for i in cp.links:
            if cp.report and i % 2 == 0 and deployments:
                wanted.append(("reports", deployments[i % len(deployments)], "from"))
            elif cp.report and sources:
                wanted.append(("report_source", sources[i % len(sources)], "to"))
            elif not cp.report:
                wanted.append(("source_of", all_datasets[i % len(all_datasets)], "from"))
        if cp.grouped_with is not None and cp.report and sources:
            wanted.append(("grouped", sources[cp.grouped_with % len(sources)], "from"))
        for edge, other, end in wanted:
            links.append({"edgeKind": edge, "fromId" if end == "from" else "toId": other})
        kind = "report" if cp.report else "source"
        out = (await gql(LOG_CUSTOM, i={"kind": kind, "name": f"{kind}-{c}", "links": links}))["logCustomNode"]
        node = g.node(out["node"]["id"], "CUSTOM")
        (reports if cp.report else sources).append(node)
        for edge, other, end in wanted:
            g.edge(f"CUSTOM:{edge}", other, node) if end == "from" else g.edge(f"CUSTOM:{edge}", node, other)


def _edge_kind(e: dict[str, Any]) -> str:
    return f"CUSTOM:{e['customKind']}" if e["kind"] == "CUSTOM" else str(e["kind"])


# --------------------------------------------------------------------------------------
# Querying and comparing.
# --------------------------------------------------------------------------------------

LINEAGE_SELECTION = "root { id } nodes { depth direction node { id kind } } edges { kind customKind from to } truncated"


def _sweep_query() -> str:
    """Every direction at every depth for one start node, as aliases of one request:
    one HTTP round trip instead of 18 keeps the test fast."""
    fields = [
        f"{direction.lower()}_{depth}: lineage(id: $id, direction: {direction}, depth: {depth}) {{ {LINEAGE_SELECTION} }}"
        for direction in DIRECTIONS
        for depth in DEPTHS
    ]
    return "query($id: ID!) {\n  " + "\n  ".join(fields) + "\n}"


SWEEP = _sweep_query()

LINEAGE = (
    "query($id: ID!, $d: LineageDirection!, $depth: Int, $kinds: [NodeKind!], $limit: Int) {"
    f" lineage(id: $id, direction: $d, depth: $depth, kinds: $kinds, limit: $limit) {{ {LINEAGE_SELECTION} }} }}"
)


def _label(g: Graph, pairs: set[tuple[str, int, str]]) -> list[tuple[str, str, int, str]]:
    """(kind, id, depth, direction): the kind makes a failure readable at a glance."""
    return sorted((g.kind.get(i, "?"), i, d, w) for i, d, w in pairs)


def check_lineage(
    g: Graph,
    got: dict[str, Any],
    *,
    start: str,
    direction: str,
    depth: int,
    kinds: Sequence[str] | None = None,
    limit: int | None = None,
) -> None:
    where = f"lineage({g.kind[start]} {start}, {direction}, depth={depth}, kinds={kinds}, limit={limit})"
    full = g.expected(start, direction, depth)
    # `kinds` filters what is returned, not what is walked: a deployment is still
    # found downstream of a dataset through runs and models that are filtered out.
    wanted = {n: dw for n, dw in full.items() if kinds is None or g.kind[n] in kinds}

    assert got["root"]["id"] == start, where
    returned = [(n["node"]["id"], n["depth"], n["direction"]) for n in got["nodes"]]
    ids = [r[0] for r in returned]
    assert len(ids) == len(set(ids)), f"{where}: a node is listed twice: {returned}"
    assert start not in ids, f"{where}: the start node is listed in its own lineage"
    for node_id, _, _ in returned:
        assert node_id in g.kind, f"{where}: returned a node no mutation created: {node_id}"
    returned_kind = {n["node"]["id"]: n["node"]["kind"] for n in got["nodes"]}
    assert all(g.kind[i] == k for i, k in returned_kind.items()), f"{where}: node kinds differ"

    got_pairs = {(i, d, w) for i, d, w in returned}
    want_pairs = {(i, d, w) for i, (d, w) in wanted.items()}
    cap = len(wanted) if limit is None else limit
    if len(wanted) <= cap:
        assert got_pairs == want_pairs, (
            f"{where}:\n  missing {_label(g, want_pairs - got_pairs)}\n  extra {_label(g, got_pairs - want_pairs)}"
        )
        assert got["truncated"] is False, f"{where}: truncated although nothing was cut"
    else:
        # More reachable than the limit: exactly `limit` of the right answers, the
        # nearest ones, and `truncated` says so.
        assert got["truncated"] is True, f"{where}: {len(wanted)} reachable, limit {limit}"
        assert len(returned) == limit, f"{where}: {len(returned)} nodes for limit {limit}"
        assert got_pairs <= want_pairs, f"{where}: wrong nodes {_label(g, got_pairs - want_pairs)}"
        left_out = [d for i, (d, _) in wanted.items() if i not in returned_kind]
        assert max(d for _, d, _ in returned) <= min(left_out), f"{where}: a limit kept a farther node and dropped a nearer one"

    # Edges: each one is a real lineage edge, walked the way its direction says, from
    # the root or a returned node within the depth, to a returned node.
    kept = {i: (d, w) for i, d, w in returned}
    for e in got["edges"]:
        key = (_edge_kind(e), e["from"], e["to"])
        assert key in g.edges, f"{where}: edge {key} was never created"
        up = UPSTREAM_END[key[0]]
        assert up is not None, f"{where}: grouping edge {key} returned as lineage"
        upstream_id, downstream_id = (e["to"], e["from"]) if up == "to" else (e["from"], e["to"])
        fits = False
        for way, near, far in (("UPSTREAM", downstream_id, upstream_id), ("DOWNSTREAM", upstream_id, downstream_id)):
            if direction not in (way, "BOTH"):
                continue
            near_depth = 0 if near == start else (full[near][0] if near in full and full[near][1] == way else None)
            if (
                near_depth is not None
                and near_depth < depth
                and (near == start or kept.get(near, (0, ""))[1] == way)
                and kept.get(far, (0, ""))[1] == way
            ):
                fits = True
        assert fits, f"{where}: edge {key} does not lie on this walk between returned nodes"

    if kinds is None:
        # Every returned node can be traced back to the root through the returned
        # edges: each has an edge to the root or to a returned node one step nearer.
        by_node: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for e in got["edges"]:
            by_node[e["from"]].append((e["to"], _edge_kind(e)))
            by_node[e["to"]].append((e["from"], _edge_kind(e)))
        for node_id, (d, way) in kept.items():
            nearer = {start} if d == 1 else {i for i, (dd, ww) in kept.items() if dd == d - 1 and ww == way}
            assert any(other in nearer for other, _ in by_node[node_id]), (
                f"{where}: no returned edge leads from {node_id} (depth {d}) towards the root"
            )


# --------------------------------------------------------------------------------------
# The property.
# --------------------------------------------------------------------------------------


async def _run(plan: Plan, data: st.DataObject) -> None:
    store = SQLiteStore(":memory:")
    await store.open()
    try:
        # One request asks many walks at once, each at the default limit: above the
        # default cost limit, which this test is not about.
        app = create_app(Settings(AUTH=False, LIMITS=Limits(max_query_cost=100_000)), store=store)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            gql = GraphQLClient(client)
            g = await record(gql, plan)

            # Each lineage call costs the server a few milliseconds, so rather than every
            # node, the sweep starts from one drawn node of every kind present (the
            # direction table is per kind, so this reaches every row of it) and two
            # more drawn anywhere.
            by_kind: dict[str, list[str]] = defaultdict(list)
            for node_id in g.order:
                by_kind[g.kind[node_id]].append(node_id)
            starts = [data.draw(st.sampled_from(nodes), label=f"{kind} start") for kind, nodes in by_kind.items()]
            starts += data.draw(st.lists(st.sampled_from(g.order), max_size=2), label="more starts")
            for start in dict.fromkeys(starts):
                sweep = await gql(SWEEP, id=start)
                for direction in DIRECTIONS:
                    for depth in DEPTHS:
                        check_lineage(
                            g,
                            sweep[f"{direction.lower()}_{depth}"],
                            start=start,
                            direction=direction,
                            depth=depth,
                        )

            # `kinds` and `limit` (and the server's default depth), on a few drawn starts:
            # the limit is drawn around the number of matching nodes so that both sides
            # of `truncated` get exercised.
            for _ in range(4):
                start = data.draw(st.sampled_from(g.order), label="start")
                direction = data.draw(st.sampled_from(DIRECTIONS), label="direction")
                asked = data.draw(st.none() | st.integers(1, 6), label="depth")
                walked = SERVER_DEFAULT_DEPTH if asked is None else asked
                kinds = data.draw(
                    st.none() | st.lists(st.sampled_from(NODE_KINDS), min_size=1, max_size=4, unique=True),
                    label="kinds",
                )
                matching = sum(1 for n in g.expected(start, direction, walked) if kinds is None or g.kind[n] in kinds)
                limit = data.draw(st.none() | st.integers(max(1, matching - 2), matching + 1), label="limit")
                got = (await gql(LINEAGE, id=start, d=direction, depth=asked, kinds=kinds, limit=limit))["lineage"]
                check_lineage(g, got, start=start, direction=direction, depth=walked, kinds=kinds, limit=limit)
    finally:
        await store.close()


@settings(max_examples=30, deadline=None)
@given(plan=plans(), data=st.data())
def test_lineage_matches_an_independent_bfs(plan: Plan, data: st.DataObject) -> None:
    # A plain test around asyncio.run: each example gets a fresh store and event loop,
    # which hypothesis (re-running the body many times) cannot get from fixtures.
    asyncio.run(_run(plan, data))

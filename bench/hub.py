"""The information hub's read and write against the read path's, in one run: the model
zoo query and setTrafficWeights, beside a nested deployment read and a logRun on the
same store, in process (the schema, its compiled path and the SQLite store, no HTTP).
Writes bench/results-hub.md.

    make bench-hub      # 20 projects x 10 models x 5 versions; --projects to scale
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path
from typing import Any

from bench.run import _measure
from bench.stats import Row
from metagate.resolvers import hub, registry
from metagate.resolvers.ids import encode_id
from metagate.resolvers.queries import Limits
from metagate.schema import build_schema
from metagate.schema.context import make_context
from metagate.store.model import Node, Step
from metagate.store.port import NeighborRequest
from metagate.store.sqlite import SQLiteStore

TASKS = ("regression", "classification", "ranking", "forecasting", "detection")
FRAMEWORKS = ("scikit-learn", "pytorch", "xgboost", "lightgbm")
ZOO = """query($task: String!) { modelZoo(first: 20, where: {model: {task: {eq: $task}}}) { nodes {
  id version source signature model { name task framework } run { devPerf { metrics } }
  deployments(first: 3) { nodes { name servingPerf(first: 1) { nodes { metrics } } } } } } }"""
ZOO_BY_METRIC = """query { modelZoo(first: 20, where: {run: {devPerf: {metric: {name: "rmse", lt: 0.3}}}}) {
  nodes { id version model { name } run { devPerf { metrics } } } } }"""
DEPLOYMENT = """query($id: ID!) { node(id: $id) { ... on Deployment { name lifecycle
  modelVersion { version source run { devPerf { metrics } } } model { name task framework }
  servingPerf(first: 1) { nodes { metrics } } } } }"""
TRAFFIC = """mutation($p: ID!, $w: [TrafficWeightInput!]!) { setTrafficWeights(input: {projectId: $p, weights: $w}) {
  project { id } } }"""
LOG_RUN = """mutation($m: ID!, $d: ID!, $f: ID!, $n: String!) { logRun(input: {name: $n, modelId: $m, datasetId: $d,
  featuresetId: $f, metrics: {rmse: 0.4}}) { run { id } } }"""


async def _hub(store: SQLiteStore, projects: int, models: int, versions: int) -> dict[str, Any]:
    """A hub: each model with ``versions`` versions from its runs, the newest its champion;
    two deployments per project serving versions of its first model, traffic shared."""
    dataset = (await registry.register_dataset(store, name="bench-data")).node
    featureset = (await registry.register_featureset(store, name="bench-features", dataset_id=dataset.id)).node
    made: dict[str, Any] = {"projects": [], "deployments": [], "dataset": dataset.id, "featureset": featureset.id, "models": []}
    number = 0
    for p in range(projects):
        project = (await registry.create_project(store, name=f"hub-{p}")).node
        first: Node | None = None
        deployments = []
        for m in range(models):
            number += 1
            model = (
                await registry.register_model(
                    store,
                    name=f"model-{m}",
                    project_id=project.id,
                    variation={"task": TASKS[number % len(TASKS)], "framework": FRAMEWORKS[number % len(FRAMEWORKS)]},
                )
            ).node
            made["models"].append(model.id)
            runs = await registry.log_runs(
                store,
                [
                    {
                        "model_id": model.id,
                        "dataset_id": dataset.id,
                        "featureset_id": featureset.id,
                        "metrics": {"rmse": ((number * 7 + v) % 50) / 100},
                        "params": {"depth": v},
                    }
                    for v in range(versions)
                ],
                max_runs=1000,
            )
            for v, logged in enumerate(runs):
                await hub.register_model_version(store, model_id=model.id, run_id=logged.run.id, source_=f"s3://m/{number}/{v}")
            await hub.set_model_alias(store, model_id=model.id, alias_name="champion", version=versions)
            if m == 0:
                first = model
                for d in range(2):
                    [params] = await store.neighbors([NeighborRequest(runs[d].run.id, "run_modelparams", Step.OUT, 1)])
                    deployment = await registry.register_deployment(
                        store,
                        name=f"hub-{p}-live-{d}",
                        model_id=model.id,
                        featureset_id=featureset.id,
                        model_params_id=params.items[0][0].id,
                    )
                    await hub.serve_version(store, deployment_id=deployment.node.id, version=versions - d)
                    deployments.append(deployment.node.id)
        assert first is not None
        await hub.set_traffic_weights(store, project_id=project.id, weights=[(deployments[0], 90), (deployments[1], 10)])
        made["projects"].append((project.id, deployments))
        made["deployments"] += deployments
    return made


async def bench(projects: int, models: int, versions: int, seconds: float, workdir: Path) -> tuple[list[Row], dict[str, int]]:
    store = SQLiteStore(str(workdir / "hub.db"))
    await store.open()
    try:
        made = await _hub(store, projects, models, versions)
        counts = await store.count_all()
        schema = build_schema()

        async def run(query: str, **variables: Any) -> None:
            result = await schema.execute(query, variable_values=variables, context_value=make_context(store, Limits(), "bench"))
            assert not result.errors, result.errors

        size = sum(v for k, v in counts.items() if not k.startswith("edge:") and k != "tags")
        deployments, projects_made = made["deployments"], made["projects"]

        def weights(i: int) -> list[dict[str, Any]]:
            _, (a, b) = projects_made[i % len(projects_made)]
            share = 50 + i % 50
            return [{"deploymentId": encode_id(a), "weight": share}, {"deploymentId": encode_id(b), "weight": 100 - share}]

        rows = [
            await _measure(
                size,
                "baseline: a deployment with its version, run and serving (read path)",
                lambda i: run(DEPLOYMENT, id=encode_id(deployments[i % len(deployments)])),
                seconds,
                store=store,
            ),
            await _measure(
                size,
                "modelZoo by task, 20 entries with model, run and serving",
                lambda i: run(ZOO, task=TASKS[i % 5]),
                seconds,
                store=store,
            ),
            await _measure(size, "modelZoo by a dev metric, 20 entries", lambda i: run(ZOO_BY_METRIC), seconds, store=store),
            await _measure(
                size,
                "baseline: logRun, one run (write path)",
                lambda i: run(
                    LOG_RUN,
                    m=encode_id(made["models"][i % len(made["models"])]),
                    d=encode_id(made["dataset"]),
                    f=encode_id(made["featureset"]),
                    n=f"bench-{i}",
                ),
                seconds,
                store=store,
            ),
            await _measure(
                size,
                "setTrafficWeights, two deployments",
                lambda i: run(TRAFFIC, p=encode_id(projects_made[i % len(projects_made)][0]), w=weights(i)),
                seconds,
                store=store,
            ),
        ]
        return rows, counts
    finally:
        await store.close()


def markdown(rows: list[Row], counts: dict[str, int], projects: int, models: int, versions: int) -> str:
    read_base, zoo, zoo_metric, write_base, traffic = rows
    lines = [
        "# The information hub against the read and write paths (`make bench-hub`)",
        "",
        f"In process, SQLite store, one request after another. The hub: {projects} projects x {models} models x"
        f" {versions} versions ({counts.get('modelversion', 0):,} versions, {counts.get('deployment', 0):,} deployments,"
        f" {counts.get('run', 0):,} runs). Times in ms; round trips are the statements sent to the store per request"
        " (a write's statements go to SQLite's thread in one hand-off).",
        "",
        "| nodes | system | scenario | p50 ms | p95 ms | p99 ms | throughput | round trips | peak RSS MB |",
        "|---|---|---|---|---|---|---|---|---|",
        *(r.markdown() for r in rows),
        "",
        "Ratios in this run (p50 against the baseline of the same path):",
        "",
        f"- modelZoo by task / nested deployment read: {zoo.p50 / read_base.p50:.2f}x"
        f" ({zoo.round_trips:.1f} round trips against {read_base.round_trips:.1f})",
        f"- modelZoo by a dev metric / nested deployment read: {zoo_metric.p50 / read_base.p50:.2f}x"
        f" ({zoo_metric.round_trips:.1f} round trips)",
        f"- setTrafficWeights / logRun: {traffic.p50 / write_base.p50:.2f}x"
        f" ({traffic.round_trips:.1f} statements against {write_base.round_trips:.1f})",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--projects", type=int, default=20)
    parser.add_argument("--models", type=int, default=10)
    parser.add_argument("--versions", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--output", default="bench/results-hub.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        rows, counts = asyncio.run(bench(args.projects, args.models, args.versions, args.seconds, Path(workdir)))
    text = markdown(rows, counts, args.projects, args.models, args.versions)
    Path(args.output).write_text(text)
    print(text)


if __name__ == "__main__":
    main()

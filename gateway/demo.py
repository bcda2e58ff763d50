"""A small, realistic pipeline recorded through the public GraphQL API: a housing-price
regression with a three-trial hyper-parameter search, the best trial deployed, and three
weeks of serving performance; in the information hub, the model's two versions (the
champion served, a fallback), the project's traffic, the train job that produced the
best trial and a replay of it waiting for an executor; each trial's training curve (its
rmse over 50 boosting stages); and the nightly pipeline run that made the champion, its
fetch, clean, prepare, train, evaluate, validate and deploy steps from the raw census
extract to the deployment; and two kinds of the team's own, declared: the source system
the extract came from, and weekly drift reports of the deployment."""

from __future__ import annotations

import datetime as dt
from typing import Any

from metagate.gateway.config import Settings
from metagate.schema import build_schema
from metagate.schema.context import make_context
from metagate.store.factory import store_from_url

PIPELINE = """
mutation Project($name: String!) {
  createProject(input: {name: $name, attributes: {owner: "pricing-team"}}) { project { id } created }
}
mutation Dataset($name: String!, $attributes: JSON) {
  registerDataset(input: {name: $name, tags: ["tabular"], attributes: $attributes}) { dataset { id } }
}
mutation Featureset($name: String!, $datasetId: ID!, $attributes: JSON) {
  registerFeatureset(input: {name: $name, datasetId: $datasetId, attributes: $attributes}) {
    featureset { id }
  }
}
mutation Model($name: String!, $projectId: ID!) {
  registerModel(input: {name: $name, projectId: $projectId, task: "regression", framework: "scikit-learn",
                        defaultHardware: {serving: {instanceType: "m5.large", cpu: 2, memoryGb: 8, count: 2},
                                          training: {instanceType: "c5.2xlarge", cpu: 8, memoryGb: 16}},
                        attributes: {estimator: "GradientBoostingRegressor"}}) {
    model { id }
  }
}
mutation Run($input: LogRunInput!) {
  logRun(input: $input) { run { id } created }
}
mutation Version($modelId: ID!, $runId: ID!, $source: String!) {
  registerModelVersion(input: {modelId: $modelId, runId: $runId, source: $source,
                               signature: {inputs: ["MedInc", "HouseAge", "AveRooms", "AveBedrms", "Population",
                                                    "AveOccup", "Latitude", "Longitude"], outputs: ["MedHouseVal"]}}) {
    modelVersion { id }
  }
}
mutation Alias($modelId: ID!, $alias: String!, $version: Int!, $reason: String) {
  setModelAlias(input: {modelId: $modelId, alias: $alias, version: $version, reason: $reason}) { moved }
}
mutation Deployment($tag: String!, $versionId: ID) {
  registerDeployment(input: {name: "housing-prod", deploymentTag: $tag, modelVersionId: $versionId}) {
    deployment { id } created
  }
}
mutation Traffic($projectId: ID!, $deploymentId: ID!) {
  setTrafficWeights(input: {projectId: $projectId, weights: [{deploymentId: $deploymentId, weight: 100}],
                            reason: "first release"}) { project { id } }
}
mutation Job($input: CreateJobInput!) {
  createJob(input: $input) { job { id } }
}
mutation JobStatus($jobId: ID!, $status: JobState!, $runId: ID) {
  updateJobStatus(input: {jobId: $jobId, status: $status, runId: $runId}) { job { id } }
}
mutation Replay($jobId: ID!) {
  replayJob(input: {jobId: $jobId}) { job { id } }
}
mutation Serving($input: LogServingPerfInput!) {
  logServingPerf(input: $input) { servingPerf { id } }
}
mutation Metrics($input: LogMetricsInput!) {
  logMetrics(input: $input) { points }
}
mutation Steps($input: LogStepsInput!) {
  logSteps(input: $input) { steps { step { id outputDatasets { nodes { id name } } } } }
}
mutation NodeKind($input: DeclareNodeKindInput!) {
  declareNodeKind(input: $input) { created }
}
mutation EdgeKind($input: DeclareEdgeKindInput!) {
  declareEdgeKind(input: $input) { created }
}
mutation Custom($input: LogCustomNodeInput!) {
  logCustomNode(input: $input) { node { id } }
}
"""

# Kinds of the pricing team's own: where raw data comes from, and the drift reports of
# what serves (each derived from the deployment it watched).
SOURCE_SCHEMA = {
    "type": "object",
    "properties": {"system": {"enum": ["http", "s3", "postgres"]}, "location": {"type": "string"}},
    "required": ["system", "location"],
}
DRIFT_SCHEMA = {
    "type": "object",
    "properties": {"psi": {"type": "number", "minimum": 0}, "week": {"type": "string"}, "alert": {"type": "boolean"}},
    "required": ["psi"],
}

TRIALS = [
    ({"n_estimators": 100, "learning_rate": 0.1, "max_depth": 3}, {"rmse": 0.542, "r2": 0.781}),
    ({"n_estimators": 300, "learning_rate": 0.05, "max_depth": 5}, {"rmse": 0.471, "r2": 0.834}),
    ({"n_estimators": 500, "learning_rate": 0.01, "max_depth": 4}, {"rmse": 0.498, "r2": 0.815}),
]
DEPLOYMENT_TAG = "housing-gbr-2026-11"


def _curve(final: float, params: dict[str, Any], began: dt.datetime) -> list[dict[str, Any]]:
    """A trial's rmse over 50 boosting stages, falling from 1.15 to its final value as
    fast as its learning rate lets it."""
    rate = 1 + 40 * float(params["learning_rate"])
    stages = range(1, 51)
    return [
        {
            "key": "rmse",
            "value": round(final + (1.15 - final) * (1 - stage / 50) ** rate, 4),
            "step": stage,
            "timestamp": (began + dt.timedelta(seconds=16 * stage)).isoformat(),
        }
        for stage in stages
    ]


def _pipeline_steps(dataset: str, featureset: str, version: str, deployment: str, start: dt.datetime) -> list[dict[str, Any]]:
    """The nightly pipeline run that made the champion: a step per phase, each reading
    what the one before it wrote (the raw extract is registered by the fetch step)."""

    def at(minutes: int, length: int) -> dict[str, str]:
        began = start + dt.timedelta(minutes=minutes)
        return {"startedAt": began.isoformat(), "endedAt": (began + dt.timedelta(minutes=length)).isoformat()}

    def step(name: str, phase: str, minutes: int, length: int, **more: Any) -> dict[str, Any]:
        return {"name": name, "phase": phase, "parentIndex": 0, **at(minutes, length), **more}

    return [
        {"name": "housing-nightly", "phase": "PIPELINE", "attributes": {"orchestrator": "liminal"}, **at(-20, 150)},
        step(
            "fetch-census",
            "FETCH",
            -20,
            4,
            outputs=[{"dataset": "california-housing-raw"}],
            attributes={"source": "https://www.dcc.fc.up.pt/~ltorgo/Regression/cal_housing.html", "rows": 20640},
        ),
        step(
            "clean",
            "CLEAN",
            -16,
            6,
            inputs=[{"dataset": "california-housing-raw"}],
            outputs=[{"id": dataset}],
            attributes={"dropped_rows": 0, "capped": ["MedHouseVal"]},
        ),
        step("prepare-features", "PREPARE", -10, 8, inputs=[{"id": dataset}], outputs=[{"id": featureset}]),
        step("train", "TRAIN", 20, 74, inputs=[{"id": featureset}], outputs=[{"id": version}], attributes={"trials": 3}),
        step("evaluate", "EVALUATE", 95, 5, inputs=[{"id": version}], attributes={"rmse": 0.471, "r2": 0.834}),
        step("validate", "VALIDATE", 100, 3, inputs=[{"id": version}], attributes={"checks": ["rmse < 0.5", "no drift"]}),
        step("deploy", "DEPLOY", 125, 5, inputs=[{"id": version}], outputs=[{"id": deployment}]),
    ]


async def _own_kinds(run: Any, raw: str, deployment: str, served: dt.datetime, week: dt.timedelta) -> None:
    """The team's kinds declared, the census bureau as the raw extract's source, and a
    drift report of each week served."""
    await run("NodeKind", input={"name": "source_system", "description": "Where raw data comes from", "schema": SOURCE_SCHEMA})
    await run("NodeKind", input={"name": "drift_report", "description": "A week of input drift", "schema": DRIFT_SCHEMA})
    await run("EdgeKind", input={"name": "extracted_from", "fromKind": "dataset", "toKind": "source_system", "upstream": "TO"})
    await run("EdgeKind", input={"name": "monitors", "fromKind": "deployment", "toKind": "drift_report", "upstream": "FROM"})
    census = {"system": "http", "location": "https://www.dcc.fc.up.pt/~ltorgo/Regression/cal_housing.html"}
    await run(
        "Custom",
        input={
            "kind": "source_system",
            "name": "us-census-1990",
            "attributes": census,
            "links": [{"edgeKind": "extracted_from", "fromId": raw}],
        },
    )
    for number, psi in enumerate((0.04, 0.09, 0.23)):
        monday = served + (number + 1) * week
        await run(
            "Custom",
            input={
                "kind": "drift_report",
                "name": f"housing-prod-{monday.date().isoformat()}",
                "attributes": {"psi": psi, "week": monday.date().isoformat(), "alert": psi > 0.2},
                "links": [{"edgeKind": "monitors", "fromId": deployment}],
            },
        )


async def load_demo(settings: Settings) -> str:
    store = store_from_url(settings.STORE)
    await store.open()
    try:
        schema = build_schema()

        async def run(operation: str, **variables: Any) -> dict[str, Any]:
            result = await schema.execute(
                PIPELINE,
                variable_values=variables,
                operation_name=operation,
                context_value=make_context(store, settings.LIMITS, "demo"),
            )
            if result.errors:
                raise RuntimeError(f"{operation}: {result.errors[0].message}")
            assert result.data is not None
            return result.data

        project = await run("Project", name="housing-prices")
        if not project["createProject"]["created"]:
            return "The demo pipeline is already in the store."
        project_id = project["createProject"]["project"]["id"]
        dataset_id = (
            await run(
                "Dataset",
                name="california-housing",
                attributes={"source": "sklearn.datasets.fetch_california_housing", "rows": 20640},
            )
        )["registerDataset"]["dataset"]["id"]
        featureset_id = (
            await run(
                "Featureset",
                name="housing-features-v1",
                datasetId=dataset_id,
                attributes={"target": "MedHouseVal", "features": 8, "scaling": "none"},
            )
        )["registerFeatureset"]["featureset"]["id"]
        model_id = (await run("Model", name="housing-gbr", projectId=project_id))["registerModel"]["model"]["id"]
        start = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
        runs = []
        for number, (params, metrics) in enumerate(TRIALS, start=1):
            best = metrics["rmse"] == min(m["rmse"] for _, m in TRIALS)
            began = start + dt.timedelta(minutes=20 * number)
            logged = await run(
                "Run",
                input={
                    "name": f"gbr-trial-{number}",
                    "modelId": model_id,
                    "datasetId": dataset_id,
                    "featuresetId": featureset_id,
                    "tag": "hyperparameter-search",
                    "deploymentTag": DEPLOYMENT_TAG if best else None,
                    "startTime": began.isoformat(),
                    "endTime": (began + dt.timedelta(minutes=14)).isoformat(),
                    "params": params,
                    "metrics": metrics,
                },
            )
            runs.append(logged["logRun"]["run"]["id"])
            await run("Metrics", input={"runId": runs[-1], "metrics": _curve(metrics["rmse"], params, began)})
        # Versions of the last trial (the fallback) and of the best (the champion, served).
        versions = [
            (await run("Version", modelId=model_id, runId=runs[i], source=f"s3://models/housing-gbr/trial-{i + 1}/"))[
                "registerModelVersion"
            ]["modelVersion"]["id"]
            for i in (2, 1)
        ]
        await run("Alias", modelId=model_id, alias="fallback", version=1, reason="the runner-up")
        await run("Alias", modelId=model_id, alias="champion", version=2, reason="best rmse of the search")
        deployment = await run("Deployment", tag=DEPLOYMENT_TAG, versionId=versions[1])
        await run("Traffic", projectId=project_id, deploymentId=deployment["registerDeployment"]["deployment"]["id"])
        job = (
            await run(
                "Job",
                input={
                    "projectId": project_id,
                    "type": "TRAIN",
                    "modelId": model_id,
                    "spec": {"estimator": "GradientBoostingRegressor", "params": TRIALS[1][0], "random_state": 7},
                    "env": {"PYTHONHASHSEED": "0", "REGISTRY_TOKEN": "secret:model-registry"},
                    "image": "python:3.11-slim",
                    "modelPath": "s3://models/housing-gbr/",
                    "hardware": {"instanceType": "c5.2xlarge", "cpu": 8, "memoryGb": 16},
                },
            )
        )["createJob"]["job"]["id"]
        await run("JobStatus", jobId=job, status="RUNNING")
        await run("JobStatus", jobId=job, status="SUCCEEDED", runId=runs[1])
        await run("Replay", jobId=job)
        week = dt.timedelta(days=7)
        served = dt.datetime(2026, 11, 3, tzinfo=dt.UTC)
        for number, rmse in enumerate((0.48, 0.51, 0.57)):
            await run(
                "Serving",
                input={
                    "deploymentTag": DEPLOYMENT_TAG,
                    "periodStart": (served + number * week).isoformat(),
                    "periodEnd": (served + (number + 1) * week).isoformat(),
                    "metrics": {"rmse": rmse, "requests": 120_000 + 9_000 * number},
                },
            )
        deployment_id = deployment["registerDeployment"]["deployment"]["id"]
        steps = await run("Steps", input={"steps": _pipeline_steps(dataset_id, featureset_id, versions[1], deployment_id, start)})
        [raw] = steps["logSteps"]["steps"][1]["step"]["outputDatasets"]["nodes"]  # the fetch step's
        await _own_kinds(run, raw["id"], deployment_id, served, week)
        return (
            "Loaded the demo pipeline: project housing-prices, 3 runs with their training curves, 2 model versions,"
            " deployment housing-prod, the 7 steps of the pipeline run that made it, the census source it came from"
            " and three weekly drift reports (kinds of the team's own)"
            f" (id {deployment_id}).\nRun `make serve` and open http://127.0.0.1:8000/ to see it."
        )
    finally:
        await store.close()

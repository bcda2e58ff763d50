"""A small, realistic pipeline recorded through the public GraphQL API: a housing-price
regression with a three-trial hyper-parameter search, the best trial deployed, and three
weeks of serving performance."""

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
  registerModel(input: {name: $name, projectId: $projectId,
                        attributes: {framework: "scikit-learn", estimator: "GradientBoostingRegressor"}}) {
    model { id }
  }
}
mutation Run($input: LogRunInput!) {
  logRun(input: $input) { run { id } created }
}
mutation Deployment($tag: String!) {
  registerDeployment(input: {name: "housing-prod", deploymentTag: $tag}) { deployment { id } created }
}
mutation Serving($input: LogServingPerfInput!) {
  logServingPerf(input: $input) { servingPerf { id } }
}
"""

TRIALS = [
    ({"n_estimators": 100, "learning_rate": 0.1, "max_depth": 3}, {"rmse": 0.542, "r2": 0.781}),
    ({"n_estimators": 300, "learning_rate": 0.05, "max_depth": 5}, {"rmse": 0.471, "r2": 0.834}),
    ({"n_estimators": 500, "learning_rate": 0.01, "max_depth": 4}, {"rmse": 0.498, "r2": 0.815}),
]
DEPLOYMENT_TAG = "housing-gbr-2026-11"


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
        for number, (params, metrics) in enumerate(TRIALS, start=1):
            best = metrics["rmse"] == min(m["rmse"] for _, m in TRIALS)
            began = start + dt.timedelta(minutes=20 * number)
            await run(
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
        deployment = await run("Deployment", tag=DEPLOYMENT_TAG)
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
        return (
            "Loaded the demo pipeline: project housing-prices, 3 runs, deployment housing-prod"
            f" (id {deployment_id}).\nRun `make serve` and open http://127.0.0.1:8000/ to see it."
        )
    finally:
        await store.close()

"""A small recorded pipeline, built through the GraphQL mutations, that tests share."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.conftest import GraphQLClient


@dataclass
class Pipeline:
    project: str
    dataset: str
    featureset: str
    model: str
    runs: list[str] = field(default_factory=list)
    params: list[str] = field(default_factory=list)
    perfs: list[str] = field(default_factory=list)
    deployment: str = ""
    serving: list[str] = field(default_factory=list)


async def record_pipeline(gql: GraphQLClient, *, runs: int = 3, prefix: str = "") -> Pipeline:
    project = (await gql('mutation { createProject(input: {name: "%shousing"}) { project { id } } }' % prefix))["createProject"][
        "project"
    ]["id"]
    dataset = (
        await gql(
            'mutation($n: String!) { registerDataset(input: {name: $n, tags: ["tabular"],'
            ' attributes: {rows: 20640, source: "census"}}) { dataset { id } } }',
            n=f"{prefix}california-housing",
        )
    )["registerDataset"]["dataset"]["id"]
    featureset = (
        await gql(
            "mutation($n: String!, $d: ID!) { registerFeatureset(input: {name: $n, datasetId: $d}) { featureset { id } } }",
            n=f"{prefix}housing-features",
            d=dataset,
        )
    )["registerFeatureset"]["featureset"]["id"]
    model = (
        await gql(
            'mutation($p: ID!) { registerModel(input: {name: "gbr", projectId: $p}) { model { id } } }',
            p=project,
        )
    )["registerModel"]["model"]["id"]
    pipeline = Pipeline(project, dataset, featureset, model)
    for number in range(runs):
        logged = (
            await gql(
                """mutation($input: LogRunInput!) {
                     logRun(input: $input) { run { id } modelParams { id } devPerf { id } } }""",
                input={
                    "name": f"trial-{number}",
                    "modelId": model,
                    "datasetId": dataset,
                    "featuresetId": featureset,
                    "deploymentTag": f"{prefix}prod" if number == 0 else None,
                    "params": {"max_depth": 3 + number},
                    "metrics": {"rmse": 0.5 - number / 10 if number < 5 else 0.9},
                },
            )
        )["logRun"]
        pipeline.runs.append(logged["run"]["id"])
        pipeline.params.append(logged["modelParams"]["id"])
        pipeline.perfs.append(logged["devPerf"]["id"])
    pipeline.deployment = (
        await gql(
            "mutation($t: String!) { registerDeployment(input: {deploymentTag: $t}) { deployment { id } } }",
            t=f"{prefix}prod",
        )
    )["registerDeployment"]["deployment"]["id"]
    for week in range(3):
        served: dict[str, Any] = await gql(
            "mutation($i: LogServingPerfInput!) { logServingPerf(input: $i) { servingPerf { id } } }",
            i={
                "deploymentId": pipeline.deployment,
                "periodStart": f"2026-11-0{week + 1}T00:00:00Z",
                "periodEnd": f"2026-11-0{week + 2}T00:00:00Z",
                "metrics": {"rmse": 0.45 + week / 100},
            },
        )
        pipeline.serving.append(served["logServingPerf"]["servingPerf"]["id"])
    return pipeline

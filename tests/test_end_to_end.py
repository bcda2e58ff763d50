"""Against a real `metagate serve` process on a free port, as a pipeline would use it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.server import TOKEN, Server
from tests.test_round_trips import NESTED


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "pipeline.db"


@pytest.fixture
def server(db: Path) -> Iterator[Server]:
    running = Server(db)
    yield running
    running.stop()


def test_a_pipeline_recorded_over_http_answers_its_deployment_lineage(server: Server, db: Path) -> None:
    project = server.gql('mutation { createProject(input: {name: "churn"}) { project { id } } }')
    project_id = project["createProject"]["project"]["id"]
    dataset = server.gql('mutation { registerDataset(input: {name: "customers-2026-10"}) { dataset { id } } }')
    dataset_id = dataset["registerDataset"]["dataset"]["id"]
    featureset_id = server.gql(
        'mutation($d: ID!) { registerFeatureset(input: {name: "churn-features-v2", datasetId: $d}) { featureset { id } } }',
        d=dataset_id,
    )["registerFeatureset"]["featureset"]["id"]
    model_id = server.gql(
        'mutation($p: ID!) { registerModel(input: {name: "churn-xgb", projectId: $p}) { model { id } } }',
        p=project_id,
    )["registerModel"]["model"]["id"]
    server.gql(
        """mutation($m: ID!, $d: ID!, $f: ID!) { logRun(input: {name: "run-1", modelId: $m, datasetId: $d,
             featuresetId: $f, deploymentTag: "churn-prod", startTime: "2026-11-20T10:00:00Z",
             endTime: "2026-11-20T10:12:00Z", params: {eta: 0.1}, metrics: {auc: 0.91}}) { run { id } } }""",
        m=model_id,
        d=dataset_id,
        f=featureset_id,
    )
    deployment_id = server.gql('mutation { registerDeployment(input: {deploymentTag: "churn-prod"}) { deployment { id } } }')[
        "registerDeployment"
    ]["deployment"]["id"]
    server.gql(
        """mutation { logServingPerf(input: {deploymentTag: "churn-prod", periodStart: "2026-11-21T00:00:00Z",
             periodEnd: "2026-11-22T00:00:00Z", metrics: {auc: 0.89}}) { servingPerf { id } } }"""
    )

    answer = server.gql(NESTED, id=deployment_id)["node"]

    [run] = answer["model"]["runs"]["edges"]
    assert answer["name"] == "churn-prod"
    assert run["node"]["featureset"] == {"name": "churn-features-v2", "dataset": {"name": "customers-2026-10"}}
    assert run["node"]["devPerf"]["metrics"] == {"auc": 0.91}
    assert run["node"]["modelParams"]["params"] == {"eta": 0.1}
    assert answer["servingPerf"]["nodes"][0]["metrics"] == {"auc": 0.89}

    # What was acknowledged survives a restart of the process; the admin token too,
    # and it is printed only on the first start.
    output = server.stop()
    assert f"http://127.0.0.1:{server.port}/graphql" in output
    again = Server(db, token=server.token)
    try:
        assert TOKEN.search(again.output()) is None
        assert again.gql('{ deployment(name: "churn-prod") { id } }')["deployment"]["id"] == deployment_id
    finally:
        again.stop()


def test_the_gateway_is_secure_by_default(server: Server) -> None:
    assert server.token is not None, server.output()
    anonymous = httpx.post(f"{server.url}/graphql", json={"query": "{ datasets { nodes { id } } }"}).json()
    forged = server.post("{ datasets { nodes { id } } }", token="mg_0123456789abcdef_" + "A" * 43).json()
    introspection = httpx.post(f"{server.url}/graphql", json={"query": "{ __schema { queryType { name } } }"}).json()

    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert forged["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert introspection["data"]["__schema"]["queryType"]["name"] == "Query"
    assert server.gql("{ datasets { nodes { id } } }") == {"datasets": {"nodes": []}}

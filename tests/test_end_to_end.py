"""Against a real `metagate serve` process on a free port, as a pipeline would use it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.test_round_trips import NESTED


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    def __init__(self, store: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("METAGATE_")}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gateway", "serve", "--port", str(self.port), "--store", str(store)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            text=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.process.stdout.read() if self.process.stdout else ''}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("server did not become ready in 30 s")

    def gql(self, query: str, **variables: Any) -> dict[str, Any]:
        response = httpx.post(f"{self.url}/graphql", json={"query": query, "variables": variables}, timeout=10)
        body = response.json()
        assert "errors" not in body, body
        return body["data"]

    def stop(self) -> str:
        self.process.send_signal(signal.SIGTERM)
        try:
            output, _ = self.process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            output, _ = self.process.communicate()
        return output or ""


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
        "mutation($d: ID!) { registerFeatureset(input: {name: \"churn-features-v2\", datasetId: $d}) { featureset { id } } }",
        d=dataset_id,
    )["registerFeatureset"]["featureset"]["id"]
    model_id = server.gql(
        "mutation($p: ID!) { registerModel(input: {name: \"churn-xgb\", projectId: $p}) { model { id } } }",
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

    # What was acknowledged survives a restart of the process.
    output = server.stop()
    assert f"http://127.0.0.1:{server.port}/graphql" in output
    again = Server(db)
    try:
        assert again.gql('{ deployment(name: "churn-prod") { id } }')["deployment"]["id"] == deployment_id
    finally:
        again.stop()

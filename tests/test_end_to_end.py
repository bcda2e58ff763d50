"""Against a real `metagate serve` process on a free port, as a pipeline would use it."""

from __future__ import annotations

import os
import re
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


TOKEN = re.compile(r"mg_[0-9a-f]{16}_[A-Za-z0-9_\-]{43}")


class Server:
    def __init__(self, store: Path, token: str | None = None) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = store.with_name(f"server-{self.port}.log")
        env = {k: v for k, v in os.environ.items() if not k.startswith("METAGATE_")}
        with self.log.open("w") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gateway", "serve", "--port", str(self.port), "--store", str(store)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.output()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            self.stop()
            raise RuntimeError("server did not become ready in 30 s")
        printed = TOKEN.search(self.output())
        self.token = token or (printed.group(0) if printed else None)

    def output(self) -> str:
        return self.log.read_text()

    def post(self, query: str, token: str | None = None, **variables: Any) -> httpx.Response:
        headers = {"authorization": f"Bearer {token or self.token}"} if (token or self.token) else {}
        return httpx.post(
            f"{self.url}/graphql", json={"query": query, "variables": variables}, headers=headers, timeout=10
        )

    def gql(self, query: str, **variables: Any) -> dict[str, Any]:
        body = self.post(query, **variables).json()
        assert "errors" not in body, body
        return body["data"]

    def stop(self) -> str:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        return self.output()


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

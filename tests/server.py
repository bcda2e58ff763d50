"""A real `metagate serve` process on a free port, for tests that need one."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from metagate.gateway.auth import TOKEN_PATTERN


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


TOKEN = TOKEN_PATTERN  # what a first start hands the operator


class Server:
    def __init__(self, store: Path, token: str | None = None, *args: str, port: int | None = None, **settings: str) -> None:
        """``args``: more of serve's options; ``port``: the one to listen on (a free one
        by default: one given is a restart's, in place of a process stopped);
        ``settings``: METAGATE_* variables by their names without the prefix."""
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = store.with_name(f"server-{self.port}.log")
        env = {k: v for k, v in os.environ.items() if not k.startswith("METAGATE_")}
        env.update({f"METAGATE_{name}": value for name, value in settings.items()})
        with self.log.open("w") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "metagate", "serve", "--port", str(self.port), "--store", str(store), *args],
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
        # Its output is no terminal: a first start writes the admin token beside the store.
        self.token_file = store.with_name(store.name + ".admin-token")
        written = TOKEN.search(self.token_file.read_text()) if self.token_file.exists() else None
        self.token = token or (written.group(0) if written else None)

    def output(self) -> str:
        return self.log.read_text()

    def post(self, query: str, token: str | None = None, **variables: Any) -> httpx.Response:
        headers = {"authorization": f"Bearer {token or self.token}"} if (token or self.token) else {}
        return httpx.post(f"{self.url}/graphql", json={"query": query, "variables": variables}, headers=headers, timeout=10)

    def gql(self, query: str, **variables: Any) -> dict[str, Any]:
        body = self.post(query, **variables).json()
        assert "errors" not in body, body
        return body["data"]

    def stop(self, timeout: float = 15) -> str:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        return self.output()

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush, as a crash or the OOM killer would."""
        self.process.kill()
        self.process.wait()


LOG_RUN = """mutation($m: ID!, $d: ID!, $f: ID!, $n: String!) {
  logRun(input: {name: $n, modelId: $m, datasetId: $d, featuresetId: $f,
                 params: {depth: 3}, metrics: {rmse: 0.4}}) { run { id name } } }"""


def pipeline_ids(server: Server) -> dict[str, str]:
    """A project, dataset, featureset and model to log runs against: LOG_RUN's
    variables ``m``, ``d`` and ``f``."""
    project = server.gql('mutation { createProject(input: {name: "p"}) { project { id } } }')["createProject"]
    dataset = server.gql('mutation { registerDataset(input: {name: "d"}) { dataset { id } } }')["registerDataset"]
    featureset = server.gql(
        'mutation($d: ID!) { registerFeatureset(input: {name: "f", datasetId: $d}) { featureset { id } } }',
        d=dataset["dataset"]["id"],
    )["registerFeatureset"]
    model = server.gql(
        'mutation($p: ID!) { registerModel(input: {name: "m", projectId: $p}) { model { id } } }',
        p=project["project"]["id"],
    )["registerModel"]
    return {"m": model["model"]["id"], "d": dataset["dataset"]["id"], "f": featureset["featureset"]["id"]}

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
    def __init__(self, store: Path, token: str | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = store.with_name(f"server-{self.port}.log")
        env = {k: v for k, v in os.environ.items() if not k.startswith("METAGATE_")}
        with self.log.open("w") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "metagate", "serve", "--port", str(self.port), "--store", str(store)],
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

    def stop(self) -> str:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        return self.output()

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush, as a crash or the OOM killer would."""
        self.process.kill()
        self.process.wait()

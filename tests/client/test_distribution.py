"""metagate-client as a pipeline step installs it: alone in a fresh virtual environment
on the oldest Python it supports that this machine has, without the server's stack."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

from tests.client.venv import client_python
from tests.server import Server

HERE = Path(__file__).resolve().parent
SERVER_STACK = {"strawberry-graphql", "uvicorn", "starlette", "aiosqlite", "python-arango-async"}
LIST_DISTRIBUTIONS = (
    "import importlib.metadata as m, json; print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))"
)


def _run(*arguments: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    # -I: no PYTHONPATH, no user site, not the script's folder: only what the venv holds.
    return subprocess.run([str(client_python()), "-I", *arguments], capture_output=True, text=True, timeout=120, env=env, cwd=cwd)


def test_the_client_installs_without_the_server_stack() -> None:
    done = _run("-c", LIST_DISTRIBUTIONS)
    assert done.returncode == 0, done.stderr
    installed = {re.sub(r"[-_.]+", "-", name).lower(): version for name, version in json.loads(done.stdout).items()}

    assert installed["metagate-client"] == "0.2.0.dev0" and installed["httpx"].startswith("0.28.")
    assert not SERVER_STACK & set(installed)


def test_a_recording_program_runs_on_the_clients_oldest_python(gateway: Server, tmp_path: Path, unique: str) -> None:
    env = {"PATH": os.environ.get("PATH", ""), "METAGATE_URL": gateway.url, "METAGATE_TOKEN": gateway.token}
    done = _run(str(HERE / "recording.py"), unique, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)

    version = subprocess.run(
        [str(client_python()), "-c", "import sys; print(sys.version_info[1])"], capture_output=True, text=True
    )
    assert seen["python"] == [3, int(version.stdout)] and seen["python"] >= [3, 9] and not seen["server_importable"]
    assert seen["upstream"] == ["dataset", "featureset", "model", "modelparams", "run"]
    assert seen["downstream"] == ["deployment", "devperf", "featureset", "model", "run"]
    assert seen["refused"].startswith("metrics.rmse must be a finite number")
    recorded = gateway.gql("query($id: ID!) { node(id: $id) { ... on Run { status modelParams { params } } } }", id=seen["run"])
    assert recorded["node"] == {"status": "COMPLETED", "modelParams": {"params": {"alpha": 0.5, "layers": [64, 32]}}}


def test_the_readme_example_runs_on_the_clients_oldest_python(tmp_path: Path) -> None:
    # Its own gateway: the example's names are fixed, and the examples record some of them too.
    gateway = Server(tmp_path / "readme.db")
    readme = (HERE.parents[1] / "client" / "README.md").read_text()
    example = re.search(r"```python\n(.*?)```", readme, re.DOTALL)
    assert example is not None
    (tmp_path / "example.py").write_text(example.group(1))
    env = {"PATH": os.environ.get("PATH", ""), "METAGATE_URL": gateway.url, "METAGATE_TOKEN": gateway.token}

    try:
        done = _run(str(tmp_path / "example.py"), env=env, cwd=tmp_path)
    finally:
        gateway.stop()

    assert done.returncode == 0, done.stderr
    printed = [line.split(" ", 2) for line in done.stdout.splitlines()]
    assert {(depth, kind, name) for depth, kind, name in printed if kind != "modelparams"} == {
        ("1", "model", "diabetes-gbr"),
        ("1", "featureset", "diabetes-all-features"),
        ("2", "dataset", "sklearn-diabetes"),
        ("2", "run", "trial-3"),
    }
    assert [depth for depth, kind, _ in printed if kind == "modelparams"] == ["1"]

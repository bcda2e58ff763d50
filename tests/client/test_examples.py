"""The examples, run end to end as a user runs them: METAGATE_URL and METAGATE_TOKEN set,
read by the client itself."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server import Server

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def examples_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # Their own gateway: the examples record under fixed names.
    running = Server(tmp_path_factory.mktemp("examples") / "examples.db")
    yield running
    running.stop()


@pytest.mark.parametrize("example", ["diabetes_regression.py", "wine_classification.py"])
def test_examples_run_end_to_end(examples_gateway: Server, example: str) -> None:
    env = {**os.environ, "METAGATE_URL": examples_gateway.url, "METAGATE_TOKEN": examples_gateway.token}
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / example)], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert "deployment" in done.stdout and "dataset sklearn-" in done.stdout


def test_a_recorded_train_job_replays_to_the_same_metrics(examples_gateway: Server) -> None:
    env = {**os.environ, "METAGATE_URL": examples_gateway.url, "METAGATE_TOKEN": examples_gateway.token}
    example = ROOT / "examples" / "replay_training_job.py"
    for _ in range(2):  # a second run finds the first one's records and replays its own job
        done = subprocess.run([sys.executable, str(example)], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        assert "the replayed run's metrics equal the original's" in done.stdout
        assert "{'rmse': " in done.stdout

"""The Python client against a real gateway process: every method, the error mapping,
authentication, retries that never write twice, the run recorder, and the examples."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from metagate.gateway.client import (
    AsyncClient,
    BadInput,
    Client,
    Conflict,
    Forbidden,
    NotFound,
    Unauthenticated,
    Unavailable,
)

from tests.server import Server

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(tmp_path_factory.mktemp("client") / "client.db")
    yield running
    running.stop()


@pytest.fixture
def mg(server: Server) -> Iterator[Client]:
    with Client(server.url, server.token, retries=1) as client:
        yield client


def test_every_method(mg: Client) -> None:
    project = mg.create_project("client-housing", attributes={"team": "pricing"})
    again = mg.create_project("client-housing")
    dataset = mg.register_dataset("client-census", tags=["tabular"], attributes={"rows": 20640})
    featureset = mg.register_featureset("client-features", dataset)
    model = mg.register_model("client-gbr", project)
    logged = mg.log_run(
        model=model,
        dataset=dataset,
        featureset=featureset,
        params={"depth": 3},
        metrics={"rmse": 0.42},
        name="r1",
        deployment_tag="client-prod",
    )
    batch = mg.log_runs(
        [
            {
                "model": model,
                "dataset": dataset,
                "featureset": featureset,
                "metrics": {"rmse": 0.5 + i / 100},
                "name": f"batch-{i}",
            }
            for i in range(30)
        ]
    )
    deployment = mg.register_deployment("client-prod", deployment_tag="client-prod")
    explicit = mg.register_deployment(
        "client-canary", model=model, featureset=featureset, model_params=batch[0].model_params, tag="client-canary"
    )
    serving = mg.log_serving_perf(
        deployment_tag="client-prod",
        period_start=dt.datetime(2026, 11, 1),
        period_end=dt.datetime(2026, 11, 8),
        metrics={"rmse": 0.45},
    )

    assert project.created and not again.created and again.id == project.id
    assert project.attributes == {"team": "pricing"} and dataset.tags == ("tabular",)
    assert logged.created and logged.run.name == "r1" and logged.dev_perf.kind == "devperf"
    assert len(batch) == 30 and len({b.run.id for b in batch}) == 30
    assert deployment.created and explicit.created and serving.kind == "servingperf"
    assert mg.lookup_dataset("client-census") == dataset.__class__(**{**dataset.__dict__, "created": False})
    assert mg.lookup_featureset("client-features").id == featureset.id
    assert mg.lookup_model("client-gbr").id == model.id
    assert mg.lookup_model("client-gbr", project).id == model.id
    assert mg.lookup_dataset("no-such-dataset") is None
    assert [a.id for a in mg.find("dataset", "rows", 20640)] == [dataset.id]
    assert [a.id for a in mg.find("model", "deployment_tag", "client-prod")] == [model.id]

    lineage = mg.lineage(deployment, "upstream", depth=2)
    assert {(e.asset.kind, e.depth) for e in lineage.nodes} >= {("model", 1), ("featureset", 1), ("run", 2)}
    assert ("deployment_model", deployment.id, model.id) in lineage.edges and not lineage.truncated


def test_errors_are_typed(mg: Client, server: Server) -> None:
    dataset = mg.register_dataset("client-errors")
    with pytest.raises(BadInput) as bad:
        mg.register_dataset("   ")
    with pytest.raises(NotFound):
        mg.register_featureset("f", "ZGF0YXNldC8wMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMA")
    with pytest.raises(BadInput):
        mg.register_model("m", dataset)  # a dataset id where a project id belongs
    project = mg.create_project("client-errors")
    model = mg.register_model("m", project)
    featureset = mg.register_featureset("client-errors-f", dataset)
    mg.log_run(model=model, dataset=dataset, featureset=featureset, deployment_tag="taken")
    with pytest.raises(Conflict):
        mg.log_run(model=model, dataset=dataset, featureset=featureset, deployment_tag="taken")
    with Client(server.url, "mg_0123456789abcdef_" + "A" * 43) as stranger, pytest.raises(Unauthenticated):
        stranger.lookup_dataset("client-errors")
    reader_token = subprocess.run(
        [
            sys.executable,
            "-m",
            "metagate",
            "token",
            "create",
            "--name",
            "r",
            "--role",
            "reader",
            "--store",
            str(server.log.parent / "client.db"),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    with Client(server.url, reader_token) as reader:
        assert reader.lookup_dataset("client-errors").id == dataset.id
        with pytest.raises(Forbidden):
            reader.create_project("not-allowed")
    assert bad.value.code == "BAD_USER_INPUT" and bad.value.request_id


def test_an_unreachable_gateway_is_unavailable_after_the_retries() -> None:
    with Client("http://127.0.0.1:9", retries=2, backoff=0.01, timeout=2) as client, pytest.raises(Unavailable):
        client.lookup_dataset("x")


class LosingProxy:
    """Forwards to the gateway, but the first response to a logRun is lost: the
    gateway handles the request, the client never hears back."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.lost = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)

        async def client_to_gateway() -> None:
            while data := await reader.read(65536):
                if b"logRun" in data and not self.lost:
                    self.lost += 1
                    up_writer.write(data)
                    await up_writer.drain()
                    await up_reader.read(1)  # the gateway has answered...
                    writer.close()  # ...and the answer is lost on the way back
                    up_writer.close()
                    return
                up_writer.write(data)
                await up_writer.drain()
            up_writer.close()

        async def gateway_to_client() -> None:
            try:
                while data := await up_reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                writer.close()

        await asyncio.gather(client_to_gateway(), gateway_to_client(), return_exceptions=True)


async def test_a_lost_response_is_retried_and_recorded_once(server: Server) -> None:
    setup = AsyncClient(server.url, server.token)
    project = await setup.create_project("client-retry")
    dataset = await setup.register_dataset("client-retry-d")
    featureset = await setup.register_featureset("client-retry-f", dataset)
    model = await setup.register_model("client-retry-m", project)
    await setup.close()

    proxy = LosingProxy(server.port)
    listener = await asyncio.start_server(proxy.handle, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    async with AsyncClient(f"http://127.0.0.1:{port}", server.token, backoff=0.01) as client:
        logged = await client.log_run(model=model, dataset=dataset, featureset=featureset, metrics={"rmse": 0.3})
        lineage = await client.lineage(model, "upstream", depth=1)
    listener.close()

    assert proxy.lost == 1
    # One run, though the gateway handled the request twice.
    assert [e.asset.id for e in lineage.nodes if e.asset.kind == "run"] == [logged.run.id]


def test_the_run_recorder_records_success_and_failure(mg: Client) -> None:
    with mg.run(project="client-rec", model="rec-m", dataset="rec-d", featureset="rec-f", name="ok") as run:
        run.log_params(alpha=0.1)
        run.log_perf(rmse=0.3)
    with pytest.raises(ZeroDivisionError):
        with mg.run(project="client-rec", model="rec-m", dataset="rec-d", featureset="rec-f", name="boom") as failed:
            failed.log_params(alpha=0.2)
            1 / 0  # noqa: B018

    ok = mg.execute('{ run(name: "ok") { status startTime endTime modelParams { params } devPerf { metrics } } }')
    boom = mg.execute('{ run(name: "boom") { status attributes modelParams { params } } }')
    assert ok["run"]["status"] == "COMPLETED" and ok["run"]["startTime"] <= ok["run"]["endTime"]
    assert ok["run"]["modelParams"]["params"] == {"alpha": 0.1} and ok["run"]["devPerf"]["metrics"] == {"rmse": 0.3}
    assert boom["run"]["status"] == "FAILED" and "ZeroDivisionError" in boom["run"]["attributes"]["error"]
    assert boom["run"]["modelParams"]["params"] == {"alpha": 0.2}


@pytest.mark.parametrize("example", ["diabetes_regression.py", "wine_classification.py"])
def test_examples_run_end_to_end(server: Server, example: str) -> None:
    env = {**os.environ, "METAGATE_URL": server.url, "METAGATE_TOKEN": server.token or ""}
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / example)], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert "deployment" in result.stdout and "dataset sklearn-" in result.stdout

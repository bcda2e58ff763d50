"""The asyncio client against a real gateway: the same calls, awaited, and the run
recorder as ``async with``."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator

import pytest

from metagate_client import AsyncClient
from tests.server import Server


@pytest.fixture
async def amg(gateway: Server) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(gateway.url, gateway.token, retries=1) as client:
        yield client


async def test_every_method(amg: AsyncClient, unique: str) -> None:
    project = await amg.create_project(f"a-housing-{unique}")
    dataset = await amg.register_dataset(f"a-census-{unique}", attributes={"source": f"survey-{unique}"})
    featureset = await amg.register_featureset(f"a-features-{unique}", dataset)
    model = await amg.register_model(f"a-gbr-{unique}", project)
    logged = await amg.log_run(
        model=model.id,  # ids do as well as assets
        dataset=dataset.id,
        featureset=featureset.id,
        params={"depth": 4},
        metrics={"rmse": 0.4},
        name="a1",
        deployment_tag=f"a-prod-{unique}",
        start_time=dt.datetime(2026, 11, 1, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        end_time=dt.datetime(2026, 11, 1, 7, 0),
    )
    batch = await amg.log_runs(
        [{"model": model, "dataset": dataset, "featureset": featureset, "name": f"a-b{i}"} for i in range(3)]
    )
    deployment = await amg.register_deployment(f"a-prod-{unique}", deployment_tag=f"a-prod-{unique}")
    serving = await amg.log_serving_perf(
        deployment=deployment,
        period_start=dt.datetime(2026, 11, 1),
        period_end=dt.datetime(2026, 11, 8),
        metrics={"accuracy": 0.9},
    )

    assert logged.created and [b.run.name for b in batch] == ["a-b0", "a-b1", "a-b2"]
    assert deployment.created and serving.kind == "servingperf"
    assert (await amg.lookup_project(f"a-housing-{unique}")).id == project.id
    assert (await amg.lookup_dataset(f"a-census-{unique}")).id == dataset.id
    assert (await amg.lookup_featureset(f"a-features-{unique}")).id == featureset.id
    assert (await amg.lookup_model(f"a-gbr-{unique}", project.id)).id == model.id
    assert [a.id for a in await amg.find(None, "source", f"survey-{unique}")] == [dataset.id]
    assert [a.id for a in await amg.find("deployment", "deployment_tag", f"a-prod-{unique}")] == [deployment.id]
    downstream = await amg.lineage(dataset, "downstream", depth=3)
    assert {e.asset.id for e in downstream.nodes} >= {featureset.id, logged.run.id, deployment.id}
    times = await amg.execute("query($id: ID!) { node(id: $id) { ... on Run { startTime endTime } } }", {"id": logged.run.id})
    # An aware time is converted to UTC; a naive one is taken as UTC.
    assert times["node"]["startTime"].startswith("2026-11-01T06:00:00")
    assert times["node"]["endTime"].startswith("2026-11-01T07:00:00")


async def test_the_run_recorder_records_success_and_failure(amg: AsyncClient, unique: str) -> None:
    where = {
        "project": f"arec-{unique}",
        "model": f"arec-m-{unique}",
        "dataset": f"arec-d-{unique}",
        "featureset": f"arec-f-{unique}",
    }
    async with amg.run(**where, name="ok") as run:
        await asyncio.sleep(0)
        run.log_perf(rmse=0.25)
    with pytest.raises(KeyError):
        async with amg.run(**where, name="boom") as failed:
            failed.log_params(alpha=0.5)
            {}["missing"]  # noqa: B018

    assert run.logged is not None and failed.logged is not None
    query = "query($id: ID!) { node(id: $id) { ... on Run { status attributes devPerf { metrics } modelParams { params } } } }"
    ok = (await amg.execute(query, {"id": run.logged.run.id}))["node"]
    boom = (await amg.execute(query, {"id": failed.logged.run.id}))["node"]
    assert ok["status"] == "COMPLETED" and ok["devPerf"]["metrics"] == {"rmse": 0.25} and ok["attributes"] == {}
    assert boom["status"] == "FAILED" and boom["attributes"] == {"error": "KeyError: 'missing'"}
    assert boom["modelParams"]["params"] == {"alpha": 0.5}


async def test_calls_run_concurrently_on_one_client(amg: AsyncClient, unique: str) -> None:
    datasets = await asyncio.gather(*(amg.register_dataset(f"conc-{unique}-{i}") for i in range(20)))
    assert sorted(d.name for d in datasets) == sorted(f"conc-{unique}-{i}" for i in range(20))
    assert all(d.created for d in datasets)

"""The clients' metric history against a real gateway: points appended in requests of
10,000, read back whole or downsampled, and logged point by point inside a run block."""

from __future__ import annotations

import datetime as dt

import pytest

from metagate_client import AsyncClient, BadInput, Client, MetricPoint
from tests.server import Server


def test_a_long_history_is_sent_in_several_requests_and_read_back_whole_or_downsampled(mg: Client, unique: str) -> None:
    with mg.run(project="housing", model=f"m-{unique}", dataset=f"d-{unique}", featureset=f"f-{unique}") as r:
        r.log_perf(rmse=9.0)
    assert r.logged is not None
    run = r.logged.run
    points = [{"key": "loss", "value": 1 / (i + 1), "step": i} for i in range(12_345)]
    assert mg.log_metrics(run, points) == 12_345
    history = mg.metric_history(run, "loss")
    assert [p.step for p in history] == list(range(12_345)) and history[-1].value == pytest.approx(1 / 12_345)
    curve = mg.metric_history(run, "loss", max_points=100)
    assert len(curve) == 100 and (curve[0].step, curve[-1].step) == (0, 12_344)
    assert all(isinstance(p, MetricPoint) for p in curve)
    with pytest.raises(BadInput, match=r"metrics\[0\]\.value"):
        mg.log_metrics(run, [{"key": "loss", "value": float("nan")}])
    with pytest.raises(BadInput, match=r"metrics\[1\]: no field 'epoch'"):
        mg.log_metrics(run, [{"key": "loss", "value": 1.0}, {"key": "loss", "value": 1.0, "epoch": 2}])


def test_a_run_block_logs_its_curve_and_the_last_point_is_its_metric(mg: Client, unique: str) -> None:
    with mg.run(project="housing", model=f"c-{unique}", dataset=f"d-{unique}", featureset=f"f-{unique}") as r:
        for epoch in range(5):
            r.log_metric("rmse", 1.0 - epoch / 10, step=epoch)
    assert r.logged is not None
    assert [p.value for p in mg.metric_history(r.logged.run, "rmse")] == [1.0, 0.9, 0.8, 0.7, 0.6]
    perf = mg.execute("query($id: ID!) { node(id: $id) { ... on Run { devPerf { metrics } } } }", {"id": r.logged.run.id})
    assert perf["node"]["devPerf"]["metrics"] == {"rmse": 0.6}


async def test_the_async_client_logs_and_reads_metrics_too(gateway: Server, unique: str) -> None:
    async with AsyncClient(gateway.url, gateway.token, retries=1) as amg:
        async with amg.run(project="housing", model=f"a-{unique}", dataset=f"d-{unique}", featureset=f"f-{unique}") as r:
            r.log_metric("acc", 0.5)
        assert r.logged is not None
        stamp = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
        assert await amg.log_metrics(r.logged.run, [{"key": "acc", "value": 0.7, "step": 1, "timestamp": stamp}]) == 1
        history = await amg.metric_history(r.logged.run, "acc")
        assert [(p.value, p.step) for p in history] == [(0.5, 0), (0.7, 1)]
        assert history[1].timestamp.startswith("2026-12-01T00:00:00")


def test_a_buffer_of_one_metric_is_sent_as_series(mg: Client, unique: str) -> None:
    with mg.run(project="housing", model=f"s-{unique}", dataset=f"d-{unique}", featureset=f"f-{unique}") as r:
        r.log_perf(rmse=1.0)
    assert r.logged is not None
    stamp = dt.datetime(2026, 12, 1, 8, tzinfo=dt.UTC)
    assert (
        mg.log_series(r.logged.run, "loss", [1 / (s + 1) for s in range(15_000)], steps=range(15_000), timestamp=stamp) == 15_000
    )
    history = mg.metric_history(r.logged.run, "loss")
    assert len(history) == 15_000 and history[-1].step == 14_999 and history[0].timestamp.startswith("2026-12-01T08:00:00")
    with pytest.raises(BadInput, match="steps: one step per value"):
        mg.log_series(r.logged.run, "loss", [1.0, 2.0], steps=[1])

"""The hub's bench runs (on a tiny hub, briefly) and reports every scenario with its ratio."""

from __future__ import annotations

from pathlib import Path

from bench.hub import bench, markdown


async def test_the_hub_bench_measures_the_zoo_and_traffic_beside_their_baselines(tmp_path: Path) -> None:
    rows, counts = await bench(1, 2, 2, 0.01, tmp_path)
    assert counts["modelversion"] == 4 and counts["deployment"] == 2
    zoo = [r for r in rows if r.scenario.startswith("modelZoo")]
    assert zoo and all(r.round_trips == 1.0 for r in zoo)  # the read path's target: one store query
    text = markdown(rows, counts, 1, 2, 2)
    assert "modelZoo by task / nested deployment read" in text and "setTrafficWeights / logRun" in text

"""The clients' steps against a real gateway: a pipeline run around its steps, each
step recorded with what it read and wrote when its block ends, and a failing step
recorded FAILED with its error."""

from __future__ import annotations

import pytest

from metagate_client import AsyncClient, BadInput, Client
from tests.server import Server


def test_a_pipeline_of_steps_is_recorded_and_lineage_runs_through_them(mg: Client, unique: str) -> None:
    raw = mg.register_dataset(f"raw-{unique}")
    with mg.pipeline(f"housing-{unique}") as pipeline:
        assert pipeline.state == "running" and pipeline.phase == "pipeline"
        with mg.step("clean", "clean", inputs=[raw], parent=pipeline) as clean:
            clean.wrote(f"clean-{unique}")
            clean.log(dropped_rows=12)
        with pytest.raises(ValueError):
            with mg.step("split", "prepare", inputs=[f"clean-{unique}"], parent=pipeline) as split:
                raise ValueError("no rows left")

    assert clean.logged is not None and split.logged is not None
    assert (clean.logged.state, clean.logged.phase, clean.logged.parent) == ("succeeded", "clean", pipeline.id)
    assert [a.id for a in clean.logged.inputs] == [raw.id] and [a.name for a in clean.logged.outputs] == [f"clean-{unique}"]
    assert clean.logged.attributes == {"dropped_rows": 12}
    assert clean.logged.started_at is not None and clean.logged.ended_at is not None
    assert clean.logged.started_at <= clean.logged.ended_at
    assert split.logged.state == "failed" and split.logged.attributes["error"] == "ValueError: no rows left"
    assert [a.name for a in split.logged.inputs] == [f"clean-{unique}"]

    done = mg.execute("query($id: ID!) { node(id: $id) { ... on Step { state steps { nodes { name } } } } }", {"id": pipeline.id})
    assert done["node"] == {"state": "SUCCEEDED", "steps": {"nodes": [{"name": "split"}, {"name": "clean"}]}}
    upstream = {(e.asset.kind, e.asset.name) for e in mg.lineage(split.logged.id, "upstream").nodes}
    assert upstream == {("dataset", f"clean-{unique}"), ("step", "clean"), ("dataset", f"raw-{unique}")}


def test_a_step_logged_running_is_moved_on(mg: Client, unique: str) -> None:
    source = mg.register_dataset(f"stream-{unique}")
    running = mg.log_step("ingest", "fetch", state="running", inputs=[source])
    assert running.state == "running" and running.ended_at is None
    done = mg.update_step(running, state="succeeded", outputs=[f"ingested-{unique}"], attributes={"rows": 3})
    assert done.state == "succeeded" and done.ended_at is not None and [a.name for a in done.outputs] == [f"ingested-{unique}"]
    with pytest.raises(BadInput, match="inputs\\[0\\]: an Asset, or a dataset's name"):
        mg.log_step("bad", inputs=[42])  # type: ignore[list-item]


async def test_the_async_client_records_steps_too(gateway: Server, unique: str) -> None:
    async with AsyncClient(gateway.url, gateway.token, retries=1) as amg:
        raw = await amg.register_dataset(f"a-raw-{unique}")
        async with amg.pipeline(f"a-pipeline-{unique}") as pipeline:
            async with amg.step("fetch", "fetch", inputs=[raw], outputs=[f"a-fetched-{unique}"], parent=pipeline) as fetch:
                fetch.log({"bytes": 10})
        assert fetch.logged is not None and fetch.logged.parent == pipeline.id
        assert [a.name for a in fetch.logged.outputs] == [f"a-fetched-{unique}"]


def test_a_failed_step_registers_no_dataset_it_only_named_and_an_interrupted_one_is_cancelled(mg: Client, unique: str) -> None:
    raw = mg.register_dataset(f"f-raw-{unique}")
    with pytest.raises(RuntimeError):
        with mg.step("split", "prepare", inputs=raw, outputs=[f"f-train-{unique}", raw]) as split:
            raise RuntimeError("disk full")
    assert split.logged is not None and split.logged.state == "failed"
    # Named outputs it may never have written stay unregistered; what it was given stays named.
    assert split.logged.outputs == () and split.logged.attributes["unwritten"] == [f"f-train-{unique}", raw.id]
    assert [a.id for a in split.logged.inputs] == [raw.id]
    found = mg.execute("query($n: String!) { dataset(name: $n) { id } }", {"n": f"f-train-{unique}"})
    assert found["dataset"] is None
    with pytest.raises(KeyboardInterrupt):
        with mg.pipeline(f"f-pipeline-{unique}") as pipeline:
            with mg.step("train", "train", parent=pipeline) as train:
                raise KeyboardInterrupt
    assert train.logged is not None and train.logged.state == "cancelled"
    again = mg.execute("query($id: ID!) { node(id: $id) { ... on Step { state } } }", {"id": pipeline.id})
    assert again["node"] == {"state": "CANCELLED"}

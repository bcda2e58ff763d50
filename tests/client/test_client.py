"""The blocking client against a real gateway: every method and the run recorder."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math

import pytest

from metagate_client import BadInput, Client, Lineage, LoggedRun
from tests.client.proxy import Proxy
from tests.server import Server


def test_every_method(mg: Client, unique: str) -> None:
    project = mg.create_project(f"housing-{unique}", attributes={"team": "pricing"})
    again = mg.create_project(f"housing-{unique}")
    dataset = mg.register_dataset(f"census-{unique}", tags=["tabular"], attributes={"rows": 20640})
    featureset = mg.register_featureset(f"features-{unique}", dataset)
    model = mg.register_model(f"gbr-{unique}", project)
    logged = mg.log_run(
        model=model,
        dataset=dataset,
        featureset=featureset,
        params={"depth": 3},
        metrics={"rmse": 0.42},
        name="r1",
        deployment_tag=f"prod-{unique}",
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
    deployment = mg.register_deployment(f"prod-{unique}", deployment_tag=f"prod-{unique}")
    explicit = mg.register_deployment(
        f"canary-{unique}", model=model, featureset=featureset, model_params=batch[0].model_params, tag=f"canary-{unique}"
    )
    serving = mg.log_serving_perf(
        deployment_tag=f"prod-{unique}",
        period_start=dt.datetime(2026, 11, 1),
        period_end=dt.datetime(2026, 11, 8),
        metrics={"rmse": 0.45},
    )

    assert project.created and not again.created and again.id == project.id
    assert project.attributes == {"team": "pricing"} and dataset.tags == ("tabular",)
    assert isinstance(logged, LoggedRun) and logged.created and logged.run.name == "r1"
    assert (logged.run.kind, logged.model_params.kind, logged.dev_perf.kind) == ("run", "modelparams", "devperf")
    assert len(batch) == 30 and len({b.run.id for b in batch}) == 30
    assert [b.run.name for b in batch] == [f"batch-{i}" for i in range(30)]  # in the order given
    assert deployment.created and explicit.created and serving.kind == "servingperf"
    assert mg.lookup_project(f"housing-{unique}") == dataclasses.replace(project, created=False)
    assert mg.lookup_dataset(f"census-{unique}") == dataclasses.replace(dataset, created=False)
    assert mg.lookup_featureset(f"features-{unique}").id == featureset.id
    assert mg.lookup_model(f"gbr-{unique}").id == model.id
    assert mg.lookup_model(f"gbr-{unique}", project).id == model.id
    assert mg.lookup_dataset(f"no-such-dataset-{unique}") is None
    assert [a.id for a in mg.find("dataset", "rows", 20640) if a.name == f"census-{unique}"] == [dataset.id]
    assert [a.id for a in mg.find("model", "deployment_tag", f"prod-{unique}")] == [model.id]
    assert mg.find("project", "team", f"nobody-{unique}") == []

    lineage = mg.lineage(deployment, "upstream", depth=2)
    assert isinstance(lineage, Lineage) and lineage.root.id == deployment.id
    assert {(e.asset.kind, e.depth) for e in lineage.nodes} >= {("model", 1), ("featureset", 1), ("run", 2)}
    assert {e.direction for e in lineage.nodes} == {"upstream"}
    assert ("deployment_model", deployment.id, model.id) in lineage.edges and not lineage.truncated
    assert len(mg.lineage(deployment, "UPSTREAM", depth=2, limit=2).nodes) == 2

    data = mg.execute("query($id: ID!) { node(id: $id) { kind ... on Dataset { name } } }", {"id": dataset.id})
    assert data == {"node": {"kind": "DATASET", "name": f"census-{unique}"}}


def test_a_single_tag_is_one_tag(mg: Client, unique: str) -> None:
    assert mg.register_dataset(f"tagged-{unique}", tags="tabular").tags == ("tabular",)


def test_log_runs_sends_batches_of_500_in_order(mg: Client, gateway: Server, unique: str) -> None:
    project = mg.create_project(f"many-{unique}")
    model = mg.register_model(f"many-m-{unique}", project)
    dataset = mg.register_dataset(f"many-d-{unique}")
    featureset = mg.register_featureset(f"many-f-{unique}", dataset)
    runs = [{"model": model, "dataset": dataset, "featureset": featureset, "name": f"n{i}"} for i in range(1203)]

    with Proxy(gateway.url) as proxy, Client(proxy.url, gateway.token) as client:
        logged = client.log_runs(runs)
        assert client.log_runs([]) == []

    assert len(proxy.bodies) == 3 and all(b"logRuns" in body for body in proxy.bodies)
    assert [r.run.name for r in logged] == [f"n{i}" for i in range(1203)]
    summary = mg.execute("query($id: ID!) { projectSummary(projectId: $id) { runs } }", {"id": project.id})
    assert summary["projectSummary"]["runs"] == 1203


RUN = (
    "query($name: String!, $model: ID) { run(name: $name, modelId: $model) {"
    " status tag startTime endTime attributes modelParams { params } devPerf { metrics } } }"
)


def test_the_run_recorder_records_success_and_failure(mg: Client, unique: str) -> None:
    where = {
        "project": f"rec-{unique}",
        "model": f"rec-m-{unique}",
        "dataset": f"rec-d-{unique}",
        "featureset": f"rec-f-{unique}",
    }
    with mg.run(**where, name="ok", tag="nightly", deployment_tag=f"rec-prod-{unique}") as run:
        run.log_params({"alpha": 0.1}, solver="lbfgs")
        run.log_perf(rmse=0.3)
        run.log_perf({"r2": 0.8})
    with pytest.raises(ZeroDivisionError):
        with mg.run(**where, name="boom") as failed:
            failed.log_params(alpha=0.2)
            1 / 0  # noqa: B018

    model = mg.lookup_model(f"rec-m-{unique}")
    ok = mg.execute(RUN, {"name": "ok", "model": model.id})["run"]
    boom = mg.execute(RUN, {"name": "boom", "model": model.id})["run"]
    assert ok["status"] == "COMPLETED" and ok["tag"] == "nightly" and ok["startTime"] <= ok["endTime"]
    assert ok["modelParams"]["params"] == {"alpha": 0.1, "solver": "lbfgs"}
    assert ok["devPerf"]["metrics"] == {"rmse": 0.3, "r2": 0.8}
    assert boom["status"] == "FAILED" and boom["attributes"]["error"] == "ZeroDivisionError: division by zero"
    assert boom["modelParams"]["params"] == {"alpha": 0.2}
    assert run.logged is not None and run.logged.run.name == "ok" and run.logged.created
    assert failed.logged is not None and failed.logged.run.name == "boom"
    assert [a.id for a in mg.find("run", "deployment_tag", f"rec-prod-{unique}")] == [run.logged.run.id]


def test_the_run_recorder_reuses_what_exists(mg: Client, unique: str) -> None:
    project = mg.create_project(f"reuse-{unique}")
    dataset = mg.register_dataset(f"reuse-d-{unique}")

    with mg.run(project=project.name, model=f"reuse-m-{unique}", dataset=dataset.name, featureset=f"reuse-f-{unique}") as run:
        run.log_perf(rmse=1.0)

    assert dataset.id in {e.asset.id for e in mg.lineage(run.logged.run, "upstream", depth=2).nodes}
    assert mg.lookup_model(f"reuse-m-{unique}", project) is not None


def test_a_nan_logged_in_a_run_block_is_refused_at_that_line_and_fails_the_run(mg: Client, unique: str) -> None:
    where = {"project": f"nanrun-{unique}", "model": "m", "dataset": f"nanrun-d-{unique}", "featureset": f"nanrun-f-{unique}"}
    with pytest.raises(BadInput, match="metrics.accuracy must be a finite number"):
        with mg.run(**where, name="nan") as run:
            run.log_perf(rmse=0.5)
            run.log_perf(accuracy=math.nan)

    model = mg.lookup_model("m", mg.lookup_project(f"nanrun-{unique}"))
    recorded = mg.execute(RUN, {"name": "nan", "model": model.id})["run"]
    assert recorded["status"] == "FAILED" and recorded["devPerf"]["metrics"] == {"rmse": 0.5}
    assert recorded["attributes"]["error"].startswith("metagate_client.BadInput: metrics.accuracy must be a finite number")
    assert run.metrics == {"rmse": 0.5} and run.logged.run.name == "nan"

"""The client's calls of the information hub, against a real gateway: a model's
variation, its versions and aliases, the version a deployment serves, and traffic."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from metagate_client import AsyncClient, BadInput, Client, ModelVersion, Move, NotFound
from tests.server import Server


@pytest.fixture
async def amg(gateway: Server) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(gateway.url, gateway.token, retries=1) as client:
        yield client


def test_versions_aliases_serving_and_traffic(mg: Client, unique: str) -> None:
    project = mg.create_project(f"hub-{unique}")
    dataset = mg.register_dataset(f"hub-data-{unique}")
    featureset = mg.register_featureset(f"hub-features-{unique}", dataset)
    model = mg.register_model(
        f"hub-gbr-{unique}",
        project,
        task="regression",
        framework="scikit-learn",
        default_hardware={"serving": {"instance_type": "m5.large", "cpu": 2, "count": 2}},
    )
    runs = [mg.log_run(model=model, dataset=dataset, featureset=featureset, metrics={"rmse": 0.5 - i / 10}) for i in range(2)]
    v1 = mg.register_model_version(model, runs[0].run, "s3://models/1", signature={"inputs": ["x"]})
    v2 = mg.register_model_version(model, runs[1].run, "s3://models/2")
    again = mg.register_model_version(model, runs[0].run, "s3://models/1")

    assert isinstance(v1, ModelVersion) and (v1.number, v2.number) == (1, 2)
    assert v1.created and not again.created and again.id == v1.id and v1.run == runs[0].run.id and v1.status == "READY"
    assert mg.set_alias(model, "champion", 2, reason="better rmse") == Move(version=2, previous=None, moved=True)
    champion = mg.model_version(model, alias="champion")
    assert champion is not None and champion.number == 2 and champion.aliases == ("champion",)
    assert mg.model_version(model, version=7) is None

    deployment = mg.register_deployment(
        f"hub-live-{unique}", model=model, featureset=featureset, model_params=runs[0].model_params
    )
    canary = mg.register_deployment(f"hub-canary-{unique}", model=model, featureset=featureset, model_params=runs[1].model_params)
    assert mg.serve_version(deployment, version=1) == Move(version=1, previous=None, moved=True)
    assert mg.serve_version(deployment, alias="champion") == Move(version=2, previous=1, moved=True)
    assert mg.rollback(deployment, version=1, reason="latency") == Move(version=1, previous=2, moved=True)
    with pytest.raises(BadInput, match="needs a reason"):
        mg.rollback(deployment, version=2, reason="")
    with pytest.raises(NotFound):
        mg.serve_version(deployment, alias="fallback")

    traffic = mg.set_traffic(project, [(deployment, 80), (canary.id, 20)], reason="canary")
    assert traffic == {deployment.id: 80, canary.id: 20}
    with pytest.raises(BadInput, match="sum to 100"):
        mg.set_traffic(project, [(deployment, 80)])

    variation = mg.execute(
        "query($m: ID!) { node(id: $m) { ... on Model { task framework defaultHardware { serving { instanceType count } } } } }",
        {"m": model.id},
    )
    assert variation["node"] == {
        "task": "regression",
        "framework": "scikit-learn",
        "defaultHardware": {"serving": {"instanceType": "m5.large", "count": 2}},
    }


async def test_the_async_client_has_the_same_calls(amg: AsyncClient, unique: str) -> None:
    project = await amg.create_project(f"a-hub-{unique}")
    dataset = await amg.register_dataset(f"a-hub-data-{unique}")
    featureset = await amg.register_featureset(f"a-hub-features-{unique}", dataset)
    model = await amg.register_model(f"a-hub-gbr-{unique}", project, task="ranking")
    run = await amg.log_run(model=model, dataset=dataset, featureset=featureset, metrics={"ndcg": 0.7})
    version = await amg.register_model_version(model, run.run, "gs://bucket/model")
    assert version.number == 1
    assert await amg.set_alias(model, "fallback", 1) == Move(version=1, previous=None, moved=True)
    deployment = await amg.register_deployment(
        f"a-hub-live-{unique}", model=model, featureset=featureset, model_params=run.model_params
    )
    assert await amg.serve_version(deployment, alias="fallback") == Move(version=1, previous=None, moved=True)
    assert await amg.set_traffic(project, [(deployment, 100)]) == {deployment.id: 100}
    found = await amg.model_version(model, version=1)
    assert found is not None and found.aliases == ("fallback",)

"""Recording a pipeline through the mutations, and idempotent registration."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from metagate.resolvers import registry
from metagate.store.model import Kind, Node
from metagate.store.port import NameKey, Store, Tx
from tests.conftest import GraphQLClient
from tests.pipeline import record_pipeline
from tests.test_relogging_runs import FirstWriteMisses


async def test_registering_an_existing_name_returns_it_and_writes_nothing(gql: GraphQLClient, store: Store) -> None:
    doc = 'mutation { registerDataset(input: {name: "iris", attributes: {v: 1}}) { dataset { id attributes } created } }'
    first = (await gql(doc))["registerDataset"]
    before = await store.count_all()
    again = (await gql(doc.replace("v: 1", "v: 2")))["registerDataset"]

    assert first["created"] is True
    assert again["created"] is False
    assert again["dataset"]["id"] == first["dataset"]["id"]
    assert again["dataset"]["attributes"] == {"v": 1}
    assert await store.count_all() == before


async def test_model_names_are_scoped_by_project(gql: GraphQLClient) -> None:
    a = (await gql('mutation { createProject(input: {name: "a"}) { project { id } } }'))["createProject"]
    b = (await gql('mutation { createProject(input: {name: "b"}) { project { id } } }'))["createProject"]
    register = 'mutation($p: ID!) { registerModel(input: {name: "m", projectId: $p}) { model { id } created } }'
    in_a = (await gql(register, p=a["project"]["id"]))["registerModel"]
    in_b = (await gql(register, p=b["project"]["id"]))["registerModel"]
    in_a_again = (await gql(register, p=a["project"]["id"]))["registerModel"]

    assert in_a["created"] and in_b["created"]
    assert in_a["model"]["id"] != in_b["model"]["id"]
    assert in_a_again == {"model": in_a["model"], "created": False}


async def test_a_named_run_logged_twice_is_recorded_once(gql: GraphQLClient, store: Store) -> None:
    pipeline = await record_pipeline(gql, runs=1)
    before = await store.count_all()
    again = (
        await gql(
            """mutation($m: ID!, $d: ID!, $f: ID!) { logRun(input: {name: "trial-0", modelId: $m,
                 datasetId: $d, featuresetId: $f, metrics: {rmse: 0.5}}) {
                 run { id } modelParams { id } devPerf { metrics } created } }""",
            m=pipeline.model,
            d=pipeline.dataset,
            f=pipeline.featureset,
        )
    )["logRun"]

    assert again["created"] is False
    assert again["run"]["id"] == pipeline.runs[0]
    assert again["modelParams"]["id"] == pipeline.params[0]
    assert again["devPerf"]["metrics"] == {"rmse": 0.5}
    assert await store.count_all() == before


async def test_log_run_records_run_params_perf_and_their_links(gql: GraphQLClient) -> None:
    pipeline = await record_pipeline(gql, runs=1)
    run = (
        await gql(
            """query($id: ID!) { node(id: $id) { ... on Run {
                 name status deploymentTag startTime
                 dataset { id } featureset { id } model { id project { name } }
                 modelParams { params run { id } } devPerf { metrics metric(name: "rmse") run { id } } } } }""",
            id=pipeline.runs[0],
        )
    )["node"]

    assert run["name"] == "trial-0"
    assert run["status"] == "COMPLETED"
    assert run["deploymentTag"] == "prod"
    assert run["dataset"]["id"] == pipeline.dataset
    assert run["featureset"]["id"] == pipeline.featureset
    assert run["model"] == {"id": pipeline.model, "project": {"name": "housing"}}
    assert run["modelParams"] == {"params": {"max_depth": 3}, "run": {"id": pipeline.runs[0]}}
    assert run["devPerf"] == {"metrics": {"rmse": 0.5}, "metric": 0.5, "run": {"id": pipeline.runs[0]}}


async def test_deployment_from_run_tag_takes_the_runs_model_featureset_and_params(
    gql: GraphQLClient,
) -> None:
    pipeline = await record_pipeline(gql, runs=2)
    deployment = (
        await gql(
            """query($id: ID!) { node(id: $id) { ... on Deployment {
                 name tag model { id } featureset { id } modelParams { id }
                 servingPerf(first: 2) { nodes { periodStart metrics deployment { id } }
                                         pageInfo { hasNextPage } } } } }""",
            id=pipeline.deployment,
        )
    )["node"]

    assert deployment["name"] == deployment["tag"] == "prod"
    assert deployment["model"]["id"] == pipeline.model
    assert deployment["featureset"]["id"] == pipeline.featureset
    assert deployment["modelParams"]["id"] == pipeline.params[0]
    serving = deployment["servingPerf"]
    # Newest first.
    assert [s["periodStart"] for s in serving["nodes"]] == [
        "2026-11-03T00:00:00+00:00",
        "2026-11-02T00:00:00+00:00",
    ]
    assert serving["pageInfo"]["hasNextPage"] is True
    assert {s["deployment"]["id"] for s in serving["nodes"]} == {pipeline.deployment}


async def test_deployment_from_explicit_ids(gql: GraphQLClient) -> None:
    pipeline = await record_pipeline(gql, runs=2)
    created = (
        await gql(
            """mutation($m: ID!, $f: ID!, $p: ID!) { registerDeployment(input: {name: "canary",
                 tag: "canary-1", modelId: $m, featuresetId: $f, modelParamsId: $p}) {
                 deployment { tag modelParams { id } model { deployments { nodes { name } } } } created } }""",
            m=pipeline.model,
            f=pipeline.featureset,
            p=pipeline.params[1],
        )
    )["registerDeployment"]

    assert created["created"] is True
    assert created["deployment"]["tag"] == "canary-1"
    assert created["deployment"]["modelParams"]["id"] == pipeline.params[1]
    assert {d["name"] for d in created["deployment"]["model"]["deployments"]["nodes"]} == {"prod", "canary"}


async def test_serving_perf_by_deployment_tag(gql: GraphQLClient) -> None:
    pipeline = await record_pipeline(gql, runs=1)
    logged = (
        await gql(
            """mutation { logServingPerf(input: {deploymentTag: "prod", periodStart: "2026-12-01T00:00:00Z",
                 periodEnd: "2026-12-08T00:00:00+00:00", metrics: {rmse: 0.61}}) {
                 servingPerf { periodEnd metrics deployment { id } } } }"""
        )
    )["logServingPerf"]["servingPerf"]

    assert logged["deployment"]["id"] == pipeline.deployment
    assert logged["periodEnd"] == "2026-12-08T00:00:00+00:00"
    assert logged["metrics"] == {"rmse": 0.61}


async def test_update_attributes_merges_or_replaces(gql: GraphQLClient) -> None:
    pipeline = await record_pipeline(gql, runs=1)
    update = """mutation($id: ID!, $a: JSON!, $r: Boolean!) {
                  updateAttributes(input: {id: $id, attributes: $a, replace: $r}) { node { attributes } } }"""
    merged = await gql(update, id=pipeline.dataset, a={"rows": 20000, "owner": "ml"}, r=False)
    replaced = await gql(update, id=pipeline.dataset, a={"only": True}, r=True)

    assert merged["updateAttributes"]["node"]["attributes"] == {
        "rows": 20000,
        "source": "census",
        "owner": "ml",
    }
    assert replaced["updateAttributes"]["node"]["attributes"] == {"only": True}


async def test_add_tags_keeps_existing_tags_once_and_makes_them_searchable(gql: GraphQLClient) -> None:
    pipeline = await record_pipeline(gql, runs=1)
    tagged = await gql(
        'mutation($id: ID!) { addTags(input: {id: $id, tags: ["gold", "tabular", "gold"]}) { node { tags } } }',
        id=pipeline.dataset,
    )
    found = await gql('{ search(tag: "gold") { nodes { id } } }')

    assert tagged["addTags"]["node"]["tags"] == ["tabular", "gold"]
    assert found["search"]["nodes"] == [{"id": pipeline.dataset}]


class _MissesNames:
    """A transaction whose name look-ups miss nodes of ``kind``, as one that read before
    a concurrent writer committed them would."""

    def __init__(self, tx: Tx, kind: Kind) -> None:
        self.tx = tx
        self.kind = kind

    def __getattr__(self, name: str) -> Any:
        return getattr(self.tx, name)

    async def find_named(self, keys: Sequence[NameKey]) -> list[list[Node]]:
        found = await self.tx.find_named(keys)
        return [[] if key.kind is self.kind else nodes for key, nodes in zip(keys, found)]


async def test_a_registration_a_racing_writer_made_first_is_answered_as_existing(store: Store) -> None:
    project = await registry.create_project(store, name="raced")
    dataset = await registry.register_dataset(store, name="raced-data")
    featureset = await registry.register_featureset(store, name="raced-features", dataset_id=dataset.node.id)
    model = await registry.register_model(store, name="raced-model", project_id=project.node.id)
    before = await store.count_all()
    again = {
        Kind.PROJECT: lambda s: registry.create_project(s, name="raced"),
        Kind.DATASET: lambda s: registry.register_dataset(s, name="raced-data"),
        Kind.FEATURESET: lambda s: registry.register_featureset(s, name="raced-features", dataset_id=dataset.node.id),
        Kind.MODEL: lambda s: registry.register_model(s, name="raced-model", project_id=project.node.id),
    }
    for kind, first in zip(again, (project, dataset, featureset, model)):
        racing = FirstWriteMisses(store, lambda tx, kind=kind: _MissesNames(tx, kind))
        answered = await again[kind](racing)
        # The first transaction met the unique index and was run again, finding the node.
        assert racing.transactions == 2, kind
        assert (answered.created, answered.node.id) == (False, first.node.id), kind
    assert await store.count_all() == before


async def test_names_are_nfc_and_hold_no_format_or_bidi_controls(gql: GraphQLClient, store: Store) -> None:
    register = "mutation($n: String!) { registerDataset(input: {name: $n}) { dataset { id name } created } }"
    # A spoofing right-to-left override, invisible characters, and names of nothing
    # visible are refused, with nothing written.
    for spoofing in ("\u202eevil\u202c-ds", "\u200b", "\ufeff", "data\u200bset", "\u2066x\u2069", " \u200d "):
        error = await gql.error(register, n=spoofing)
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "name"}, (spoofing, error)
    assert (await store.count_all()).get("dataset", 0) == 0
    # "café" composed (NFC) and decomposed (NFD) is one name, kept composed, and found
    # by either spelling.
    composed, decomposed = "caf\u00e9", "cafe\u0301"
    first = (await gql(register, n=decomposed))["registerDataset"]
    again = (await gql(register, n=composed))["registerDataset"]
    assert first["created"] and not again["created"] and again["dataset"]["id"] == first["dataset"]["id"]
    assert first["dataset"]["name"] == composed
    for spelling in (composed, decomposed):
        found = await gql("query($n: String!) { dataset(name: $n) { id } }", n=spelling)
        assert found["dataset"]["id"] == first["dataset"]["id"]

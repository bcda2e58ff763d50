"""Soft delete over every store adapter: deleteNode hides a node and what exists only
through it from lists, search, navigation and lineage (unless asked to includeDeleted),
node(id) still answers it, its name is free, restoreNode brings it back whole, and
``metagate gc``'s purge removes it for good."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx

from metagate.gateway.app import create_app
from metagate.gateway.auth import issue
from metagate.gateway.config import Settings
from metagate.resolvers import deletion
from metagate.resolvers.authz import Role
from metagate.store.model import format_time
from metagate.store.port import Store
from tests.conftest import GraphQLClient
from tests.pipeline import record_pipeline

DELETE = """mutation($id: ID!, $r: String) {
  deleteNode(input: {id: $id, reason: $r}) { node { id deletedAt deletedReason } deleted { id deletedAt } count } }"""
RESTORE = """mutation($id: ID!) { restoreNode(input: {id: $id}) { node { id deletedAt } restored { id } count } }"""
NODE = """query($id: ID!) { node(id: $id) { id name deletedAt deletedReason } }"""
RUNS = """query($all: Boolean!) { runs(first: 100, includeDeleted: $all) { nodes { id deletedAt } } }"""
LINEAGE = """query($id: ID!, $all: Boolean!) {
  lineage(id: $id, direction: UPSTREAM, includeDeleted: $all) { nodes { node { id deletedAt } } edges { from to } } }"""
MODEL_RUNS = """query($id: ID!) { node(id: $id) { ... on Model { runs(first: 100) { nodes { id } } } } }"""
RUN_PARTS = """query($id: ID!) { node(id: $id) { ... on Run {
  deletedAt modelParams { id deletedAt } devPerf { id } model { id } dataset { id } } } }"""
DATASET = """mutation($n: String!) { registerDataset(input: {name: $n}) { dataset { id } created } }"""


def _ids(nodes: list[dict[str, Any]]) -> set[str]:
    return {n["id"] for n in nodes}


async def test_a_deleted_run_and_its_params_and_dev_perf_leave_every_read_but_one_by_id(gql: GraphQLClient) -> None:
    p = await record_pipeline(gql, runs=3)
    done = (await gql(DELETE, id=p.runs[1], r="trained on the wrong split"))["deleteNode"]
    assert done["count"] == 3
    assert _ids(done["deleted"]) == {p.runs[1], p.params[1], p.perfs[1]}
    assert done["node"]["deletedReason"] == "trained on the wrong split"
    at = dt.datetime.fromisoformat(done["node"]["deletedAt"])
    assert {dt.datetime.fromisoformat(n["deletedAt"]) for n in done["deleted"]} == {at}

    # By id: still there, with when and why.
    node = (await gql(NODE, id=p.runs[1]))["node"]
    assert (node["name"], node["deletedReason"]) == ("trial-1", "trained on the wrong split")
    # Lists, navigation and search leave it out unless asked to include it.
    assert _ids((await gql(RUNS, all=False))["runs"]["nodes"]) == {p.runs[0], p.runs[2]}
    everything = (await gql(RUNS, all=True))["runs"]["nodes"]
    assert _ids(everything) == set(p.runs)
    assert {n["id"] for n in everything if n["deletedAt"]} == {p.runs[1]}
    assert _ids((await gql(MODEL_RUNS, id=p.model))["node"]["runs"]["nodes"]) == {p.runs[0], p.runs[2]}
    found = await gql('{ search(text: "trial", kinds: [RUN]) { nodes { id } } }')
    assert _ids(found["search"]["nodes"]) == {p.runs[0], p.runs[2]}
    assert (await gql('{ run(name: "trial-1") { id } }'))["run"] is None
    # A deleted run's own navigation shows what it was linked to, deleted or not.
    parts = (await gql(RUN_PARTS, id=p.runs[1]))["node"]
    assert parts["modelParams"]["id"] == p.params[1] and parts["modelParams"]["deletedAt"] is not None
    assert (parts["devPerf"]["id"], parts["model"]["id"], parts["dataset"]["id"]) == (p.perfs[1], p.model, p.dataset)

    # Lineage of the deployment: upstream through the model to its runs, not the deleted one.
    live = (await gql(LINEAGE, id=p.deployment, all=False))["lineage"]
    reached = _ids([n["node"] for n in live["nodes"]])
    assert {p.runs[0], p.runs[2], p.params[0], p.dataset} <= reached
    assert not reached & {p.runs[1], p.params[1], p.perfs[1]}
    assert not any(p.runs[1] in (e["from"], e["to"]) for e in live["edges"])
    walked = (await gql(LINEAGE, id=p.deployment, all=True))["lineage"]
    deleted = {n["node"]["id"] for n in walked["nodes"] if n["node"]["deletedAt"]}
    assert p.runs[1] in deleted and p.params[1] in deleted
    assert any(e["from"] == p.runs[1] for e in walked["edges"])


async def test_restoring_brings_back_the_node_and_what_was_deleted_with_it(gql: GraphQLClient) -> None:
    p = await record_pipeline(gql, runs=2)
    await gql(DELETE, id=p.perfs[1])  # on its own first: it stays deleted
    await gql(DELETE, id=p.runs[1])
    again = (await gql(DELETE, id=p.runs[1]))["deleteNode"]
    assert again["count"] == 0 and again["deleted"] == []

    refused = await gql.error(RESTORE, id=p.params[1])
    assert refused["extensions"]["code"] == "CONFLICT"  # it exists through a run still deleted

    restored = (await gql(RESTORE, id=p.runs[1]))["restoreNode"]
    assert restored["node"]["deletedAt"] is None
    assert _ids(restored["restored"]) == {p.runs[1], p.params[1]}
    parts = (await gql(RUN_PARTS, id=p.runs[1]))["node"]
    assert parts["deletedAt"] is None and parts["modelParams"]["id"] == p.params[1] and parts["devPerf"] is None
    assert p.runs[1] in _ids((await gql(MODEL_RUNS, id=p.model))["node"]["runs"]["nodes"])
    assert (await gql(RESTORE, id=p.runs[1]))["restoreNode"]["count"] == 0
    # The dev perf deleted on its own comes back on its own, linked again.
    await gql(RESTORE, id=p.perfs[1])
    assert (await gql(RUN_PARTS, id=p.runs[1]))["node"]["devPerf"]["id"] == p.perfs[1]


async def test_a_deleted_name_is_free_and_restoring_over_its_new_holder_is_a_conflict(gql: GraphQLClient) -> None:
    old = (await gql(DATASET, n="census"))["registerDataset"]["dataset"]["id"]
    await gql(DELETE, id=old)
    new = (await gql(DATASET, n="census"))["registerDataset"]
    assert new["created"] and new["dataset"]["id"] != old
    assert (await gql('{ dataset(name: "census") { id } }'))["dataset"]["id"] == new["dataset"]["id"]
    refused = await gql.error(RESTORE, id=old)
    assert refused["extensions"] == {"code": "CONFLICT", "field": "id"}
    assert "census" in refused["message"]
    assert (await gql(NODE, id=old))["node"]["deletedAt"] is not None  # nothing written
    await gql(DELETE, id=new["dataset"]["id"])
    await gql(RESTORE, id=old)
    assert (await gql('{ dataset(name: "census") { id } }'))["dataset"]["id"] == old


async def test_a_deleted_deployment_takes_its_serving_perf_and_frees_its_tag(gql: GraphQLClient) -> None:
    p = await record_pipeline(gql, runs=1)
    done = (await gql(DELETE, id=p.deployment))["deleteNode"]
    assert _ids(done["deleted"]) == {p.deployment, *p.serving}
    again = await gql('mutation { registerDeployment(input: {deploymentTag: "prod"}) { deployment { id } created } }')
    assert again["registerDeployment"]["created"]
    assert again["registerDeployment"]["deployment"]["id"] != p.deployment
    assert (await gql.error(RESTORE, id=p.deployment))["extensions"]["code"] == "CONFLICT"


async def test_writes_that_name_a_deleted_node_are_not_found_and_write_nothing(gql: GraphQLClient) -> None:
    p = await record_pipeline(gql, runs=1)
    await gql(DELETE, id=p.model)
    refused = await gql.error(
        """mutation($m: ID!, $d: ID!, $f: ID!) {
             logRun(input: {name: "late", modelId: $m, datasetId: $d, featuresetId: $f}) { run { id } } }""",
        m=p.model,
        d=p.dataset,
        f=p.featureset,
    )
    assert refused["extensions"]["code"] == "NOT_FOUND"
    refused = await gql.error(
        "mutation($id: ID!) { updateAttributes(input: {id: $id, attributes: {a: 1}}) { node { id } } }", id=p.model
    )
    assert refused["extensions"]["code"] == "NOT_FOUND"
    assert (await gql('{ runs(first: 10, filter: {name: "late"}, includeDeleted: true) { nodes { id } } }'))["runs"][
        "nodes"
    ] == []


async def test_a_run_whose_dev_perf_is_deleted_has_no_metric_to_be_listed_by(gql: GraphQLClient) -> None:
    p = await record_pipeline(gql, runs=3)
    await gql(DELETE, id=p.perfs[2])
    ordered = await gql('{ runs(orderBy: {field: METRIC, metric: "rmse", direction: ASC}) { nodes { id } } }')
    assert [n["id"] for n in ordered["runs"]["nodes"]] == [p.runs[1], p.runs[0]]
    best = await gql('{ runs(filter: {metric: {name: "rmse", lt: 1}}) { nodes { id } } }')
    assert _ids(best["runs"]["nodes"]) == {p.runs[0], p.runs[1]}


async def test_deletion_and_restoration_are_in_the_history_with_the_reason(gql: GraphQLClient) -> None:
    p = await record_pipeline(gql, runs=2)
    await gql(DELETE, id=p.runs[1], r="duplicate")
    await gql(RESTORE, id=p.runs[1])
    history = await gql("query($id: ID!) { history(id: $id) { nodes { operation items { action node after } } } }", id=p.runs[1])
    [restored, deleted, *_] = history["history"]["nodes"]
    assert restored["operation"] == "restoreNode" and deleted["operation"] == "deleteNode"
    [own] = deleted["items"]  # a node's history holds the items about it
    assert (own["action"], own["node"], own["after"]) == ("DELETED", p.runs[1], {"reason": "duplicate"})
    params = await gql("query($id: ID!) { history(id: $id, first: 1) { nodes { operation items { action } } } }", id=p.params[1])
    assert params["history"]["nodes"] == [{"operation": "restoreNode", "items": [{"action": "RESTORED"}]}]
    assert ("RESTORED", p.runs[1]) in {(i["action"], i["node"]) for i in restored["items"]}


async def test_a_writer_deletes_and_restores_in_its_own_projects_only(store: Store, gql: GraphQLClient) -> None:
    own = await record_pipeline(gql, runs=2, prefix="a-")
    other = await record_pipeline(gql, runs=2, prefix="b-")
    token = await issue(store, name="ci", role=Role.WRITER, projects=["a-housing"])
    app = create_app(Settings(), store=store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost") as client:
        writer = GraphQLClient(client, token.secret)
        assert (await writer.error(DELETE, id=other.runs[0]))["extensions"]["code"] == "FORBIDDEN"
        await gql(DELETE, id=other.runs[0])
        assert (await writer.error(RESTORE, id=other.runs[0]))["extensions"]["code"] == "FORBIDDEN"
        # Its project is where a node was made, whatever was deleted on the way: with
        # the other project's model deleted, its runs and deployment are still not this
        # writer's to write.
        await gql(DELETE, id=other.model)
        assert (await writer.error(DELETE, id=other.runs[1]))["extensions"]["code"] == "FORBIDDEN"
        assert (await writer.error(DELETE, id=other.deployment))["extensions"]["code"] == "FORBIDDEN"
        update = "mutation($id: ID!) { updateAttributes(input: {id: $id, attributes: {a: 1}}) { node { id } } }"
        assert (await writer.error(update, id=other.runs[1]))["extensions"]["code"] == "FORBIDDEN"
        # In its own project it deletes and restores.
        assert (await writer(DELETE, id=own.runs[1]))["deleteNode"]["count"] == 3
        assert (await writer(RESTORE, id=own.runs[1]))["restoreNode"]["count"] == 3
    assert (await gql(NODE, id=other.runs[0]))["node"]["deletedAt"] is not None  # the refused restore wrote nothing


async def test_gc_purges_nodes_deleted_long_enough_ago_with_their_edges_and_keyed_answers(
    store: Store, gql: GraphQLClient
) -> None:
    p = await record_pipeline(gql, runs=2)
    keyed = await gql('mutation { registerDataset(input: {name: "old", idempotencyKey: "k-old"}) { dataset { id } } }')
    old = keyed["registerDataset"]["dataset"]["id"]
    await gql(DELETE, id=old)
    await gql(DELETE, id=p.runs[1])
    before = await store.count_all()
    now = dt.datetime.now(dt.UTC)
    assert await store.count_deleted(format_time(now + dt.timedelta(seconds=1))) == 4
    # Not old enough yet: nothing goes.
    assert (await deletion.purge(store, dt.timedelta(days=30))).nodes == 0
    heard: list[int] = []
    done = await deletion.purge(store, dt.timedelta(days=30), batch=3, progress=heard.append, now=now + dt.timedelta(days=31))
    assert (done.nodes, done.batches, heard) == (4, 2, [3, 1])
    for gone in (old, p.runs[1], p.params[1], p.perfs[1]):
        assert (await gql.error(NODE, id=gone))["extensions"]["code"] == "NOT_FOUND"
    after = await store.count_all()
    assert after["run"] == before["run"] - 1 and after["dataset"] == before["dataset"] - 1
    assert after["edge:run_model"] == before["edge:run_model"] - 1
    assert after["edge:run_dataset"] == before["edge:run_dataset"] - 1
    # The keyed answer that named the purged dataset is gone: the key registers anew.
    again = await gql('mutation { registerDataset(input: {name: "old", idempotencyKey: "k-old"}) { dataset { id } created } }')
    assert again["registerDataset"]["created"] and again["registerDataset"]["dataset"]["id"] != old
    # The change log keeps its entries; the purged node has no history left.
    history = await gql("query($id: ID!) { history(id: $id) { nodes { operation } } }", id=p.runs[1])
    assert history["history"]["nodes"] == []
    entries = await gql('{ changes(where: {operation: "deleteNode"}, first: 10) { nodes { items { node } } } }')
    assert {i["node"] for e in entries["changes"]["nodes"] for i in e["items"]} >= {old, p.runs[1]}
    # The rest is untouched.
    assert (await gql(NODE, id=p.runs[0]))["node"]["deletedAt"] is None


async def test_params_a_live_deployment_uses_stay_when_their_run_is_deleted(gql: GraphQLClient) -> None:
    p = await record_pipeline(gql, runs=2)  # the deployment was registered from trial-0, with its params
    done = (await gql(DELETE, id=p.runs[0]))["deleteNode"]
    assert _ids(done["deleted"]) == {p.runs[0], p.perfs[0]}
    served = await gql("query($id: ID!) { node(id: $id) { ... on Deployment { modelParams { id } } } }", id=p.deployment)
    assert served["node"]["modelParams"] == {"id": p.params[0]}


async def test_a_new_dev_perf_after_a_deleted_one_is_what_the_run_is_listed_by(gql: GraphQLClient) -> None:
    p = await record_pipeline(gql, runs=2)
    await gql(DELETE, id=p.perfs[0])
    await gql(
        'mutation($r: ID!) { logMetrics(input: {runId: $r, metrics: [{key: "rmse", value: 0.05}]}) { points } }', r=p.runs[0]
    )
    ordered = await gql('{ runs(orderBy: {field: METRIC, metric: "rmse", direction: ASC}) { nodes { id } } }')
    assert [n["id"] for n in ordered["runs"]["nodes"]] == [p.runs[0], p.runs[1]]
    best = await gql('{ runs(filter: {metric: {name: "rmse", lt: 0.1}}) { nodes { id } } }')
    assert _ids(best["runs"]["nodes"]) == {p.runs[0]}


async def test_a_version_restored_after_its_deployment_moved_on_is_not_served_again(gql: GraphQLClient) -> None:
    from tests.test_hub import SERVE, _deployment, _versions

    p = await record_pipeline(gql, runs=2)
    v1, _ = await _versions(gql, p, 2)
    deployment = await _deployment(gql, p, "gbr-live", v1["modelVersion"]["id"])
    await gql(DELETE, id=v1["modelVersion"]["id"])
    served = "query($d: ID!) { node(id: $d) { ... on Deployment { modelVersion { version } } } }"
    assert (await gql(served, d=deployment))["node"]["modelVersion"] is None
    await gql(SERVE, d=deployment, v=2)
    await gql(RESTORE, id=v1["modelVersion"]["id"])
    assert (await gql(served, d=deployment))["node"]["modelVersion"] == {"version": 2}
    lineage = (await gql(LINEAGE, id=deployment, all=False))["lineage"]
    assert v1["modelVersion"]["id"] not in _ids([n["node"] for n in lineage["nodes"] if n["node"]["id"]])
    # Restored, it is a version of its model again, served nowhere.
    versions = await gql("query($m: ID!) { node(id: $m) { ... on Model { versions { nodes { version } } } } }", m=p.model)
    assert {v["version"] for v in versions["node"]["versions"]["nodes"]} == {1, 2}

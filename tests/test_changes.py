"""The change log over every store adapter: each mutation writes one entry in its own
transaction, naming the mutation field, the token and each node and edge it created,
changed or deleted; a node's history and the store's changes read it back, page by
page, without a gap or a repeat."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import httpx

from metagate.gateway.app import create_app
from metagate.gateway.auth import issue
from metagate.gateway.config import Settings
from metagate.resolvers import changes
from metagate.resolvers.authz import Role
from metagate.resolvers.ids import decode_id
from metagate.store.changes import Change, ChangeQuery
from metagate.store.port import Store
from tests.conftest import GraphQLClient
from tests.pipeline import record_pipeline
from tests.test_hub import REGISTER, SERVE

CHANGES = """query($w: ChangeWhere, $first: Int, $after: String) {
  changes(where: $w, first: $first, after: $after) {
    pageInfo { hasNextPage endCursor }
    nodes { cursor at operation tokenId tokenName itemCount
            items { action node kind edgeKind from to before after } } } }"""
HISTORY = """query($id: ID!, $first: Int, $after: String) {
  history(id: $id, first: $first, after: $after) {
    pageInfo { hasNextPage endCursor }
    edges { cursor node { cursor operation items { action node edgeKind from to before after } } } } }"""
UPDATE = """mutation($id: ID!, $a: JSON!) { updateAttributes(input: {id: $id, attributes: $a}) { node { id } } }"""


async def _all(gql: GraphQLClient, where: dict[str, Any] | None = None, first: int = 100) -> list[dict[str, Any]]:
    """Every change ``where`` selects, newest first, read a page at a time."""
    out: list[dict[str, Any]] = []
    after = None
    while True:
        page = (await gql(CHANGES, w=where, first=first, after=after))["changes"]
        out += page["nodes"]
        if not page["pageInfo"]["hasNextPage"]:
            return out
        after = page["pageInfo"]["endCursor"]


async def test_each_mutation_writes_one_entry_naming_its_field_its_token_and_what_it_wrote(
    store: Store, gql: GraphQLClient
) -> None:
    pipeline = await record_pipeline(gql, runs=2)
    entries = await _all(gql)
    operations = [e["operation"] for e in reversed(entries)]
    assert operations == [
        "createProject",
        "registerDataset",
        "registerFeatureset",
        "registerModel",
        "logRun",
        "logRun",
        "registerDeployment",
        "logServingPerf",
        "logServingPerf",
        "logServingPerf",
    ]
    cursors = [int(e["cursor"]) for e in entries]
    assert cursors == sorted(cursors, reverse=True) and len(set(cursors)) == len(cursors)
    assert {(e["tokenName"], e["tokenId"] is not None) for e in entries} == {("tests", True)}
    [first_run] = [e for e in reversed(entries) if e["operation"] == "logRun"][:1]
    created = {i["node"] for i in first_run["items"] if i["action"] == "CREATED" and i["edgeKind"] is None}
    assert created == {pipeline.runs[0], pipeline.params[0], pipeline.perfs[0]}
    edges = {(i["edgeKind"], i["from"], i["to"]) for i in first_run["items"] if i["edgeKind"] is not None}
    assert ("run_dataset", pipeline.runs[0], pipeline.dataset) in edges
    assert ("run_modelparams", pipeline.runs[0], pipeline.params[0]) in edges
    assert first_run["itemCount"] == len(first_run["items"])
    at = [dt.datetime.fromisoformat(e["at"]) for e in entries]
    assert at == sorted(at, reverse=True)


async def test_a_change_names_the_parts_it_changed_before_and_after_and_a_no_op_writes_nothing(gql: GraphQLClient) -> None:
    pipeline = await record_pipeline(gql, runs=1)
    await gql(UPDATE, id=pipeline.dataset, a={"rows": 20641, "owner": "ana"})
    await gql(UPDATE, id=pipeline.dataset, a={"rows": 20641})  # as it is: nothing changes
    await gql('mutation($id: ID!) { addTags(input: {id: $id, tags: ["gold"]}) { node { id } } }', id=pipeline.dataset)
    history = (await gql(HISTORY, id=pipeline.dataset))["history"]["edges"]
    assert [h["node"]["operation"] for h in history][:2] == ["addTags", "updateAttributes"]
    [tags] = history[0]["node"]["items"]
    assert tags == {
        "action": "CHANGED",
        "node": pipeline.dataset,
        "edgeKind": None,
        "from": None,
        "to": None,
        "before": {"tags": ["tabular"]},
        "after": {"tags": ["tabular", "gold"]},
    }
    [attributes] = history[1]["node"]["items"]
    assert attributes["before"] == {"attributes": {"rows": 20640, "source": "census"}}
    assert attributes["after"] == {"attributes": {"rows": 20641, "source": "census", "owner": "ana"}}


async def test_a_nodes_history_holds_only_the_items_about_it_and_pages_without_gap_or_repeat(gql: GraphQLClient) -> None:
    pipeline = await record_pipeline(gql, runs=3)
    for n in range(4):
        await gql(UPDATE, id=pipeline.dataset, a={"version": n})
    whole = (await gql(HISTORY, id=pipeline.dataset, first=100))["history"]
    assert not whole["pageInfo"]["hasNextPage"]
    operations = [e["node"]["operation"] for e in whole["edges"]]
    # Its updates, the runs that read it, the featureset made from it, its registration.
    assert operations == ["updateAttributes"] * 4 + ["logRun"] * 3 + ["registerFeatureset", "registerDataset"]
    for entry in whole["edges"]:
        for item in entry["node"]["items"]:
            assert pipeline.dataset in (item["node"], item["from"], item["to"]), item
    paged: list[str] = []
    after = None
    while True:
        page = (await gql(HISTORY, id=pipeline.dataset, first=2, after=after))["history"]
        paged += [e["cursor"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert paged == [e["cursor"] for e in whole["edges"]]


async def test_changes_filter_by_token_operation_kinds_and_time(store: Store, gql: GraphQLClient) -> None:
    pipeline = await record_pipeline(gql, runs=2)
    writer = await issue(store, name="nightly", role=Role.WRITER)
    transport = httpx.ASGITransport(app=create_app(Settings(), store=store))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        nightly = GraphQLClient(client, writer.secret)
        await nightly(UPDATE, id=pipeline.model, a={"owner": "nightly"})
        error = await nightly.error(CHANGES)
        assert error["extensions"]["code"] == "FORBIDDEN"
    everything = await _all(gql)
    by_writer = await _all(gql, {"token": writer.token.id})
    assert [(e["operation"], e["tokenName"]) for e in by_writer] == [("updateAttributes", "nightly")]
    runs = await _all(gql, {"operation": "logRun"})
    assert len(runs) == 2 and all(e["operation"] == "logRun" for e in runs)
    # About a deployment: its registration and its serving periods (whose edges reach it).
    deployments = await _all(gql, {"kinds": ["DEPLOYMENT"]})
    assert [e["operation"] for e in deployments] == ["logServingPerf"] * 3 + ["registerDeployment"]
    middle = everything[len(everything) // 2]["at"]
    later = await _all(gql, {"after": middle})
    earlier = await _all(gql, {"before": middle})
    assert [e["cursor"] for e in later + earlier] == [e["cursor"] for e in everything]
    refused = await gql.error(CHANGES, w={"after": middle, "before": middle})
    assert refused["extensions"]["code"] == "BAD_USER_INPUT"


async def test_paging_the_whole_log_sees_every_entry_once(gql: GraphQLClient) -> None:
    await record_pipeline(gql, runs=4)
    one = await _all(gql, first=1)
    three = await _all(gql, first=3)
    assert [e["cursor"] for e in one] == [e["cursor"] for e in three]
    assert len({e["cursor"] for e in one}) == len(one) == 12


async def test_a_refused_mutation_writes_no_entry(gql: GraphQLClient) -> None:
    pipeline = await record_pipeline(gql, runs=1)
    before = await _all(gql)
    error = await gql.error(
        """mutation($i: LogRunInput!) { logRun(input: $i) { run { id } } }""",
        i={
            "name": "bad",
            "modelId": pipeline.model,
            "datasetId": pipeline.dataset,
            "featuresetId": pipeline.featureset,
            "metrics": {"rmse": "high"},
        },
    )
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    replay = await gql('mutation { createProject(input: {name: "housing"}) { created } }')
    assert replay["createProject"]["created"] is False  # registered already: nothing written
    assert await _all(gql) == before


async def test_the_compiled_path_and_the_executor_name_the_same_field(gql: GraphQLClient) -> None:
    # The first call of a document goes through strawberry; its repeats are answered on
    # the compiled path (schema.compiled).
    for n in range(3):
        await gql("mutation($n: String!) { registerDataset(input: {name: $n}) { dataset { id } } }", n=f"d{n}")
    assert [e["operation"] for e in await _all(gql)] == ["registerDataset"] * 3


async def test_moves_name_the_version_by_its_global_id_and_removed_edges_when_they_were_made(gql: GraphQLClient) -> None:
    pipeline = await record_pipeline(gql, runs=2)
    versions = [
        (await gql(REGISTER, m=pipeline.model, r=run, s=f"s3://m/{i}"))["registerModelVersion"]["modelVersion"]["id"]
        for i, run in enumerate(pipeline.runs)
    ]
    await gql(SERVE, d=pipeline.deployment, v=1)
    await gql(SERVE, d=pipeline.deployment, v=2)
    [latest] = (await gql(CHANGES, first=1))["changes"]["nodes"]
    assert latest["operation"] == "serveModelVersion"
    items = {(i["action"], i["edgeKind"]): i for i in latest["items"]}
    removed = items[("DELETED", "deployment_modelversion")]
    assert (removed["from"], removed["to"]) == (pipeline.deployment, versions[0])
    # Made by the first serve, before the entry that removed it.
    assert dt.datetime.fromisoformat(removed["before"]["createdAt"].replace("Z", "+00:00")) < dt.datetime.fromisoformat(
        latest["at"]
    )
    made = items[("CREATED", "deployment_modelversion")]
    assert (made["from"], made["to"]) == (pipeline.deployment, versions[1])
    move = items[("MOVED", None)]
    assert move["node"] == pipeline.deployment
    assert move["after"]["topic"] == "servedVersion"
    assert move["after"]["value"]["version"] == versions[1]  # the global id, as the API gives it


async def test_logged_points_and_openlineage_events_are_entries_too(store: Store, gql: GraphQLClient) -> None:
    pipeline = await record_pipeline(gql, runs=1)
    await gql(
        """mutation($r: ID!) { logMetrics(input: {runId: $r, series: [{key: "loss", values: [0.9, 0.5, 0.3]}]}) {
             run { id } } }""",
        r=pipeline.runs[0],
    )
    [logged] = (await gql(CHANGES, first=1))["changes"]["nodes"]
    assert logged["operation"] == "logMetrics"
    [points] = [i for i in logged["items"] if i["action"] == "LOGGED"]
    assert (points["node"], points["kind"], points["after"]) == (pipeline.runs[0], "run", {"keys": {"loss": 3}})
    event = {
        "eventType": "COMPLETE",
        "eventTime": "2026-11-30T10:00:00Z",
        "run": {"runId": "0196a2b4-6c1e-7cc0-8a2f-3d5e9b1c4a77"},
        "job": {"namespace": "nightly", "name": "clean"},
        "inputs": [{"namespace": "s3://raw", "name": "events"}],
        "outputs": [],
        "producer": "https://example.com/etl",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/definitions/RunEvent",
    }
    response = await gql.http.post("/api/v1/lineage", json=event, headers=gql.headers)
    assert response.status_code == 201, response.text
    [ingested] = (await gql(CHANGES, first=1))["changes"]["nodes"]
    assert (ingested["operation"], ingested["tokenName"]) == ("openlineage", "tests")
    assert any(i["action"] == "CREATED" and i["kind"] == "step" for i in ingested["items"])


async def test_a_cursor_that_is_not_one_is_refused(gql: GraphQLClient) -> None:
    pipeline = await record_pipeline(gql, runs=1)
    for bad in ("x", "-1", "01", "1" * 20, "9999999999999999999", str(2**53)):
        error = await gql.error(HISTORY, id=pipeline.dataset, after=bad)
        assert error["extensions"]["code"] == "BAD_USER_INPUT", bad


async def test_a_follower_sees_each_entry_once_in_order_while_writers_race_and_resumes_from_its_cursor(
    store: Store, gql: GraphQLClient
) -> None:
    pipeline = await record_pipeline(gql, runs=1)
    start = await changes.latest(store)
    writes = 24
    # A small backlog: a follower that reads slower than the writers is let go by the
    # feed and reads the log itself until it has caught up.
    feed = changes.Feed(store, interval=0.005, page_size=5, backlog=3)

    async def writer(n: int) -> None:
        for i in range(writes // 4):
            await gql(UPDATE, id=pipeline.dataset if n % 2 else pipeline.model, a={f"w{n}": i})

    async def read(after: int, count: int, **narrowed: Any) -> list[Change]:
        seen: list[Change] = []
        async with asyncio.timeout(30):
            async for change in changes.follow(store, after=after, page_size=5, feed=feed, **narrowed):
                seen.append(change)
                if len(seen) % 5 == 0:
                    await asyncio.sleep(0.02)
                if len(seen) == count:
                    return seen
        raise AssertionError("unreachable")

    following = asyncio.ensure_future(read(start, writes))
    await asyncio.gather(*(writer(n) for n in range(4)))
    seen = await following
    numbers = [c.seq for c in seen]
    assert numbers == sorted(set(numbers)) and numbers[0] == start + 1
    logged = [c.seq for c in await store.changes(ChangeQuery(100, start, True))]
    assert numbers == logged
    # Resumed from the cursor of the tenth: the rest, no gap, no repeat.
    assert [c.seq for c in await read(numbers[9], writes - 10)] == numbers[10:]
    # Narrowed to one node: only its entries, each with only its items.
    about = await read(start, writes // 2, nodes=frozenset({decode_id(pipeline.dataset)}))
    assert all(i.node == decode_id(pipeline.dataset) for c in about for i in c.items)
    # From now on: nothing until the next write.
    late = asyncio.ensure_future(read(await changes.latest(store), 1))
    await gql(UPDATE, id=pipeline.dataset, a={"late": True})
    [last] = await late
    assert last.seq == max(logged) + 1


async def test_followers_of_one_process_share_one_reader_of_the_log(store: Store, gql: GraphQLClient) -> None:
    pipeline = await record_pipeline(gql, runs=1)
    feed = changes.Feed(store, interval=0.01)
    start = await changes.latest(store)

    async def follower() -> list[int]:
        seen: list[int] = []
        async with asyncio.timeout(30):
            async for change in changes.follow(store, after=start, feed=feed):
                seen.append(change.seq)
                if len(seen) == 5:
                    return seen
        raise AssertionError("unreachable")

    following = [asyncio.ensure_future(follower()) for _ in range(20)]
    await asyncio.sleep(0.1)
    reads = feed.reads
    for i in range(5):
        await gql(UPDATE, id=pipeline.dataset, a={"n": i})
    heard = await asyncio.gather(*following)
    assert heard == [list(range(start + 1, start + 6))] * 20
    # Twenty followers, one read of the log every interval between them (not twenty).
    assert 0 < reads <= 0.1 / 0.01 + 2


async def test_the_nodes_an_entry_is_about_are_read_once_for_all_its_subscribers(
    store: Store, gql: GraphQLClient, monkeypatch: Any
) -> None:
    pipeline = await record_pipeline(gql, runs=1)
    feed = changes.Feed(store)
    reads: list[list[str]] = []
    read = store.get_nodes

    async def counted(ids: Any, **options: Any) -> Any:
        reads.append(list(ids))
        return await read(ids, **options)

    monkeypatch.setattr(store, "get_nodes", counted)
    run = decode_id(pipeline.runs[0])
    answers = await asyncio.gather(*(feed.nodes(7, [run]) for _ in range(20)))
    assert reads == [[run]]
    assert all([n.id for n in a if n is not None] == [run] for a in answers)
    await feed.nodes(8, [run])  # another entry: read again, as it is now
    assert len(reads) == 2

"""The graph as of a time, over every store adapter: ``lineage(asOf:)`` and ``node(id,
asOf:)`` answer what plain ``lineage`` and ``node`` answered at that time, through
deletions, restores, changed attributes and tags, and a deployment's served version
moving on; the nodes answered lead to their neighbours as of the same time."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from typing import Any

import graphql
import pytest

from metagate.resolvers.queries import Limits
from metagate.schema import build_schema
from metagate.schema.context import make_context
from metagate.store.model import utcnow
from metagate.store.port import Store
from tests.conftest import GraphQLClient
from tests.pipeline import record_pipeline
from tests.test_deletion import DELETE, RESTORE

# Every part of a node a walk answers, and navigation from it (as of the same time).
NODE_PARTS = """id name tags attributes deletedAt deletedReason
  ... on Run { model { id } devPerf { id } }
  ... on Model { runs(first: 50) { nodes { id } } }
  ... on Deployment { modelVersion { id version } }"""
LINEAGE = f"""query($id: ID!, $dir: LineageDirection!, $all: Boolean!, $at: DateTime) {{
  lineage(id: $id, direction: $dir, includeDeleted: $all, asOf: $at, limit: 50) {{
    root {{ id deletedAt }}
    nodes {{ depth direction node {{ {NODE_PARTS} }} }}
    edges {{ id kind from to createdAt }}
    truncated }} }}"""
NODE = f"""query($id: ID!, $at: DateTime) {{ node(id: $id, asOf: $at) {{ {NODE_PARTS} }} }}"""
UPDATE = """mutation($id: ID!, $a: JSON!) { updateAttributes(input: {id: $id, attributes: $a}) { node { id } } }"""
TAG = """mutation($id: ID!, $t: [String!]!) { addTags(input: {id: $id, tags: $t}) { node { id } } }"""


_SCHEMA = build_schema()


async def _executed(store: Store, query: str, **variables: Any) -> Any:
    """The executor's answer (its resolvers, field by field), for the compiled path's to match."""
    done = await graphql.graphql(
        _SCHEMA._schema, query, variable_values=variables, context_value=make_context(store, Limits(), "as-of")
    )
    return done.data


async def _instant() -> str:
    """A time after everything written so far and before anything written next."""
    await asyncio.sleep(0.002)
    at = utcnow()
    await asyncio.sleep(0.002)
    return at


async def test_lineage_and_node_as_of_a_time_answer_the_graph_as_it_was(gql: GraphQLClient) -> None:
    from tests.test_hub import SERVE, _deployment, _versions

    before_all = await _instant()
    p = await record_pipeline(gql, runs=2)
    v1, v2 = await _versions(gql, p, 2)
    deployment = await _deployment(gql, p, "gbr-live", v1["modelVersion"]["id"])
    await gql(UPDATE, id=p.dataset, a={"rows": 1})
    first = await _instant()
    then = await gql(LINEAGE, id=deployment, dir="UPSTREAM", all=False, at=None)

    await gql(UPDATE, id=p.dataset, a={"rows": 2, "source": "survey"})
    await gql(TAG, id=p.dataset, t=["cleaned"])
    await gql(SERVE, d=deployment, v=2)
    await gql(DELETE, id=p.runs[1], r="leaked labels")
    now = await gql(LINEAGE, id=deployment, dir="UPSTREAM", all=False, at=None)
    assert now != then

    # As of the first instant: the served version, the dataset's attributes, the run.
    assert (await gql(LINEAGE, id=deployment, dir="UPSTREAM", all=False, at=first)) == then
    dataset = (await gql(NODE, id=p.dataset, at=first))["node"]
    assert dataset["attributes"] == {"rows": 1, "source": "census"} and dataset["tags"] == ["tabular"]
    served = (await gql(NODE, id=deployment, at=first))["node"]["modelVersion"]
    assert served["id"] == v1["modelVersion"]["id"]
    assert (await gql(NODE, id=deployment, at=None))["node"]["modelVersion"]["id"] == v2["modelVersion"]["id"]
    model_runs = (await gql(NODE, id=p.model, at=first))["node"]["runs"]["nodes"]
    assert {r["id"] for r in model_runs} == set(p.runs)
    # Now: the run is deleted; as of now it answers with its deletedAt, and with why.
    run = (await gql(NODE, id=p.runs[1], at=await _instant()))["node"]
    assert run["deletedAt"] is not None and run["deletedReason"] == "leaked labels"
    assert (await gql(NODE, id=p.runs[1], at=first))["node"]["deletedAt"] is None

    # Before anything existed: no such node, and no walk.
    missing = await gql.raw(NODE, id=p.dataset, at=before_all)
    assert missing["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    missing = await gql.raw(LINEAGE, id=deployment, dir="UPSTREAM", all=False, at=before_all)
    assert missing["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_an_edge_removed_and_made_again_stands_for_each_of_its_spans(gql: GraphQLClient) -> None:
    from tests.test_hub import SERVE, _deployment, _versions

    p = await record_pipeline(gql, runs=1)
    v1, v2 = await _versions(gql, p, 2)
    deployment = await _deployment(gql, p, "gbr-live", v1["modelVersion"]["id"])
    spans = []
    for version in (2, 1, 2):
        spans.append((await _instant(), await gql(NODE, id=deployment, at=None)))
        await gql(SERVE, d=deployment, v=version)
    spans.append((await _instant(), await gql(NODE, id=deployment, at=None)))
    for at, answered in spans:
        assert await gql(NODE, id=deployment, at=at) == answered
    assert [a["node"]["modelVersion"]["version"] for _, a in spans] == [1, 2, 1, 2]


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_lineage_as_of_random_instants_of_a_random_history_is_what_lineage_answered_then(
    gql: GraphQLClient, store: Store, seed: int
) -> None:
    from tests.test_hub import SERVE, _deployment, _versions

    rng = random.Random(seed)
    p = await record_pipeline(gql, runs=3)
    versions = await _versions(gql, p, 3)
    deployment = await _deployment(gql, p, "gbr-live", versions[0]["modelVersion"]["id"])
    runs = list(p.runs)
    deletable = [*runs, p.dataset, p.featureset, *p.params, *p.perfs, *(v["modelVersion"]["id"] for v in versions)]
    deleted: list[str] = []
    starts = [deployment, p.dataset, p.model]
    seen: list[tuple[str, str, str, bool, Any]] = []

    async def look() -> None:
        at = await _instant()
        for start in starts:
            for direction in ("UPSTREAM", "DOWNSTREAM"):
                for hidden in (False, True):
                    answered = await gql.raw(LINEAGE, id=start, dir=direction, all=hidden, at=None)
                    seen.append((at, start, direction, hidden, answered))

    await look()
    for step in range(14):
        move = rng.choice(["delete", "restore", "update", "tag", "serve", "run"])
        if move == "delete":
            target = rng.choice([n for n in deletable if n not in deleted])
            done = await gql.raw(DELETE, id=target, r=f"step {step}")
            if "errors" not in done:
                deleted += [n["id"] for n in done["data"]["deleteNode"]["deleted"]]
        elif move == "restore" and deleted:
            target = rng.choice(deleted)
            done = await gql.raw(RESTORE, id=target)
            if "errors" not in done:
                restored = {n["id"] for n in done["data"]["restoreNode"]["restored"]}
                deleted = [n for n in deleted if n not in restored]
        elif move == "update":
            await gql.raw(UPDATE, id=rng.choice([p.dataset, p.model, *runs]), a={"step": step, "r": rng.random()})
        elif move == "tag":
            await gql.raw(TAG, id=rng.choice([p.dataset, p.featureset, *runs]), t=[f"t{step}"])
        elif move == "serve":
            await gql.raw(SERVE, d=deployment, v=rng.randint(1, 3))
        else:
            logged = await gql(
                """mutation($input: LogRunInput!) { logRun(input: $input) { run { id } } }""",
                input={
                    "name": f"late-{step}",
                    "modelId": p.model,
                    "datasetId": p.dataset,
                    "featuresetId": p.featureset,
                    "params": {"step": step},
                },
            )
            runs.append(logged["logRun"]["run"]["id"])
            deletable.append(runs[-1])
        await look()

    assert deleted or seed != 1  # the history deletes something (seed 1 does)
    compiled = 0
    answer_text = store.answer_text

    async def counted(plan: Any) -> bytes | None:
        nonlocal compiled
        compiled += 1
        return await answer_text(plan)

    store.answer_text = counted  # type: ignore[method-assign]
    for at, start, direction, hidden, answered in seen:
        # The compiled path's answer, and the executor's, are what lineage answered then.
        assert await gql.raw(LINEAGE, id=start, dir=direction, all=hidden, at=at) == answered, (at, start, direction, hidden)
        if start == deployment:
            executed = await _executed(store, LINEAGE, id=start, dir=direction, all=hidden, at=at)
            assert executed == answered["data"], (at, start, direction, hidden)
    assert compiled >= len(seen)
    # And node(id, asOf:) of every node ever walked.
    walked = {n["node"]["id"] for *_, a in seen if "data" in a for n in a["data"]["lineage"]["nodes"]}
    assert walked
    now = await _instant()
    for node_id in sorted(walked):
        assert await gql.raw(NODE, id=node_id, at=now) == await gql.raw(NODE, id=node_id, at=None)


def test_as_of_takes_times_in_any_zone() -> None:
    # asOf is a DateTime: a time with an offset is the same instant in UTC.
    at = dt.datetime(2026, 1, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    from metagate.resolvers import validate

    assert validate.time(at, field="asOf") == "2026-01-01T10:00:00.000000Z"


async def test_an_edge_made_again_in_the_write_that_removed_it_stands_once(store: Store) -> None:
    from metagate.store.model import Direction, Edge, Kind, Node, Step, new_id
    from metagate.store.port import LineageQuery, NeighborRequest

    made = utcnow()
    d = Node(new_id(Kind.DATASET), Kind.DATASET, "d", made)
    f = Node(new_id(Kind.FEATURESET), Kind.FEATURESET, "f", made)
    link = Edge("featureset_dataset", f.id, d.id, made)
    async with store.write() as tx:
        await tx.insert_nodes([d, f])
        await tx.insert_edges([link])
    await asyncio.sleep(0.002)
    again = utcnow()  # the time the write gives the edge made again: before its removal's
    await asyncio.sleep(0.002)
    async with store.write() as tx:
        await tx.delete_edges([link])
        await tx.insert_edges([Edge("featureset_dataset", f.id, d.id, again)])
    for at in (again, await _instant()):
        [page] = await store.neighbors([NeighborRequest(f.id, "featureset_dataset", Step.OUT, 5, as_of=at)])
        assert [n.id for n, _ in page.items] == [d.id]
        walked = await store.lineage(LineageQuery(f.id, Direction.UPSTREAM, 3, 10, as_of=at))
        assert [n.node.id for n in walked.nodes] == [d.id] and len(walked.edges) == 1

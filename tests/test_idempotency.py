"""A mutation retried with the same idempotency key returns its first answer and writes
nothing new: what a pipeline step needs when a response is lost."""

from __future__ import annotations

import httpx

from metagate.gateway.app import create_app
from metagate.gateway.auth import issue
from metagate.gateway.config import Settings
from metagate.resolvers.authz import Role
from metagate.store.port import Store
from tests.conftest import GraphQLClient
from tests.pipeline import record_pipeline

LOG_RUN = """mutation($m: ID!, $d: ID!, $f: ID!, $key: String, $rmse: Float!) {
  logRun(input: {modelId: $m, datasetId: $d, featuresetId: $f, metrics: {rmse: $rmse}, idempotencyKey: $key}) {
    run { id } modelParams { id } devPerf { metrics } created } }"""


async def test_a_retried_log_run_is_recorded_once(gql: GraphQLClient, store: Store) -> None:
    p = await record_pipeline(gql, runs=1)
    ids = {"m": p.model, "d": p.dataset, "f": p.featureset}
    first = (await gql(LOG_RUN, key="step-7-attempt", rmse=0.3, **ids))["logRun"]
    after_first = await store.count_all()
    retry = (await gql(LOG_RUN, key="step-7-attempt", rmse=0.3, **ids))["logRun"]
    after_retry = await store.count_all()
    unkeyed = (await gql(LOG_RUN, key=None, rmse=0.3, **ids))["logRun"]

    assert retry == first
    assert after_retry == after_first
    assert unkeyed["run"]["id"] != first["run"]["id"]  # without a key, a second run
    assert (await store.count_all())["run"] == after_first["run"] + 1


async def test_a_key_reused_for_another_request_is_a_conflict(gql: GraphQLClient, store: Store) -> None:
    p = await record_pipeline(gql, runs=1)
    ids = {"m": p.model, "d": p.dataset, "f": p.featureset}
    await gql(LOG_RUN, key="k1", rmse=0.3, **ids)
    before = await store.count_all()
    error = await gql.error(LOG_RUN, key="k1", rmse=0.9, **ids)
    assert error["extensions"]["code"] == "CONFLICT"
    assert "idempotencyKey" in error["message"]
    assert await store.count_all() == before


async def test_a_failed_attempt_does_not_use_up_its_key(gql: GraphQLClient, store: Store) -> None:
    p = await record_pipeline(gql, runs=1)
    bad = await gql.error(LOG_RUN, key="k2", rmse=0.3, m=p.dataset, d=p.dataset, f=p.featureset)
    good = await gql(LOG_RUN, key="k2", rmse=0.3, m=p.model, d=p.dataset, f=p.featureset)
    assert bad["extensions"]["code"] == "BAD_USER_INPUT"
    assert good["logRun"]["created"] is True


async def test_every_mutation_takes_a_key(gql: GraphQLClient, store: Store) -> None:
    p = await record_pipeline(gql, runs=1)
    # Registrations are idempotent by name too: `created` tells the keyed replay (the
    # first answer, created: true) from a second registration (created: false).
    registrations = [
        ('mutation { createProject(input: {name: "x", idempotencyKey: "a"}) { project { id } created } }', {}),
        ('mutation { registerDataset(input: {name: "x", idempotencyKey: "b"}) { dataset { id } created } }', {}),
        (
            'mutation($d: ID!) { registerFeatureset(input: {name: "x", datasetId: $d, idempotencyKey: "c"}) '
            "{ featureset { id } created } }",
            {"d": p.dataset},
        ),
        (
            'mutation($p: ID!) { registerModel(input: {name: "x", projectId: $p, idempotencyKey: "d"}) '
            "{ model { id } created } }",
            {"p": p.project},
        ),
        (
            'mutation($m: ID!, $f: ID!, $mp: ID!) { registerDeployment(input: {name: "x", modelId: $m, '
            'featuresetId: $f, modelParamsId: $mp, idempotencyKey: "e"}) { deployment { id } created } }',
            {"m": p.model, "f": p.featureset, "mp": p.params[0]},
        ),
    ]
    for document, variables in registrations:
        first = await gql(document, **variables)
        counts = await store.count_all()
        replay = await gql(document, **variables)
        assert replay == first and next(iter(first.values()))["created"] is True, document
        assert await store.count_all() == counts, document

    serving = (
        'mutation($d: ID!) { logServingPerf(input: {deploymentId: $d, periodStart: "2026-12-01T00:00:00Z", '
        'periodEnd: "2026-12-02T00:00:00Z", metrics: {rmse: 0.5}, idempotencyKey: "f"}) '
        "{ servingPerf { id } } }"
    )
    first = await gql(serving, d=p.deployment)
    counts = await store.count_all()
    assert await gql(serving, d=p.deployment) == first
    assert await store.count_all() == counts

    # Updates: a change made in between shows that the replay writes nothing (it would
    # otherwise undo the change); it answers with the node the first call wrote, as it is now.
    update = (
        "mutation($id: ID!, $v: Int!, $k: String) { updateAttributes(input: {id: $id, attributes: {v: $v},"
        " idempotencyKey: $k}) { node { attributes } } }"
    )
    await gql(update, id=p.dataset, v=2, k="g")
    changed = await gql(update, id=p.dataset, v=3, k=None)
    assert await gql(update, id=p.dataset, v=2, k="g") == changed
    stored = await gql("query($id: ID!) { node(id: $id) { attributes tags } }", id=p.dataset)
    assert stored["node"]["attributes"]["v"] == 3

    tag = (
        "mutation($id: ID!, $t: String!, $k: String) {"
        " addTags(input: {id: $id, tags: [$t], idempotencyKey: $k}) { node { tags } } }"
    )
    first = await gql(tag, id=p.dataset, t="new", k="h")
    assert await gql(tag, id=p.dataset, t="new", k="h") == first
    # Re-adding a tag writes nothing anyway; that the key was kept shows in its refusal
    # of another request.
    refused = await gql.error(tag, id=p.dataset, t="other", k="h")
    stored = await gql("query($id: ID!) { node(id: $id) { tags } }", id=p.dataset)
    assert refused["extensions"]["code"] == "CONFLICT" and "other" not in stored["node"]["tags"]


async def test_keys_belong_to_the_token_that_used_them(store: Store) -> None:
    a = (await issue(store, name="a", role=Role.ADMIN)).secret
    b = (await issue(store, name="b", role=Role.ADMIN)).secret
    app = create_app(Settings(), store=store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost") as http:
        doc = 'mutation { registerDataset(input: {name: "%s", idempotencyKey: "same"}) { dataset { name } } }'
        first = await GraphQLClient(http, a)(doc % "from-a")
        second = await GraphQLClient(http, b)(doc % "from-b")
    assert first["registerDataset"]["dataset"]["name"] == "from-a"
    assert second["registerDataset"]["dataset"]["name"] == "from-b"

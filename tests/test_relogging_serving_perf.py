"""A serving-perf record is identified by its deployment and its period: logging the
same period again with the same content answers the stored record, other content is a
CONFLICT naming what differs, and racing writers store one record."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from metagate.resolvers import registry
from metagate.resolvers.ids import decode_id
from metagate.store.errors import Conflict
from metagate.store.model import Node, utcnow
from metagate.store.port import IdempotencyRecord, ServingPeriod, Store, Tx
from metagate.store.sqlite import SQLiteStore
from tests.conftest import GraphQLClient
from tests.pipeline import Pipeline, record_pipeline
from tests.test_relogging_runs import FirstWriteMisses

LOG = """mutation($i: LogServingPerfInput!) { logServingPerf(input: $i) {
  created servingPerf { id periodStart periodEnd metrics tags attributes } } }"""


@pytest.fixture
async def p(gql: GraphQLClient) -> Pipeline:
    return await record_pipeline(gql, runs=1)  # deployment "prod" with three daily periods


def period(p: Pipeline, **changes: Any) -> dict[str, Any]:
    data = {
        "deploymentId": p.deployment,
        "periodStart": "2026-12-01T00:00:00Z",
        "periodEnd": "2026-12-08T00:00:00Z",
        "metrics": {"rmse": 0.48, "requests": 120000},
        "tags": ["weekly", "eu"],
        "attributes": {"region": "eu-west", "replicas": 3},
    }
    data.update(changes)
    return data


async def first_log(gql: GraphQLClient, data: dict[str, Any]) -> dict[str, Any]:
    logged = (await gql(LOG, i=data))["logServingPerf"]
    assert logged["created"] is True
    return logged


async def test_the_same_period_logged_again_is_the_stored_record(gql: GraphQLClient, store: Store, p: Pipeline) -> None:
    first = await first_log(gql, period(p))
    before = await store.count_all()
    variants = [
        period(p),
        # The same instants in other zones, numbers written otherwise, tags in another order.
        period(
            p,
            periodStart="2026-12-01T01:00:00+01:00",
            periodEnd="2026-12-07T19:00:00-05:00",
            metrics={"requests": 120000.0, "rmse": 0.48},
            tags=["eu", "weekly"],
            attributes={"replicas": 3.0, "region": "eu-west"},
        ),
        # By the deployment's tag; tags and attributes left out or null are not compared.
        {**{k: v for k, v in period(p).items() if k not in ("tags", "attributes", "deploymentId")}, "deploymentTag": "prod"},
        period(p, tags=None, attributes=None),
    ]
    for data in variants:
        again = (await gql(LOG, i=data))["logServingPerf"]
        assert again == {**first, "created": False}, data
    assert await store.count_all() == before


async def test_other_content_for_the_same_period_is_a_conflict_naming_the_fields(
    gql: GraphQLClient, store: Store, p: Pipeline
) -> None:
    first = await first_log(gql, period(p))
    before = await store.count_all()
    cases: list[tuple[dict[str, Any], list[str]]] = [
        ({"metrics": {"rmse": 0.51, "requests": 120000}}, ["metrics.rmse"]),
        ({"metrics": {"rmse": 0.48}}, ["metrics.requests"]),
        ({"metrics": {"rmse": 0.48, "requests": 120000, "p99_ms": 41}}, ["metrics.p99_ms"]),
        ({"metrics": {}}, ["metrics.requests", "metrics.rmse"]),
        ({"tags": ["weekly"]}, ["tags"]),
        ({"tags": []}, ["tags"]),
        ({"attributes": {"region": "us-east", "replicas": 3}}, ["attributes"]),
        (
            {"metrics": {"rmse": 0.6, "requests": 1}, "tags": ["x"], "attributes": {}},
            ["metrics.requests", "metrics.rmse", "tags", "attributes"],
        ),
    ]
    for changes, fields in cases:
        error = await gql.error(LOG, i=period(p, **changes))
        assert error["extensions"]["code"] == "CONFLICT", (changes, error)
        assert (error["extensions"]["field"], error["extensions"]["fields"]) == (fields[0], fields), (changes, error)
        assert error["message"] == (
            "serving perf of this deployment for 2026-12-01T00:00:00.000000Z to 2026-12-08T00:00:00.000000Z"
            f" was logged with other content: {', '.join(fields)} differ"
        ), changes
        assert await store.count_all() == before, changes
    stored = await gql(
        "query($id: ID!) { node(id: $id) { ... on ServingPerf { metrics tags attributes } } }", id=first["servingPerf"]["id"]
    )
    assert stored["node"] == {k: first["servingPerf"][k] for k in ("metrics", "tags", "attributes")}


async def test_another_period_or_another_deployment_is_another_record(gql: GraphQLClient, store: Store, p: Pipeline) -> None:
    first = await first_log(gql, period(p))
    canary = (
        await gql(
            """mutation($m: ID!, $f: ID!, $mp: ID!) { registerDeployment(input: {name: "canary", modelId: $m,
                 featuresetId: $f, modelParamsId: $mp}) { deployment { id } } }""",
            m=p.model,
            f=p.featureset,
            mp=p.params[0],
        )
    )["registerDeployment"]["deployment"]["id"]
    others = [
        period(p, periodEnd="2026-12-08T00:00:01Z"),  # the same start, another end
        period(p, periodStart="2026-11-30T23:59:59Z"),
        period(p, deploymentId=canary),
    ]
    ids = {first["servingPerf"]["id"]}
    for data in others:
        logged = await first_log(gql, data)
        ids.add(logged["servingPerf"]["id"])
    assert len(ids) == 4
    assert (await store.count_all())["servingperf"] == 3 + 4  # the pipeline's three and these


async def test_concurrent_identical_logs_through_the_gateway_store_one_record(
    gql: GraphQLClient, store: Store, p: Pipeline
) -> None:
    before = await store.count_all()

    answers = await asyncio.gather(*(gql(LOG, i=period(p)) for _ in range(6)))

    logged = [a["logServingPerf"] for a in answers]
    assert sorted(a["created"] for a in logged) == [False] * 5 + [True]
    assert len({a["servingPerf"]["id"] for a in logged}) == 1
    after = await store.count_all()
    assert after["servingperf"] == before["servingperf"] + 1
    assert after["edge:deployment_servingperf"] == before["edge:deployment_servingperf"] + 1


async def test_concurrent_logs_of_one_period_with_other_metrics_store_the_first_and_refuse_the_other(
    gql: GraphQLClient, store: Store, p: Pipeline
) -> None:
    before = await store.count_all()

    bodies = await asyncio.gather(
        gql.raw(LOG, i=period(p, metrics={"rmse": 0.1})), gql.raw(LOG, i=period(p, metrics={"rmse": 0.2}))
    )

    stored = [b for b in bodies if "errors" not in b]
    refused = [b["errors"][0] for b in bodies if "errors" in b]
    assert len(stored) == 1 and len(refused) == 1, bodies
    assert (refused[0]["extensions"]["code"], refused[0]["extensions"]["fields"]) == ("CONFLICT", ["metrics.rmse"])
    assert (await store.count_all())["servingperf"] == before["servingperf"] + 1


async def test_two_store_connections_to_one_file_racing_store_one_record(tmp_path: Path) -> None:
    # Two processes on one SQLite file: each has its own writer connection and lock.
    path = str(tmp_path / "shared.db")
    first, second = SQLiteStore(path), SQLiteStore(path)
    await first.open()
    await second.open()
    try:
        deployment_id = await _deployment(first)
        calls = [
            registry.log_serving_perf(
                store,
                deployment_id=deployment_id,
                period_start=_at("2026-12-01T00:00:00Z"),
                period_end=_at("2026-12-08T00:00:00Z"),
                metrics={"rmse": 0.48},
            )
            for store in (first, second, first, second)
        ]
        answers = await asyncio.gather(*calls)
        assert sorted(a.created for a in answers) == [False, False, False, True]
        assert len({a.node.id for a in answers}) == 1
        assert (await second.count_all())["servingperf"] == 1
    finally:
        await first.close()
        await second.close()


# --- a racing writer that committed between the look-up and the insert -------------------


class _MissesPeriods:
    def __init__(self, tx: Tx) -> None:
        self.tx = tx

    def __getattr__(self, name: str) -> Any:
        return getattr(self.tx, name)

    async def find_serving_perf(self, periods: Sequence[ServingPeriod]) -> list[Node | None]:
        return [None for _ in periods]


async def test_a_period_a_racing_writer_stored_first_is_answered_as_a_re_log(
    gql: GraphQLClient, store: Store, p: Pipeline
) -> None:
    first = await first_log(gql, period(p))
    before = await store.count_all()
    arguments: dict[str, Any] = {
        "deployment_id": decode_id(p.deployment),
        "period_start": _at("2026-12-01T00:00:00Z"),
        "period_end": _at("2026-12-08T00:00:00Z"),
    }

    racing = FirstWriteMisses(store, _MissesPeriods)
    same = await registry.log_serving_perf(racing, metrics={"rmse": 0.48, "requests": 120000}, **arguments)  # type: ignore[arg-type]
    assert racing.transactions == 2  # the first met the unique index and was run again
    assert (same.created, same.node.id) == (False, decode_id(first["servingPerf"]["id"]))

    racing = FirstWriteMisses(store, _MissesPeriods)
    with pytest.raises(Conflict) as raised:
        await registry.log_serving_perf(racing, metrics={"rmse": 0.5, "requests": 120000}, **arguments)  # type: ignore[arg-type]
    assert racing.transactions == 2
    assert raised.value.details == {"field": "metrics.rmse", "fields": ["metrics.rmse"]}
    assert await store.count_all() == before


def _at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


async def _deployment(store: Store) -> str:
    project = await registry.create_project(store, name="p")
    dataset = await registry.register_dataset(store, name="d")
    featureset = await registry.register_featureset(store, name="f", dataset_id=dataset.node.id)
    model = await registry.register_model(store, name="m", project_id=project.node.id)
    run = await registry.log_run(
        store, model_id=model.node.id, dataset_id=dataset.node.id, featureset_id=featureset.node.id, params={}, metrics={}
    )
    assert run.model_params is not None
    deployment = await registry.register_deployment(
        store, name="dep", model_id=model.node.id, featureset_id=featureset.node.id, model_params_id=run.model_params.id
    )
    return deployment.node.id


async def test_a_keyed_answer_recorded_before_serving_perf_said_created_replays_as_created(
    gql: GraphQLClient, store: Store, p: Pipeline
) -> None:
    first = await first_log(gql, period(p))
    arguments: dict[str, Any] = {
        "period_start": _at("2026-12-01T00:00:00Z"),
        "period_end": _at("2026-12-08T00:00:00Z"),
        "metrics": {"rmse": 0.9},
        "deployment_id": decode_id(p.deployment),
        "deployment_tag": None,
        "tags": None,
        "attributes": None,
    }
    # What the first call of this key wrote when logServingPerf answered the node alone.
    async with store.write() as tx:
        await tx.put_idempotency(
            IdempotencyRecord(
                "old-key",
                registry._fingerprint("log_serving_perf", arguments),
                {"type": "node", "ids": [decode_id(first["servingPerf"]["id"])]},
                utcnow(),
            )
        )
    before = await store.count_all()

    replay = await registry.log_serving_perf(store, idempotency_key="old-key", **arguments)

    assert (replay.created, replay.node.id) == (True, decode_id(first["servingPerf"]["id"]))
    assert await store.count_all() == before

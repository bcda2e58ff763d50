"""Re-logging a run is idempotent, never lossy: a run name the model already has answers
the stored run when everything the new input states agrees with it, and is a CONFLICT
naming each field that differs otherwise. Either way nothing is written."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest

from metagate.resolvers import registry
from metagate.resolvers.ids import decode_id
from metagate.store.errors import Conflict
from metagate.store.model import Kind, Node
from metagate.store.port import NameKey, Store, Tx
from tests.conftest import GraphQLClient
from tests.pipeline import Pipeline, record_pipeline

LOG_RUN = """mutation($i: LogRunInput!) { logRun(input: $i) {
  created run { id } modelParams { id } devPerf { id } } }"""
LOG_RUNS = """mutation($runs: [LogRunInput!]!, $key: String) { logRuns(input: {runs: $runs, idempotencyKey: $key}) {
  runs { created run { id } modelParams { id } devPerf { id } } } }"""
RUN = """query($id: ID!) { node(id: $id) { ... on Run { name status tag deploymentTag startTime endTime tags
  attributes dataset { id } featureset { id } modelParams { id params } devPerf { id metrics } } } }"""

T = TypeVar("T")


@dataclass
class Setup:
    p: Pipeline
    other_dataset: str
    other_featureset: str


@pytest.fixture
async def s(gql: GraphQLClient) -> Setup:
    p = await record_pipeline(gql, runs=1)
    dataset = (await gql('mutation { registerDataset(input: {name: "other-data"}) { dataset { id } } }'))["registerDataset"][
        "dataset"
    ]["id"]
    featureset = (
        await gql(
            'mutation($d: ID!) { registerFeatureset(input: {name: "other-features", datasetId: $d}) { featureset { id } } }',
            d=dataset,
        )
    )["registerFeatureset"]["featureset"]["id"]
    return Setup(p, dataset, featureset)


def full(s: Setup, name: str = "trial-3", **changes: Any) -> dict[str, Any]:
    """A run that states every field a re-log can be compared on."""
    run = {
        "name": name,
        "modelId": s.p.model,
        "datasetId": s.p.dataset,
        "featuresetId": s.p.featureset,
        "tag": "grid-search",
        "deploymentTag": f"{name}-v1",
        "status": "COMPLETED",
        "startTime": "2026-11-02T09:40:00Z",
        "endTime": "2026-11-02T09:54:00Z",
        "params": {"max_depth": 3, "learning_rate": 0.05, "early_stopping": True, "grid": {"cv": [5, 10]}},
        "metrics": {"rmse": 0.471, "r2": 0.834},
        "tags": ["nightly", "cpu"],
        "attributes": {"git": "abc123", "seed": 7},
    }
    run.update(changes)
    return run


async def first_log(gql: GraphQLClient, data: dict[str, Any]) -> dict[str, Any]:
    logged = (await gql(LOG_RUN, i=data))["logRun"]
    assert logged["created"] is True
    return logged


async def stored(gql: GraphQLClient, run_id: str) -> dict[str, Any]:
    return (await gql(RUN, id=run_id))["node"]  # type: ignore[no-any-return]


# --- the same content --------------------------------------------------------------------


async def test_the_same_run_logged_again_is_the_stored_run_and_writes_nothing(gql: GraphQLClient, store: Store, s: Setup) -> None:
    first = await first_log(gql, full(s))
    before, content = await store.count_all(), await stored(gql, first["run"]["id"])

    again = (await gql(LOG_RUN, i=full(s)))["logRun"]

    assert again == {**first, "created": False}
    # count_all counts nodes per kind, edges per edge kind and tags.
    assert await store.count_all() == before
    assert await stored(gql, first["run"]["id"]) == content


async def test_equal_values_written_differently_are_the_same_content(gql: GraphQLClient, store: Store, s: Setup) -> None:
    first = await first_log(gql, full(s))
    before = await store.count_all()
    same = full(
        s,
        # JSON numbers compare as numbers; objects by their keys, not their key order.
        params={"grid": {"cv": [5.0, 10]}, "early_stopping": True, "learning_rate": 0.05, "max_depth": 3.0},
        metrics={"r2": 0.834, "rmse": 0.471},
        # Times compare as instants, tags as sets, attributes as JSON values.
        startTime="2026-11-02T10:40:00+01:00",
        endTime="2026-11-02T09:54:00",
        tags=["cpu", "nightly", "cpu"],
        attributes={"seed": 7.0, "git": "abc123"},
    )

    again = (await gql(LOG_RUN, i=same))["logRun"]

    assert again == {**first, "created": False}
    assert await store.count_all() == before


async def test_fields_left_out_or_null_are_not_compared(gql: GraphQLClient, store: Store, s: Setup) -> None:
    first = await first_log(gql, full(s))
    before = await store.count_all()
    required = ("name", "modelId", "datasetId", "featuresetId")
    optional = [k for k in full(s) if k not in required]
    bare = {k: full(s)[k] for k in required}
    variants = [bare, {**bare, **{k: None for k in optional}}]
    # Each field left out alone, with all the others stated.
    variants += [{k: v for k, v in full(s).items() if k != left_out} for left_out in optional]

    for data in variants:
        again = (await gql(LOG_RUN, i=data))["logRun"]
        assert again == {**first, "created": False}, data
    assert await store.count_all() == before


async def test_a_run_logged_bare_is_compared_on_what_it_holds(gql: GraphQLClient, store: Store, s: Setup) -> None:
    # A run logged without status, params or metrics holds COMPLETED, {} and {}: a re-log
    # that states them is compared with those.
    bare = {"name": "bare", "modelId": s.p.model, "datasetId": s.p.dataset, "featuresetId": s.p.featureset}
    first = await first_log(gql, bare)
    before = await store.count_all()

    same = (await gql(LOG_RUN, i={**bare, "status": "COMPLETED", "params": {}, "metrics": {}, "tags": []}))["logRun"]
    error = await gql.error(LOG_RUN, i={**bare, "status": "FAILED", "params": {"a": 1}, "tags": ["x"]})

    assert same == {**first, "created": False}
    assert (error["extensions"]["code"], error["extensions"]["fields"]) == ("CONFLICT", ["params.a", "status", "tags"])
    assert await store.count_all() == before


# --- other content -------------------------------------------------------------------------


def differences(s: Setup) -> list[tuple[dict[str, Any], list[str]]]:
    params = full(s)["params"]
    return [
        ({"params": {**params, "max_depth": 4}}, ["params.max_depth"]),
        ({"params": {**params, "subsample": 0.8}}, ["params.subsample"]),  # a key only the re-log has
        ({"params": {k: v for k, v in params.items() if k != "learning_rate"}}, ["params.learning_rate"]),  # only stored
        ({"params": {**params, "early_stopping": 1}}, ["params.early_stopping"]),  # JSON true is not 1
        ({"params": {**params, "grid": {"cv": [5, 10, 20]}}}, ["params.grid"]),
        ({"params": {**params, "max_depth": "3"}}, ["params.max_depth"]),
        ({"metrics": {"rmse": 0.5, "r2": 0.834}}, ["metrics.rmse"]),
        ({"metrics": {"rmse": 0.471}}, ["metrics.r2"]),
        ({"metrics": {"rmse": 0.471, "r2": 0.834, "mae": 0.3}}, ["metrics.mae"]),
        ({"datasetId": s.other_dataset}, ["datasetId"]),
        ({"featuresetId": s.other_featureset}, ["featuresetId"]),
        ({"deploymentTag": "trial-3-v2"}, ["deploymentTag"]),
        ({"tag": "random-search"}, ["tag"]),
        ({"status": "FAILED"}, ["status"]),
        ({"startTime": "2026-11-02T09:40:01Z"}, ["startTime"]),
        ({"endTime": "2026-11-02T09:54:00-01:00"}, ["endTime"]),
        ({"tags": ["nightly"]}, ["tags"]),
        ({"tags": ["nightly", "cpu", "gpu"]}, ["tags"]),
        ({"tags": []}, ["tags"]),
        ({"attributes": {"git": "def456", "seed": 7}}, ["attributes"]),
        ({"attributes": {}}, ["attributes"]),
        (
            {"params": {**params, "max_depth": 5}, "metrics": {"rmse": 0.49, "r2": 0.834}, "datasetId": s.other_dataset},
            ["params.max_depth", "metrics.rmse", "datasetId"],
        ),
    ]


async def test_each_difference_is_a_conflict_naming_exactly_the_fields_that_differ(
    gql: GraphQLClient, store: Store, s: Setup
) -> None:
    first = await first_log(gql, full(s))
    before, content = await store.count_all(), await stored(gql, first["run"]["id"])

    for changes, fields in differences(s):
        error = await gql.error(LOG_RUN, i=full(s, **changes))
        assert error["extensions"]["code"] == "CONFLICT", (changes, error)
        assert error["extensions"]["fields"] == fields, (changes, error)
        assert error["extensions"]["field"] == fields[0], (changes, error)
        assert error["message"] == (
            f'run "trial-3" of this model was logged with other content: {", ".join(fields)} differ; log it under a new name'
        ), changes
        assert await store.count_all() == before, changes
    assert await stored(gql, first["run"]["id"]) == content


async def test_a_stated_difference_conflicts_even_when_other_fields_are_left_out(gql: GraphQLClient, s: Setup) -> None:
    await first_log(gql, full(s))
    bare = {k: full(s)[k] for k in ("name", "modelId", "datasetId", "featuresetId")}

    error = await gql.error(LOG_RUN, i={**bare, "metrics": {"rmse": 0.471, "r2": 0.9}, "tag": None})

    assert (error["extensions"]["code"], error["extensions"]["fields"]) == ("CONFLICT", ["metrics.r2"])


async def test_the_same_name_under_another_model_is_another_run(gql: GraphQLClient, s: Setup) -> None:
    await first_log(gql, full(s))
    model = (
        await gql('mutation($p: ID!) { registerModel(input: {name: "rf", projectId: $p}) { model { id } } }', p=s.p.project)
    )["registerModel"]["model"]["id"]

    other = (await gql(LOG_RUN, i=full(s, modelId=model, metrics={"rmse": 0.9}, deploymentTag="rf-v1")))["logRun"]

    assert other["created"] is True


# --- logRuns ---------------------------------------------------------------------------------


async def test_a_conflicting_run_at_index_k_names_runs_k_and_the_batch_writes_nothing(
    gql: GraphQLClient, store: Store, s: Setup
) -> None:
    await first_log(gql, full(s))
    before = await store.count_all()
    batch = [full(s, f"new-{i}") for i in range(3)] + [full(s, metrics={"rmse": 0.5, "r2": 0.834}, tag="x")]
    batch.append(full(s, "new-4"))

    error = await gql.error(LOG_RUNS, runs=batch)

    assert error["extensions"]["code"] == "CONFLICT"
    assert error["extensions"]["field"] == "runs[3].metrics.rmse"
    assert error["extensions"]["fields"] == ["runs[3].metrics.rmse", "runs[3].tag"]
    assert "runs[3].metrics.rmse, runs[3].tag differ" in error["message"]
    assert await store.count_all() == before


async def test_a_batch_re_logging_stored_runs_answers_them_beside_new_ones(gql: GraphQLClient, store: Store, s: Setup) -> None:
    first = await first_log(gql, full(s))
    trial_0 = {
        "name": "trial-0",
        "modelId": s.p.model,
        "datasetId": s.p.dataset,
        "featuresetId": s.p.featureset,
        "params": {"max_depth": 3},
        "metrics": {"rmse": 0.5},
    }
    before = await store.count_all()

    logged = (await gql(LOG_RUNS, runs=[full(s, "new-a"), trial_0, full(s), full(s, "new-b")]))["logRuns"]["runs"]

    assert [r["created"] for r in logged] == [True, False, False, True]
    assert logged[1]["run"]["id"] == s.p.runs[0] and logged[1]["modelParams"]["id"] == s.p.params[0]
    assert logged[2] == {**first, "created": False}
    after = await store.count_all()
    assert (after["run"], after["modelparams"], after["devperf"]) == (
        before["run"] + 2,
        before["modelparams"] + 2,
        before["devperf"] + 2,
    )


async def test_a_name_repeated_in_a_batch_with_the_same_content_is_one_run(gql: GraphQLClient, store: Store, s: Setup) -> None:
    before = await store.count_all()
    # The repeat states less than the first: what it leaves out is not compared.
    repeat = {k: v for k, v in full(s, "sweep-1").items() if k not in ("tags", "startTime")}

    logged = (await gql(LOG_RUNS, runs=[full(s, "sweep-1"), full(s, "sweep-2"), repeat]))["logRuns"]["runs"]

    assert [r["created"] for r in logged] == [True, True, False]
    assert logged[2] == {**logged[0], "created": False}
    after = await store.count_all()
    assert after["run"] == before["run"] + 2
    assert after["edge:run_devperf"] == before["edge:run_devperf"] + 2
    assert after["tags"] == before["tags"] + 4  # two runs of two tags each
    # Logged again, both answer the stored run.
    again = (await gql(LOG_RUNS, runs=[full(s, "sweep-1"), repeat]))["logRuns"]["runs"]
    assert again == [{**logged[0], "created": False}] * 2
    assert await store.count_all() == after


async def test_a_name_repeated_in_a_batch_with_other_content_conflicts_at_the_later_index(
    gql: GraphQLClient, store: Store, s: Setup
) -> None:
    before = await store.count_all()
    cases = [
        (
            [full(s, "a"), full(s, "b"), full(s, "a", params={**full(s)["params"], "max_depth": 9})],
            "runs[2]",
            ["params.max_depth"],
        ),
        # Repeated with the first's deploymentTag left out but another status.
        ([full(s, "a"), {**full(s, "a", status="FAILED"), "deploymentTag": None}], "runs[1]", ["status"]),
        ([full(s, "a"), full(s, "a"), full(s, "a", datasetId=s.other_dataset)], "runs[2]", ["datasetId"]),
    ]
    for runs, at, fields in cases:
        error = await gql.error(LOG_RUNS, runs=runs)
        assert error["extensions"]["code"] == "CONFLICT", error
        assert error["extensions"]["fields"] == [f"{at}.{f}" for f in fields], error
        assert await store.count_all() == before


async def test_a_keyed_replay_still_answers_what_the_first_call_wrote(gql: GraphQLClient, store: Store, s: Setup) -> None:
    first = (await gql(LOG_RUNS, runs=[full(s, "k-1"), full(s, "k-1")], key="sweep-1"))["logRuns"]["runs"]
    counts = await store.count_all()

    replay = (await gql(LOG_RUNS, runs=[full(s, "k-1"), full(s, "k-1")], key="sweep-1"))["logRuns"]["runs"]
    unkeyed = (await gql(LOG_RUNS, runs=[full(s, "k-1")]))["logRuns"]["runs"]

    assert [r["created"] for r in first] == [True, False]
    assert replay == first  # the first answer, created: true included
    assert unkeyed == [{**first[0], "created": False}]
    assert await store.count_all() == counts


# --- a racing writer ---------------------------------------------------------------------


class FirstWriteMisses:
    """The real store, whose first write transaction does not find what ``misses`` says:
    as a transaction that read before a concurrent writer committed it would not. Its
    insert then meets the unique index that the racing writer's commit filled."""

    def __init__(self, inner: Store, misses: Callable[[Tx], Any]) -> None:
        self.inner = inner
        self.misses = misses
        self.transactions = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def transact(self, work: Callable[[Any], Awaitable[T]]) -> T:
        self.transactions += 1
        first = self.transactions == 1
        return await self.inner.transact(lambda tx: work(self.misses(tx) if first else tx))


class _MissesRuns:
    def __init__(self, tx: Tx, names: set[str]) -> None:
        self.tx = tx
        self.names = names

    def __getattr__(self, name: str) -> Any:
        return getattr(self.tx, name)

    async def find_named(self, keys: Sequence[NameKey]) -> list[list[Node]]:
        found = await self.tx.find_named(keys)
        return [[] if key.kind is Kind.RUN and key.name in self.names else nodes for key, nodes in zip(keys, found)]


async def test_a_run_a_racing_writer_logged_first_is_answered_as_a_re_log(gql: GraphQLClient, store: Store, s: Setup) -> None:
    # trial-0 was committed before this write began; its look-up misses it, as one made
    # before the racing writer committed would.
    racing = FirstWriteMisses(store, lambda tx: _MissesRuns(tx, {"trial-0"}))
    [run] = await store.get_nodes([decode_id(s.p.runs[0])])
    assert run is not None
    before = await store.count_all()

    logged = await registry.log_run(
        racing,  # type: ignore[arg-type]
        name="trial-0",
        model_id=run.scope,
        dataset_id=decode_id(s.p.dataset),
        featureset_id=decode_id(s.p.featureset),
        params={"max_depth": 3},
        metrics={"rmse": 0.5},
    )

    assert racing.transactions == 2  # the first met the index and was run again
    assert (logged.created, logged.run.id, logged.model_params and logged.model_params.id) == (
        False,
        run.id,
        decode_id(s.p.params[0]),
    )
    assert await store.count_all() == before

    racing.transactions = 0
    with pytest.raises(Conflict) as raised:
        await registry.log_run(
            racing,  # type: ignore[arg-type]
            name="trial-0",
            model_id=run.scope,
            dataset_id=decode_id(s.p.dataset),
            featureset_id=decode_id(s.p.featureset),
            metrics={"rmse": 0.25},
        )
    assert racing.transactions == 2
    assert raised.value.details == {"field": "metrics.rmse", "fields": ["metrics.rmse"]}
    assert await store.count_all() == before

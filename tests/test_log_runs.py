"""`logRuns`: many runs in one request and one transaction, each behaving as `logRun`."""

from __future__ import annotations

from typing import Any

import httpx
import strawberry

from metagate.gateway.app import create_app
from metagate.gateway.auth import issue
from metagate.gateway.config import Settings
from metagate.resolvers.authz import Role
from metagate.resolvers.ids import encode_id
from metagate.resolvers.queries import Limits
from metagate.schema import build_schema
from metagate.schema.context import make_context
from metagate.schema.mutation import Mutation, resolve_log_runs
from metagate.schema.query import Query
from metagate.schema.types import TYPES
from metagate.store.errors import BadUserInput
from metagate.store.port import Store
from tests.conftest import GraphQLClient
from tests.pipeline import Pipeline, record_pipeline

LOG_RUNS = """mutation($runs: [LogRunInput!]!, $key: String) {
  logRuns(input: {runs: $runs, idempotencyKey: $key}) {
    runs { created run { id name status } modelParams { params } devPerf { metrics } } } }"""
MODEL_RUNS = """query($id: ID!) { node(id: $id) { ... on Model { runs(first: 100) { nodes { name
  dataset { name } featureset { name } devPerf { metrics } } } } } }"""


def _run(p: Pipeline, name: str | None, rmse: float, **more: Any) -> dict[str, Any]:
    return {
        "name": name,
        "modelId": p.model,
        "datasetId": p.dataset,
        "featuresetId": p.featureset,
        "params": {"depth": 4},
        "metrics": {"rmse": rmse},
        **more,
    }


async def _run_names(gql: GraphQLClient, p: Pipeline) -> list[str]:
    return sorted(r["name"] for r in (await gql(MODEL_RUNS, id=p.model))["node"]["runs"]["nodes"])


async def test_a_batch_records_every_run_with_its_params_perf_and_links(gql: GraphQLClient) -> None:
    p = await record_pipeline(gql, runs=1)
    batch = [_run(p, f"sweep-{i}", i / 10) for i in range(5)] + [_run(p, None, 0.9, status="FAILED")]

    logged = (await gql(LOG_RUNS, runs=batch))["logRuns"]["runs"]

    assert [r["created"] for r in logged] == [True] * 6
    assert [r["run"]["name"] for r in logged[:5]] == [f"sweep-{i}" for i in range(5)]
    assert [r["devPerf"]["metrics"]["rmse"] for r in logged] == [0, 0.1, 0.2, 0.3, 0.4, 0.9]
    assert logged[5]["run"]["status"] == "FAILED" and logged[5]["run"]["name"]
    assert all(r["modelParams"]["params"] == {"depth": 4} for r in logged)
    runs = (await gql(MODEL_RUNS, id=p.model))["node"]["runs"]["nodes"]
    assert len(runs) == 7
    assert {(r["dataset"]["name"], r["featureset"]["name"]) for r in runs} == {("california-housing", "housing-features")}


def _trial_0(p: Pipeline, **more: Any) -> dict[str, Any]:
    """record_pipeline's trial-0 as it was logged (its deploymentTag left out)."""
    return {**_run(p, "trial-0", 0.5), "params": {"max_depth": 3}, **more}


async def test_existing_names_come_back_unchanged_beside_new_runs(gql: GraphQLClient, store: Store) -> None:
    p = await record_pipeline(gql, runs=2)  # trial-0 and trial-1
    trial_1 = {**_run(p, "trial-1", 0.4), "params": {"max_depth": 4}}

    logged = (await gql(LOG_RUNS, runs=[trial_1, _run(p, "trial-9", 0.5)]))["logRuns"]["runs"]

    assert [r["created"] for r in logged] == [False, True]
    assert logged[0]["run"]["id"] == p.runs[1]
    assert logged[0]["devPerf"]["metrics"] == {"rmse": 0.4}
    assert await _run_names(gql, p) == ["trial-0", "trial-1", "trial-9"]
    # With other content the stored run is not silently kept: the batch is refused whole.
    before = await store.count_all()
    error = await gql.error(LOG_RUNS, runs=[_run(p, "trial-10", 0.5), {**trial_1, "metrics": {"rmse": 0.99}}])
    assert (error["extensions"]["code"], error["extensions"]["field"]) == ("CONFLICT", "runs[1].metrics.rmse")
    assert await store.count_all() == before


async def test_one_bad_run_fails_the_batch_and_writes_nothing(gql: GraphQLClient, store: Store) -> None:
    p = await record_pipeline(gql, runs=1)
    other = await record_pipeline(gql, runs=1, prefix="x-")
    before = await store.count_all()
    cases = [
        # the third run refers to a dataset where a featureset belongs
        (
            [_run(p, "a", 0.1), _run(p, "b", 0.2), {**_run(p, "c", 0.3), "datasetId": p.featureset}],
            "BAD_USER_INPUT",
            "runs[2].datasetId",
        ),
        ([_run(p, "a", 0.1), {**_run(p, "b", 0.2), "featuresetId": other.runs[0]}], "BAD_USER_INPUT", "runs[1].featuresetId"),
        ([_run(p, "a", 0.1), {**_run(p, "b", 0.2), "metrics": {"rmse": "low"}}], "BAD_USER_INPUT", "runs[1].metrics"),
        # A name repeated with other content: the later run conflicts with the first.
        ([_run(p, "a", 0.1), _run(p, "a", 0.2)], "CONFLICT", "runs[1].metrics.rmse"),
        ([_run(p, "a", 0.1, deploymentTag="v9"), _run(p, "b", 0.2, deploymentTag="v9")], "CONFLICT", "runs"),
        ([_run(p, "a", 0.1), _run(p, "b", 0.2, deploymentTag="prod")], "CONFLICT", "runs[1].deploymentTag"),
        ([_run(p, "a", 0.1), _run(p, "b", 0.2, idempotencyKey="k")], "BAD_USER_INPUT", "runs[1].idempotencyKey"),
        ([], "BAD_USER_INPUT", "runs"),
    ]
    for runs, code, field in cases:
        error = await gql.error(LOG_RUNS, runs=runs)
        assert (error["extensions"]["code"], error["extensions"].get("field")) == (code, field), (runs, error)
        assert field in error["message"] or field == "runs", error
    assert await store.count_all() == before


async def test_a_deleted_reference_is_not_found_by_its_position(gql: GraphQLClient, store: Store) -> None:
    p = await record_pipeline(gql, runs=1)
    missing = {**_run(p, "b", 0.2), "modelId": encode_id("model/" + "0" * 32)}
    before = await store.count_all()

    error = await gql.error(LOG_RUNS, runs=[_run(p, "a", 0.1), missing])

    assert error["extensions"]["code"] == "NOT_FOUND", error
    assert error["extensions"]["field"] == "runs[1].modelId"
    assert await store.count_all() == before


async def test_the_batch_size_is_limited(store: Store) -> None:
    admin = await issue(store, name="tests", role=Role.ADMIN)
    app = create_app(Settings(LIMITS=Limits(max_batch_runs=3)), store=store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost") as http:
        gql = GraphQLClient(http, admin.secret)
        p = await record_pipeline(gql, runs=1)
        assert len((await gql(LOG_RUNS, runs=[_run(p, f"r{i}", 0.1) for i in range(3)]))["logRuns"]["runs"]) == 3
        error = await gql.error(LOG_RUNS, runs=[_run(p, f"s{i}", 0.1) for i in range(4)])
        assert error["extensions"]["code"] == "BAD_USER_INPUT" and "at most 3" in error["message"]
        assert await _run_names(gql, p) == ["r0", "r1", "r2", "trial-0"]


async def test_a_keyed_batch_retried_answers_with_the_first_runs(gql: GraphQLClient) -> None:
    p = await record_pipeline(gql, runs=1)
    batch = [_run(p, None, 0.1), _trial_0(p), _run(p, None, 0.3)]

    first = (await gql(LOG_RUNS, runs=batch, key="sweep-7"))["logRuns"]["runs"]
    again = (await gql(LOG_RUNS, runs=batch, key="sweep-7"))["logRuns"]["runs"]

    # Unnamed runs would be logged anew without the key: the replay names the same ones.
    assert [r["run"]["id"] for r in again] == [r["run"]["id"] for r in first]
    assert [r["created"] for r in again] == [True, False, True]
    assert len(await _run_names(gql, p)) == 3
    error = await gql.error(LOG_RUNS, runs=batch[:2], key="sweep-7")
    assert error["extensions"]["code"] == "CONFLICT"


async def test_a_batch_costs_the_same_store_round_trips_for_two_runs_or_fifty(gql: GraphQLClient, store: Store) -> None:
    p = await record_pipeline(gql, runs=1)
    counts = []
    for size in (2, 50):
        runs = [_run(p, f"n{size}-{i}", 0.1) for i in range(size - 1)] + [_trial_0(p)]
        before = store.statements  # type: ignore[attr-defined]
        await gql(LOG_RUNS, runs=runs)
        counts.append(store.statements - before)  # type: ignore[attr-defined]
    assert counts[0] == counts[1], counts
    assert len(await _run_names(gql, p)) == 51


async def test_strawberrys_own_resolver_and_the_installed_one_agree(store: Store) -> None:
    """build_schema resolves logRuns from graphql-core's arguments; the strawberry field it
    replaces must still behave the same where the schema is built without it."""
    installed = build_schema()
    plain = strawberry.Schema(query=Query, mutation=Mutation, types=list(TYPES.values()))
    resolve = installed._schema.mutation_type.fields["logRuns"].resolve  # type: ignore[union-attr]
    # Behind the role check and the change log's naming of the field.
    assert resolve.__wrapped__.__wrapped__ is resolve_log_runs  # type: ignore[union-attr]
    assert plain._schema.mutation_type.fields["logRuns"].resolve is not resolve_log_runs  # type: ignore[union-attr]
    context = make_context(store, Limits(), "test")
    setup = await installed.execute(
        """mutation { p: createProject(input: {name: "p"}) { project { id } }
                      d: registerDataset(input: {name: "d"}) { dataset { id } } }""",
        context_value=context,
    )
    assert setup.data is not None
    project, dataset = setup.data["p"]["project"]["id"], setup.data["d"]["dataset"]["id"]
    more = await installed.execute(
        """mutation($p: ID!, $d: ID!) { f: registerFeatureset(input: {name: "f", datasetId: $d}) { featureset { id } }
             m: registerModel(input: {name: "m", projectId: $p}) { model { id } } }""",
        variable_values={"p": project, "d": dataset},
        context_value=context,
    )
    assert more.data is not None
    p = Pipeline(project, dataset, more.data["f"]["featureset"]["id"], more.data["m"]["model"]["id"])
    query = """mutation($runs: [LogRunInput!]!) { logRuns(input: {runs: $runs}) { runs { created
      run { name status startTime } devPerf { metrics } modelParams { params } } } }"""
    answers = []
    for name, schema in (("installed", installed), ("plain", plain)):
        runs = [_run(p, f"{name}-{i}", i / 4, status="FAILED", startTime="2026-11-02T09:40:00Z") for i in range(3)]
        result = await schema.execute(query, variable_values={"runs": runs}, context_value=context)
        assert result.errors is None and result.data is not None, result.errors
        answers.append(
            [{**r, "run": {**r["run"], "name": r["run"]["name"].split("-")[1]}} for r in result.data["logRuns"]["runs"]]
        )
        bad = await schema.execute(query, variable_values={"runs": [{**runs[0], "idempotencyKey": "k"}]}, context_value=context)
        # The plain schema has no error-coding extension: the error itself carries code and field.
        error = bad.errors[0].original_error if bad.errors else None
        assert isinstance(error, BadUserInput) and error.details == {"field": "runs[0].idempotencyKey"}, bad.errors
    assert answers[0] == answers[1]
    assert answers[0][2] == {
        "created": True,
        "run": {"name": "2", "status": "FAILED", "startTime": "2026-11-02T09:40:00+00:00"},
        "devPerf": {"metrics": {"rmse": 0.5}},
        "modelParams": {"params": {"depth": 4}},
    }

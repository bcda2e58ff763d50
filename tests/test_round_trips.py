"""A nested selection is one store call, whatever its depth and the number of parents
at each level; a write's reads are a fixed number of calls, whatever its size."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar

import httpx
import pytest

from metagate.gateway.app import create_app
from metagate.gateway.auth import issue
from metagate.gateway.config import Settings
from metagate.resolvers.authz import Role
from metagate.store.port import Store, Tx
from tests.conftest import GraphQLClient
from tests.pipeline import record_pipeline

NESTED = """
query($id: ID!) {
  node(id: $id) {
    ... on Deployment {
      name
      model {
        name
        runs(first: 50) {
          edges { node {
            name
            featureset { name dataset { name } }
            devPerf { metrics }
            modelParams { params }
          } }
        }
      }
      servingPerf { nodes { periodStart metrics } }
    }
  }
}
"""

T = TypeVar("T")


class CountingStore:
    """The real store, with a record of each read call and how many keys it carried."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.calls: list[tuple[str, int]] = []

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if name not in {"get_nodes", "neighbors", "find_named", "list_nodes", "lineage", "answer", "answer_text"}:
            return attr

        async def counted(*args: Any, **kwargs: Any) -> Any:
            keys = args[0] if args and isinstance(args[0], Sequence) else [args[0] if args else None]
            # The compiled answer, parsed or as text (the gateway's): one store call either way.
            self.calls.append(("answer" if name == "answer_text" else name, len(keys)))
            return await attr(*args, **kwargs)

        return counted


@pytest.fixture
async def counted(store: Store) -> AsyncIterator[tuple[CountingStore, GraphQLClient]]:
    counting = CountingStore(store)
    admin = await issue(store, name="tests", role=Role.ADMIN)
    app = create_app(Settings(), store=counting)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost") as client:
        yield counting, GraphQLClient(client, admin.secret)


async def test_nested_deployment_lineage_is_one_store_call(
    counted: tuple[CountingStore, GraphQLClient],
) -> None:
    counting, gql = counted
    pipeline = await record_pipeline(gql, runs=7)
    counting.calls.clear()

    data = await gql(NESTED, id=pipeline.deployment)

    runs = data["node"]["model"]["runs"]["edges"]
    assert len(runs) == 7
    assert {r["node"]["featureset"]["dataset"]["name"] for r in runs} == {"california-housing"}
    assert all(r["node"]["devPerf"]["metrics"]["rmse"] is not None for r in runs)
    assert len(data["node"]["servingPerf"]["nodes"]) == 3
    # The deployment, its model and servingPerf, the model's runs, each run's featureset,
    # devPerf and modelParams, each featureset's dataset: one compiled query.
    assert counting.calls == [("answer", 1)]


async def test_many_parents_are_one_store_call(
    counted: tuple[CountingStore, GraphQLClient],
) -> None:
    counting, gql = counted
    first = await record_pipeline(gql, runs=2, prefix="a-")
    second = await record_pipeline(gql, runs=2, prefix="b-")
    counting.calls.clear()

    data = await gql(
        """query($ids: [ID!]!) { nodes(ids: $ids) { ... on Deployment {
             model { runs { nodes { dataset { name } } } } } } }""",
        ids=[first.deployment, second.deployment],
    )

    datasets = [run["dataset"]["name"] for node in data["nodes"] for run in node["model"]["runs"]["nodes"]]
    assert sorted(datasets) == ["a-california-housing"] * 2 + ["b-california-housing"] * 2
    assert counting.calls == [("answer", 1)]


async def test_an_answer_that_needs_an_error_is_left_to_the_resolvers(
    counted: tuple[CountingStore, GraphQLClient],
) -> None:
    counting, gql = counted
    pipeline = await record_pipeline(gql, runs=1)
    counting.calls.clear()

    body = await gql.raw(
        'query($id: ID!) { node(id: $id) { id } missing: node(id: "ZGF0YXNldC9ubw") { id } }', id=pipeline.deployment
    )

    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["NOT_FOUND"]
    assert [name for name, _ in counting.calls] == ["answer", "get_nodes"]


class CountingWrites:
    """The real store, with a record of each call its write transactions make."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def transact(self, work: Callable[[Any], Awaitable[T]]) -> T:
        return await self.inner.transact(lambda tx: work(_CountingTx(tx, self.calls)))


class _CountingTx:
    def __init__(self, tx: Tx, calls: list[str]) -> None:
        self.tx = tx
        self.calls = calls

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.tx, name)

        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            return await attr(*args, **kwargs)

        return counted


@pytest.fixture
async def writes(store: Store) -> AsyncIterator[tuple[CountingWrites, GraphQLClient]]:
    counting = CountingWrites(store)
    admin = await issue(store, name="tests", role=Role.ADMIN)
    app = create_app(Settings(), store=counting)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost") as client:
        yield counting, GraphQLClient(client, admin.secret)


LOG_RUNS = """mutation($runs: [LogRunInput!]!) { logRuns(input: {runs: $runs}) { runs { created } } }"""


async def test_re_logged_runs_are_compared_with_a_fixed_number_of_store_calls(
    writes: tuple[CountingWrites, GraphQLClient],
) -> None:
    counting, gql = writes
    p = await record_pipeline(gql, runs=1)

    def run(name: str) -> dict[str, Any]:
        return {
            "name": name,
            "modelId": p.model,
            "datasetId": p.dataset,
            "featuresetId": p.featureset,
            "params": {"depth": 4},
            "metrics": {"rmse": 0.3},
        }

    calls = []
    for size in (1, 30):
        batch = [run(f"r{size}-{i}") for i in range(size)]
        await gql(LOG_RUNS, runs=batch)
        counting.calls.clear()
        # The same runs again, each twice, beside as many new ones.
        again = (await gql(LOG_RUNS, runs=batch + batch + [run(f"s{size}-{i}") for i in range(size)]))["logRuns"]["runs"]
        assert [r["created"] for r in again] == [False] * (2 * size) + [True] * size
        calls.append(list(counting.calls))
    assert calls[0] == calls[1], calls
    # One read of the references, one of the names, one of the stored runs' params, perf,
    # dataset and featureset; then the inserts.
    assert calls[0] == ["get_nodes", "find_named", "neighbors", "insert_nodes", "insert_edges"], calls


async def test_a_re_logged_serving_period_is_one_look_up(writes: tuple[CountingWrites, GraphQLClient]) -> None:
    counting, gql = writes
    p = await record_pipeline(gql, runs=1)
    log = (
        'mutation($d: ID!) { logServingPerf(input: {deploymentId: $d, periodStart: "2026-11-01T00:00:00Z",'
        ' periodEnd: "2026-11-02T00:00:00Z", metrics: {rmse: 0.45}}) { created } }'
    )
    counting.calls.clear()

    assert (await gql(log, d=p.deployment))["logServingPerf"]["created"] is False  # record_pipeline's first period

    assert counting.calls == ["get_nodes", "find_serving_perf"]


async def test_a_query_asked_again_with_other_variables_answers_for_them(
    counted: tuple[CountingStore, GraphQLClient],
) -> None:
    # Plans are remembered by text, operation, variables and role: never one for another.
    counting, gql = counted
    first = await record_pipeline(gql, runs=1, prefix="a-")
    second = await record_pipeline(gql, runs=2, prefix="b-")
    query = "query($id: ID!) { node(id: $id) { ... on Deployment { name model { runs { nodes { name } } } } } }"
    counting.calls.clear()

    answers = [await gql(query, id=deployment) for deployment in (first.deployment, second.deployment) * 2]

    names = [a["node"]["name"] for a in answers]
    assert names[:2] == names[2:] and names[0] != names[1]
    assert [len(a["node"]["model"]["runs"]["nodes"]) for a in answers] == [1, 2, 1, 2]
    assert counting.calls == [("answer", 1)] * 4

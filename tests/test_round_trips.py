"""A nested selection costs one batched store call per nesting level, whatever the
number of parents at that level."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx
import pytest

from metagate.gateway.app import create_app
from metagate.gateway.auth import issue
from metagate.gateway.config import Settings
from metagate.resolvers.authz import Role
from metagate.store.port import Store
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


class CountingStore:
    """The real store, with a record of each read call and how many keys it carried."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.calls: list[tuple[str, int]] = []

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if name not in {"get_nodes", "neighbors", "find_named", "list_nodes", "lineage"}:
            return attr

        async def counted(*args: Any, **kwargs: Any) -> Any:
            keys = args[0] if args and isinstance(args[0], Sequence) else [args[0] if args else None]
            self.calls.append((name, len(keys)))
            return await attr(*args, **kwargs)

        return counted


@pytest.fixture
async def counted(store: Store) -> AsyncIterator[tuple[CountingStore, GraphQLClient]]:
    counting = CountingStore(store)
    admin = await issue(store, name="tests", role=Role.ADMIN)
    app = create_app(Settings(), store=counting)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://m") as client:
        yield counting, GraphQLClient(client, admin.secret)


async def test_nested_deployment_lineage_costs_one_store_call_per_level(
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
    # Levels: the deployment; its model and servingPerf; the model's runs; each run's
    # featureset, devPerf and modelParams; each featureset's dataset.
    assert counting.calls == [
        ("get_nodes", 1),
        ("neighbors", 2),
        ("neighbors", 1),
        ("neighbors", 3 * 7),
        # The seven runs share one featureset: the loader sends its key once.
        ("neighbors", 1),
    ]


async def test_each_level_is_one_call_however_many_parents(
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
    assert counting.calls == [("get_nodes", 2), ("neighbors", 2), ("neighbors", 2), ("neighbors", 4)]

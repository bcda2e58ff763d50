"""A node's page of neighbours on a dense graph (a model with thousands of runs): the
compiled read reads the page, not every neighbour, however many the node has."""

from __future__ import annotations

import httpx
import pytest

from metagate.gateway.app import create_app
from metagate.gateway.config import Settings
from metagate.store.plan import encode_id
from metagate.store.port import Store
from metagate.store.sqlite import SQLiteStore
from tests.store.test_lineage_dense import RUNS, Sweep, _sweep


@pytest.fixture
async def sweep(store: Store) -> Sweep:
    return await _sweep(store)


PAGE = """query($id: ID!, $after: String) { node(id: $id) { ... on Deployment {
  model { runs(first: 20, after: $after) { nodes { name devPerf { id } } pageInfo { hasNextPage endCursor } } } } } }"""


async def test_a_models_page_of_runs_costs_its_page_whatever_the_number_of_runs(store: Store, sweep: Sweep) -> None:
    """The model of a 3,000-run sweep and of a 300-run one: its 20 newest runs, and the
    20 after them, take about the same SQLite work (VM instructions, counted by a
    progress handler on every reader: the work, not its time). Before, every run of the
    model was read and ranked: ten times the work for ten times the runs."""
    if not isinstance(store, SQLiteStore) or store.memory:
        pytest.skip("the SQLite adapter's readers, counted")
    small = await _sweep(store, RUNS // 10, "small-")
    steps = [0]

    def count() -> int:
        steps[0] += 1
        return 0

    for reader in store._all_readers:
        await reader.set_progress_handler(count, 1)
    app = create_app(Settings(AUTH=False), store=store)
    work: dict[str, list[int]] = {}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost") as client:
        for name, deployment in (("big", sweep.deployment), ("small", small.deployment)):
            after = None
            for _ in range(2):
                steps[0] = 0
                body = (
                    await client.post(
                        "/graphql", json={"query": PAGE, "variables": {"id": encode_id(deployment), "after": after}}
                    )
                ).json()
                assert "errors" not in body, body
                page = body["data"]["node"]["model"]["runs"]
                assert len(page["nodes"]) == 20 and page["pageInfo"]["hasNextPage"]
                after = page["pageInfo"]["endCursor"]
                work.setdefault(name, []).append(steps[0])
    for reader in store._all_readers:
        await reader.set_progress_handler(None, 1)
    for big, little in zip(work["big"], work["small"], strict=True):
        assert big <= 1.25 * little, work

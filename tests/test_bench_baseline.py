"""The bench's baselines answer exactly what GraphQL answers: a ratio against a route that
answers less (or something else) would flatter or wrong the gateway."""

from __future__ import annotations

from pathlib import Path

import httpx
import orjson

from bench.baseline import create
from bench.generate import load
from bench.run import NESTED
from metagate.resolvers.ids import encode_id
from metagate.store.sqlite import SQLiteStore


async def test_both_baseline_routes_answer_the_nested_deployment_query_as_graphql_does(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "graph.db"))
    await store.open()
    try:
        catalog, _ = await load(store, 300, progress=False)
        app = create(store)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost") as http:
            for deployment in catalog.deployments:
                gid = encode_id(deployment)
                graphql = (await http.post("/graphql", json={"query": NESTED, "variables": {"id": gid}})).json()
                assert "errors" not in graphql and graphql["data"]["node"]["model"]["runs"]["nodes"], graphql
                sql = await http.get(f"/baseline-sql/deployment/{gid}")
                calls = await http.get(f"/baseline/deployment/{gid}")
                # The SQL route's body is the same bytes as GraphQL's answer, once parsed.
                assert orjson.loads(sql.content) == graphql, deployment
                assert calls.json()["data"]["node"]["name"] == graphql["data"]["node"]["name"]
    finally:
        await store.close()

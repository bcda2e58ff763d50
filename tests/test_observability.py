"""/metrics and the structured request log."""

from __future__ import annotations

import logging

import httpx
import orjson
import pytest

from metagate.gateway.app import create_app
from metagate.gateway.auth import issue
from metagate.gateway.config import Settings
from metagate.gateway.observability import JSONFormatter
from metagate.resolvers.authz import Role
from metagate.store.sqlite import SQLiteStore


async def test_metrics_count_requests_errors_latency_and_store_round_trips(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = SQLiteStore(":memory:")
    await store.open()
    token = (await issue(store, name="t", role=Role.ADMIN)).secret
    app = create_app(Settings(), store=store)
    headers = {"authorization": f"Bearer {token}", "x-request-id": "obs-1"}
    with caplog.at_level(logging.INFO, logger="metagate.access"):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://m") as client:
            await client.post("/graphql", json={"query": "{ datasets { nodes { id } } }"}, headers=headers)
            await client.post("/graphql", json={"query": "{ datasets { nodes { id } } }"})  # no token
            await client.post("/graphql", json={"query": '{ node(id: "bad") { id } }'}, headers=headers)
            text = (await client.get("/metrics")).text
    await store.close()

    assert 'metagate_requests_total{path="/graphql",status="200"} 3.0' in text
    assert 'metagate_errors_total{code="UNAUTHENTICATED"} 1.0' in text
    assert 'metagate_errors_total{code="BAD_USER_INPUT"} 1.0' in text
    assert 'metagate_request_seconds_count{path="/graphql"} 3.0' in text
    round_trips = next(line for line in text.splitlines() if line.startswith("metagate_store_round_trips_total"))
    assert float(round_trips.split()[-1]) >= 3

    lines = [orjson.loads(JSONFormatter().format(r)) for r in caplog.records if r.name == "metagate.access"]
    first = lines[0]
    assert first["request_id"] == "obs-1" and first["path"] == "/graphql" and first["status"] == 200
    assert all(token not in orjson.dumps(line).decode() for line in lines)

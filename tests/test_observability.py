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
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost") as client:
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


async def test_at_debug_level_no_secret_or_value_is_logged(capsys: pytest.CaptureFixture[str]) -> None:
    """Debug logging shows what the gateway does, not what it holds: no token, no token
    hash, no attribute value, from any library's debug output (aiosqlite logs every
    statement with its parameters at DEBUG)."""
    import hashlib

    from metagate.gateway.observability import configure_logging

    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        configure_logging("debug")
        store = SQLiteStore(":memory:")
        await store.open()
        token = (await issue(store, name="t", role=Role.ADMIN)).secret
        app = create_app(Settings(), store=store)
        headers = {"authorization": f"Bearer {token}"}
        write = 'mutation { registerDataset(input: {name: "d", attributes: {k: "attribute-value-4711"}}) { created } }'
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost") as client:
            created = await client.post("/graphql", json={"query": write}, headers=headers)
            await client.post("/graphql", json={"query": "{ datasets { nodes { attributes } } }"}, headers=headers)
        await store.close()
        logging.getLogger("metagate").debug("a debug line of Metagate's own")
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
    assert created.json() == {"data": {"registerDataset": {"created": True}}}
    logged = capsys.readouterr().err
    assert "a debug line of Metagate's own" in logged  # debug output is on
    secret_hash = hashlib.sha256(token.encode()).hexdigest()
    # The token's secret part whole (it may hold "_" itself: its last piece alone may be a letter).
    for secret in (token, token.split("_", 2)[2], secret_hash, "attribute-value-4711"):
        assert secret not in logged, secret

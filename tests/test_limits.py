"""Limits on what one request may ask: depth, tokens, aliases, body size, time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest

from metagate.gateway.app import create_app
from metagate.gateway.config import Settings
from metagate.resolvers.queries import Limits
from metagate.store.sqlite import SQLiteStore


@pytest.fixture
def store(memory_store: SQLiteStore) -> SQLiteStore:
    return memory_store


async def _post(store: SQLiteStore, body: Any, limits: Limits | None = None, **kwargs: Any) -> httpx.Response:
    settings = Settings(AUTH=False, LIMITS=limits or Limits())
    app = create_app(settings, store=store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost") as client:
        if isinstance(body, dict):
            return await client.post("/graphql", json=body, **kwargs)
        return await client.post("/graphql", content=body, headers={"content-type": "application/json"}, **kwargs)


def _code(response: httpx.Response) -> str:
    return response.json()["errors"][0]["extensions"]["code"]


async def test_query_depth_is_limited(store: SQLiteStore) -> None:
    # Pages of one: deep, yet well within the cost limit, so that depth alone decides.
    deep = (
        "{ datasets(first: 1) { nodes { featuresets(first: 1) { nodes { runs(first: 1) { nodes {"
        " model { runs(first: 1) { nodes { dataset { name } } } } } } } } } } }"
    )
    allowed = await _post(store, {"query": deep}, Limits(max_query_depth=12))
    refused = await _post(store, {"query": deep}, Limits(max_query_depth=5))
    assert "errors" not in allowed.json()
    assert _code(refused) == "BAD_USER_INPUT" and "depth" in refused.json()["errors"][0]["message"]


async def test_aliases_and_tokens_are_limited(store: SQLiteStore) -> None:
    aliases = "{ " + " ".join(f"a{i}: datasets {{ nodes {{ id }} }}" for i in range(31)) + " }"
    many_tokens = "{ datasets { nodes { " + "id " * 6000 + "} } }"
    assert _code(await _post(store, {"query": aliases})) == "BAD_USER_INPUT"
    assert "errors" not in (await _post(store, {"query": aliases}, Limits(max_aliases=40))).json()
    assert _code(await _post(store, {"query": many_tokens})) == "BAD_USER_INPUT"


async def test_large_bodies_are_refused(store: SQLiteStore) -> None:
    limits = Limits(max_body_bytes=10_000)
    big = {"query": "{ datasets { nodes { id } } }", "variables": {"pad": "x" * 20_000}}
    refused = await _post(store, big, limits)

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"query": "{ datasets { nodes { id } } }", "variables": {"pad": "'
        for _ in range(30):
            yield b"x" * 1000
        yield b'"}}'

    streamed = await _post(store, chunks(), limits)
    assert refused.status_code == 413 and _code(refused) == "BAD_USER_INPUT"
    assert streamed.status_code == 413
    assert (await _post(store, {"query": "{ datasets { nodes { id } } }"}, limits)).status_code == 200


async def test_a_request_past_its_deadline_is_stopped_and_writes_nothing(store: SQLiteStore) -> None:
    instant = Limits(deadline_seconds=1e-9)
    query = await _post(store, {"query": "{ datasets { nodes { id } } }"}, instant)
    mutation = await _post(store, {"query": 'mutation { registerDataset(input: {name: "d"}) { created } }'}, instant)

    assert _code(query) == "DEADLINE_EXCEEDED"
    assert _code(mutation) == "DEADLINE_EXCEEDED"
    assert (await store.count_all()).get("dataset", 0) == 0
    assert "errors" not in (await _post(store, {"query": "{ datasets { nodes { id } } }"})).json()


async def test_cancelling_a_read_interrupts_the_sqlite_statement(tmp_path: Any) -> None:
    store = SQLiteStore(str(tmp_path / "slow.db"), readers=1)
    await store.open()
    endless = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c WHERE x < 5000000000"

    async def slow() -> Any:
        async with store._read() as conn:
            return await store._reads._rows(conn, endless)

    task = asyncio.create_task(slow())
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    started = time.monotonic()
    # The one reader connection answers at once: its statement was interrupted,
    # not left to run for minutes in SQLite's thread.
    assert await store.get_nodes(["dataset/none"]) == [None]
    assert time.monotonic() - started < 2
    await store.close()


def test_limits_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from metagate.gateway import config

    monkeypatch.setenv("METAGATE_MAX_QUERY_DEPTH", "7")
    monkeypatch.setenv("METAGATE_DEADLINE_SECONDS", "2.5")
    settings = config.load(env_file=None)
    assert settings.LIMITS == replace(Limits(), max_query_depth=7, deadline_seconds=2.5)


@pytest.mark.parametrize(("value", "expected"), [("off", False), ("no", False), ("0", False), ("TRUE", True)])
def test_auth_switch_words(monkeypatch: pytest.MonkeyPatch, value: str, expected: bool) -> None:
    from metagate.gateway import config

    monkeypatch.setenv("METAGATE_AUTH", value)
    assert config.load(env_file=None).AUTH is expected


def test_a_bad_auth_switch_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from metagate.gateway import config

    monkeypatch.setenv("METAGATE_AUTH", "maybe")
    with pytest.raises(ValueError, match="METAGATE_AUTH"):
        config.load(env_file=None)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ('{ search(text: "%s") { nodes { id } } }', "text"),
        ('{ datasets(filter: {nameContains: "%s"}) { nodes { id } } }', "nameContains"),
        ('{ runs(first: 5, filter: {nameContains: "%s"}) { nodes { id } } }', "nameContains"),
    ],
)
async def test_text_to_find_in_names_is_no_longer_than_a_name(store: SQLiteStore, query: str, field: str) -> None:
    """No name is longer than 200 characters, so longer text to find in one is refused,
    as a name of that length is, instead of reaching the store (where SQLite's LIKE
    refuses a pattern over 50,000 bytes as an internal error)."""
    longest = await _post(store, {"query": query % ("x" * 200)})
    assert longest.json() == {"data": {query.split("(")[0].split()[-1]: {"nodes": []}}}
    for size in (201, 50_001, 60_000):
        response = await _post(store, {"query": query % ("x" * size)})
        [error] = response.json()["errors"]
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": field}, (size, error)
        assert "200" in error["message"]

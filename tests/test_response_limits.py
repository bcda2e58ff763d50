"""The size of an answer (MAX_RESPONSE_BYTES) and the deadline over its encoding: an
answer too large is refused whole, and one encoded past the deadline is refused as one
that ran past it; either way nothing of the answer is sent."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.routing import Route

from metagate.gateway import config
from metagate.gateway.app import ENCODE_SLICE_BYTES, MetagateGraphQL, _SlicedEncoder, create_app
from metagate.gateway.config import Settings
from metagate.resolvers.queries import Limits
from metagate.store.sqlite import SQLiteStore

DATASETS = "{ datasets { nodes { name attributes } } }"
REGISTER = """mutation($name: String!, $a: JSON) {
  registerDataset(input: {name: $name, attributes: $a}) { created dataset { attributes } } }"""
# Introspection resolves without waiting on anything, so it finishes even past a tiny
# deadline, and the deadline is met while its answer is encoded. 24 aliases of it make
# an answer of more than one encoding slice (1.3 MB), so encoding pauses.
TYPES = (
    "types { name kind description fields { name description args { name description type { name kind } }"
    " type { name kind ofType { name kind ofType { name kind } } } } }"
)
SCHEMAS = "{ " + " ".join(f"s{i}: __schema {{ {TYPES} }}" for i in range(24)) + " }"
ROOMY = Limits(max_query_cost=10**6, max_query_tokens=10**5)


@pytest.fixture
def store(memory_store: SQLiteStore) -> SQLiteStore:
    return memory_store


def _client(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost")


def _app(store: SQLiteStore, limits: Limits) -> Starlette:
    return create_app(Settings(AUTH=False, LIMITS=limits), store=store)


def _view(app: Starlette) -> MetagateGraphQL:
    [route] = [r for r in app.routes if isinstance(r, Route) and r.path == "/graphql"]
    assert isinstance(route.app, MetagateGraphQL)
    return route.app


async def _post(store: SQLiteStore, query: str, limits: Limits | None = None, **variables: Any) -> httpx.Response:
    async with _client(_app(store, limits or Limits())) as client:
        response = await client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    return response


async def _datasets(store: SQLiteStore, count: int, blob: int) -> None:
    for i in range(count):
        body = (await _post(store, REGISTER, name=f"d{i}", a={"blob": "x" * blob})).json()
        assert "errors" not in body, body


def _refusal(response: httpx.Response) -> dict[str, Any]:
    """The one error of an answer refused whole: nothing else is in the body."""
    body = response.json()
    assert body.keys() == {"data", "errors"} and body["data"] is None, body
    [error] = body["errors"]
    assert "x" * 100 not in response.text  # nothing of the answer
    assert isinstance(error, dict)
    return error


async def test_an_answer_over_the_limit_is_refused_whole_naming_its_size_and_the_limit(
    store: SQLiteStore, caplog: pytest.LogCaptureFixture
) -> None:
    await _datasets(store, 5, 30_000)
    whole = await _post(store, DATASETS)
    size = len(whole.content)
    limit = size - 1
    with caplog.at_level(logging.WARNING, logger="metagate"):
        async with _client(_app(store, Limits(max_response_bytes=limit))) as client:
            refused = await client.post("/graphql", json={"query": DATASETS}, headers={"x-request-id": "big-1"})
            metrics = (await client.get("/metrics")).text

    assert refused.status_code == 200
    error = _refusal(refused)
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "size": size, "limit": limit}
    assert f"{size:,} bytes" in error["message"] and f"limit of {limit:,} bytes" in error["message"]
    assert "fewer fields or smaller pages" in error["message"]
    assert 'metagate_errors_total{code="BAD_USER_INPUT"} 1.0' in metrics
    [record] = [r for r in caplog.records if r.name == "metagate" and r.levelno == logging.WARNING]
    assert record.request_id == "big-1" and "big-1" in record.getMessage()


async def test_an_answer_at_the_limit_is_answered_whole(store: SQLiteStore) -> None:
    await _datasets(store, 5, 30_000)
    whole = await _post(store, DATASETS)
    at_limit = await _post(store, DATASETS, Limits(max_response_bytes=len(whole.content)))
    assert at_limit.content == whole.content
    assert sorted(n["name"] for n in at_limit.json()["data"]["datasets"]["nodes"]) == [f"d{i}" for i in range(5)]


async def test_a_mutation_answer_over_the_limit_is_refused_and_says_the_write_stands(store: SQLiteStore) -> None:
    limits = Limits(max_response_bytes=10_000)
    small = await _post(store, REGISTER, limits, name="small", a={"note": "fits"})
    large = await _post(store, REGISTER, limits, name="large", a={"blob": "x" * 30_000})

    assert small.json()["data"]["registerDataset"] == {"created": True, "dataset": {"attributes": {"note": "fits"}}}
    error = _refusal(large)
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and error["extensions"]["limit"] == 10_000
    assert "the mutation ran and its writes stand" in error["message"]
    names = await _post(store, "{ datasets { nodes { name } } }", limits)
    assert sorted(n["name"] for n in names.json()["data"]["datasets"]["nodes"]) == ["large", "small"]


async def test_an_answer_far_over_the_limit_is_refused_before_all_of_it_is_encoded(store: SQLiteStore) -> None:
    whole = await _post(store, SCHEMAS, ROOMY)
    assert len(whole.content) > ENCODE_SLICE_BYTES + 1000  # more than one slice
    error = _refusal(await _post(store, SCHEMAS, replace(ROOMY, max_response_bytes=1000)))
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert 1000 < error["extensions"]["size"] < len(whole.content)
    assert f"at least {error['extensions']['size']:,} bytes" in error["message"]


async def test_the_deadline_covers_encoding_the_answer(
    store: SQLiteStore, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    short = replace(ROOMY, deadline_seconds=0.05)
    app = _app(store, short)
    view = _view(app)
    encode = view._encode

    async def slow(response: Any) -> bytes:
        await asyncio.sleep(0.1)  # the deadline passes while the answer is encoded
        return await encode(response)

    monkeypatch.setattr(view, "_encode", slow)
    with caplog.at_level(logging.WARNING, logger="metagate"):
        async with _client(app) as client:
            late = await client.post("/graphql", json={"query": SCHEMAS}, headers={"x-request-id": "late-1"})
            metrics = (await client.get("/metrics")).text

    error = _refusal(late)
    # The error a client gets when the deadline passes during execution, word for word.
    assert error == {"message": "the request ran past its 0.05 s deadline", "extensions": {"code": "DEADLINE_EXCEEDED"}}
    assert 'metagate_errors_total{code="DEADLINE_EXCEEDED"} 1.0' in metrics
    # Refused after execution: only an answer being encoded is refused with this line.
    [record] = [r for r in caplog.records if r.name == "metagate" and r.levelno == logging.WARNING]
    assert record.request_id == "late-1" and record.getMessage().startswith("answer refused: the request ran past")


async def test_healthz_answers_while_a_large_answer_is_encoded(store: SQLiteStore, monkeypatch: pytest.MonkeyPatch) -> None:
    app = _app(store, ROOMY)
    view = _view(app)
    encoding, release = asyncio.Event(), asyncio.Event()
    pauses = 0

    async def paused() -> None:
        # The pause between two slices, held until /healthz has answered.
        nonlocal pauses
        pauses += 1
        encoding.set()
        await release.wait()

    monkeypatch.setattr(view, "_between_slices", paused)
    async with _client(app) as client:
        big = asyncio.create_task(client.post("/graphql", json={"query": SCHEMAS}))
        await asyncio.wait_for(encoding.wait(), timeout=60)
        health = await client.get("/healthz")
        still_encoding = not big.done()
        release.set()
        answer = await big

    assert health.status_code == 200 and health.json() == {"status": "ok"}
    assert still_encoding and pauses >= 1
    body = answer.json()
    assert "errors" not in body and len(body["data"]) == 24


def test_the_limit_is_a_setting() -> None:
    assert config.read(env_file=None, environ={}).settings.LIMITS.max_response_bytes == 16 * 1024 * 1024
    loaded = config.read(env_file=None, environ={"METAGATE_MAX_RESPONSE_BYTES": "5000"})
    assert loaded.settings.LIMITS.max_response_bytes == 5000
    with pytest.raises(config.SettingError, match="METAGATE_MAX_RESPONSE_BYTES must be at least 1"):
        config.read(env_file=None, environ={"METAGATE_MAX_RESPONSE_BYTES": "0"})


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=12) | st.dictionaries(st.text(max_size=8), inner, max_size=8),
    max_leaves=80,
)


@settings(max_examples=200, deadline=None)
@given(value=_json, slice_bytes=st.integers(1, 300))
def test_the_sliced_encoding_is_orjsons_byte_for_byte(value: Any, slice_bytes: int) -> None:
    encoder = _SlicedEncoder(slice_bytes)
    pauses = sum(1 for _ in encoder.slices(value))
    expected = orjson.dumps(value)
    assert encoder.body() == expected and encoder.size == len(expected)
    assert pauses <= len(expected) // slice_bytes + 1

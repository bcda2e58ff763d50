"""Requests the GraphQL endpoint cannot run: every one is answered with a GraphQL JSON
error that carries a code, logged with the request's id, and runs nothing."""

from __future__ import annotations

import logging

import httpx
import pytest

from metagate.gateway.app import create_app
from metagate.gateway.config import Settings
from metagate.resolvers.queries import Limits
from metagate.store.sqlite import SQLiteStore

JSON = {"content-type": "application/json"}
TYPENAME = b'{"query": "{ __typename }", "variables": {"a": %s}}'

# (what, body, headers): each is refused with 400 and BAD_USER_INPUT.
REFUSED = [
    ("a number", b"42", JSON),
    ("a string", b'"x"', JSON),
    ("null", b"null", JSON),
    ("true", b"true", JSON),
    ("a 5,000-digit integer", TYPENAME % (b"9" * 5000), JSON),
    ("100,000 nested brackets", b"[" * 100_000, JSON),
    ("NaN", TYPENAME % b"NaN", JSON),
    ("Infinity", TYPENAME % b"Infinity", JSON),
    ("-Infinity", TYPENAME % b"-Infinity", JSON),
    ("1e309", TYPENAME % b"1e309", JSON),
    ("a lone surrogate", TYPENAME % b'"\\ud800"', JSON),
    ("malformed JSON", b'{"query": ', JSON),
    ("not JSON's content type", b'{"query": "{ __typename }"}', {"content-type": "text/plain"}),
    ("no content type", b'{"query": "{ __typename }"}', {}),
    ("an unknown operationName", b'{"query": "query A { __typename }", "operationName": "B"}', JSON),
    ("variables that are not an object", b'{"query": "{ __typename }", "variables": [1]}', JSON),
    ("a query that is not a string", b'{"query": 5}', JSON),
    ("no query", b"{}", JSON),
    ("a batch", b'[{"query": "{ __typename }"}]', JSON),
    ("two operations and no operationName", b'{"query": "query A { __typename } query B { __typename }"}', JSON),
    # A run of 19 digits sends the body to the standard library's decoder, which must
    # refuse what orjson refuses.
    ("invalid UTF-8 beside 19 digits", b'{"query": "{ __typename }", "x": "1234567890123456789\xfe"}', JSON),
    ("1e999 beside 19 digits", b'{"query": "{ __typename }", "variables": {"a": 1e999}, "x": "1234567890123456789"}', JSON),
    ("a byte-order mark beside 19 digits", b'\xef\xbb\xbf{"query": "{ __typename }", "x": "1234567890123456789"}', JSON),
]


@pytest.fixture
def store(memory_store: SQLiteStore) -> SQLiteStore:
    return memory_store


def _client(store: SQLiteStore) -> httpx.AsyncClient:
    app = create_app(Settings(AUTH=False), store=store)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://localhost")


@pytest.mark.parametrize(("what", "body", "headers"), REFUSED, ids=[r[0] for r in REFUSED])
async def test_a_request_that_cannot_run_is_a_coded_json_error_logged_with_its_id(
    store: SQLiteStore, caplog: pytest.LogCaptureFixture, what: str, body: bytes, headers: dict[str, str]
) -> None:
    with caplog.at_level(logging.INFO, logger="metagate"):
        async with _client(store) as client:
            response = await client.post("/graphql", content=body, headers={**headers, "x-request-id": "bad-1"})
    assert response.status_code == 400, (what, response.status_code, response.text[:200])
    assert response.headers["content-type"].startswith("application/json"), response.text[:200]
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert error["message"] and "Traceback" not in response.text
    assert "data" not in response.json()
    logged = [r for r in caplog.records if getattr(r, "request_id", None) == "bad-1"]
    assert logged and all(r.levelno < logging.ERROR and r.exc_info is None for r in logged), [r.getMessage() for r in logged]


async def test_a_document_of_two_mutations_without_an_operation_name_writes_nothing(store: SQLiteStore) -> None:
    document = (
        'mutation A { registerDataset(input: {name: "a"}) { created } }'
        ' mutation B { registerDataset(input: {name: "b"}) { created } }'
    )
    async with _client(store) as client:
        refused = await client.post("/graphql", json={"query": document})
        named = await client.post("/graphql", json={"query": document, "operationName": "B"})
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "operationName" in refused.json()["errors"][0]["message"]
    assert named.json() == {"data": {"registerDataset": {"created": True}}}
    assert (await store.count_all()).get("dataset") == 1  # only B's


async def test_refused_requests_are_counted_with_their_code(store: SQLiteStore) -> None:
    """metagate_errors_total counts what is refused before GraphQL runs, as it counts
    GraphQL's own errors: malformed JSON and a body too large are BAD_USER_INPUT."""
    app = create_app(Settings(AUTH=False, LIMITS=Limits(max_body_bytes=100)), store=store)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        await client.post("/graphql", content=b'{"query": ', headers=JSON)
        await client.post("/graphql", content=b"x" * 200, headers=JSON)
        metrics = (await client.get("/metrics")).text
    assert 'metagate_errors_total{code="BAD_USER_INPUT"} 2.0' in metrics


async def test_a_method_the_endpoint_does_not_take_is_405_with_the_methods_it_takes(store: SQLiteStore) -> None:
    async with _client(store) as client:
        response = await client.put("/graphql", json={"query": "{ __typename }"})
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"

"""The HTTP surface: health, readiness, GraphiQL, request ids and error masking."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import httpx
import pytest

from metagate.gateway.app import create_app
from metagate.gateway.config import Settings
from metagate.store.sqlite import SQLiteStore


class BrokenReads:
    """The real store whose nested reads (compiled or per field) fail the way a broken
    disk would."""

    def __init__(self, inner: SQLiteStore) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def neighbors(self, requests: Any) -> Any:
        raise OSError("disk I/O error at /var/lib/secret-path")

    async def answer(self, plan: Any) -> Any:
        raise OSError("disk I/O error at /var/lib/secret-path")

    async def answer_text(self, plan: Any) -> Any:
        raise OSError("disk I/O error at /var/lib/secret-path")


def _client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost")


async def test_health_readiness_and_graphiql(memory_store: SQLiteStore) -> None:
    async with _client(create_app(Settings(AUTH=False), store=memory_store)) as client:
        health = await client.get("/healthz")
        ready = await client.get("/readyz")
        ide = await client.get("/graphql", headers={"accept": "text/html"})
    assert health.json() == {"status": "ok"}
    assert ready.status_code == 200 and ready.json()["store"] == "reachable"
    assert ide.status_code == 200 and "graphiql" in ide.text.lower()


async def test_readiness_fails_when_the_store_is_gone() -> None:
    store = SQLiteStore(":memory:")
    await store.open()
    app = create_app(Settings(AUTH=False), store=store)
    await store.close()
    async with _client(app) as client:
        ready = await client.get("/readyz")
        query = await client.post("/graphql", json={"query": '{ dataset(name: "x") { id } }'})
    assert ready.status_code == 503
    assert query.json()["errors"][0]["extensions"]["code"] == "UNAVAILABLE"


async def test_internal_errors_are_masked_and_logged_with_the_request_id(
    memory_store: SQLiteStore, caplog: pytest.LogCaptureFixture
) -> None:
    async with _client(create_app(Settings(AUTH=False), store=memory_store)) as client:
        created = await client.post(
            "/graphql", json={"query": 'mutation { registerDataset(input: {name: "d"}) { dataset { id } } }'}
        )
    dataset_id = created.json()["data"]["registerDataset"]["dataset"]["id"]
    app = create_app(Settings(AUTH=False), store=BrokenReads(memory_store))  # type: ignore[arg-type]

    with caplog.at_level(logging.ERROR, logger="metagate.errors"):
        async with _client(app) as client:
            response = await client.post(
                "/graphql",
                json={
                    "query": "query($id: ID!) { node(id: $id) { ... on Dataset { featuresets { nodes { id } } } } }",
                    "variables": {"id": dataset_id},
                },
                headers={"x-request-id": "req-42"},
            )

    body = response.json()
    [error] = body["errors"]
    assert response.headers["x-request-id"] == "req-42"
    assert error["extensions"] == {"code": "INTERNAL", "requestId": "req-42"}
    assert "secret-path" not in response.text
    assert "req-42" in error["message"]
    [record] = [r for r in caplog.records if r.name == "metagate.errors"]
    assert record.request_id == "req-42"
    assert record.exc_info is not None and "secret-path" in str(record.exc_info[1])


async def test_an_extension_failing_before_execution_is_masked_too(
    memory_store: SQLiteStore, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from metagate.schema.cost import QueryCosts

    def broken(*args: object) -> None:
        raise RuntimeError("secret-path /srv/metagate/cost.py")

    monkeypatch.setattr(QueryCosts, "refusal", broken)  # a bug in a pre-execution step
    with caplog.at_level(logging.ERROR, logger="metagate.errors"):
        async with _client(create_app(Settings(AUTH=False), store=memory_store)) as client:
            response = await client.post(
                "/graphql", json={"query": "{ datasets { nodes { id } } }"}, headers={"x-request-id": "r7"}
            )
            # Without the bug, a client's own mistake before execution keeps its message and code.
            monkeypatch.undo()
            mistake = await client.post(
                "/graphql", json={"query": "query($n: Int!) { datasets(first: $n) { nodes { id } } }", "variables": {"n": "x"}}
            )
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "INTERNAL", "requestId": "r7"} and "secret-path" not in response.text
    assert any("secret-path" in str(r.exc_info[1]) for r in caplog.records if r.exc_info)
    [refused] = mistake.json()["errors"]
    assert refused["extensions"]["code"] == "BAD_USER_INPUT" and "$n" in refused["message"]


async def test_requests_without_an_id_get_one(memory_store: SQLiteStore) -> None:
    async with _client(create_app(Settings(AUTH=False), store=memory_store)) as client:
        first = await client.get("/healthz")
        second = await client.get("/healthz", headers={"x-request-id": "bad id with spaces"})
    assert len(first.headers["x-request-id"]) == 32
    assert second.headers["x-request-id"] != "bad id with spaces"


async def test_syntax_errors_and_unknown_fields_are_bad_user_input(memory_store: SQLiteStore) -> None:
    async with _client(create_app(Settings(AUTH=False), store=memory_store)) as client:
        syntax = await client.post("/graphql", json={"query": "{ datasets { "})
        unknown = await client.post("/graphql", json={"query": "{ nope }"})
    for response in (syntax, unknown):
        assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def _register(name: str) -> dict[str, Any]:
    return {"query": f'mutation {{ registerDataset(input: {{name: "{name}"}}) {{ created }} }}'}


async def test_a_store_file_deleted_while_serving_is_never_ready_and_takes_no_write(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "metagate.db"
    store = SQLiteStore(str(path))
    await store.open()
    try:
        async with _client(create_app(Settings(AUTH=False), store=store)) as client:
            assert (await client.post("/graphql", json=_register("before"))).json()["data"]["registerDataset"]["created"]
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            with caplog.at_level(logging.ERROR, logger="metagate"):
                ready = await client.get("/readyz")
                write = await client.post("/graphql", json=_register("after"))
    finally:
        await store.close()
    assert ready.status_code == 503
    [error] = write.json()["errors"]
    assert error["extensions"]["code"] == "UNAVAILABLE" and "deleted" in error["message"], error
    assert any("deleted" in r.getMessage() and str(path) in r.getMessage() for r in caplog.records)


@pytest.fixture
async def file_store(tmp_path: Path) -> Any:
    store = SQLiteStore(str(tmp_path / "metagate.db"))
    await store.open()
    yield store
    await store.close()


def _writer(store: SQLiteStore) -> Any:
    """The store's writer connection, for a test to make it fail as a broken disk would."""
    assert store._writer is not None
    return store._writer


@pytest.mark.parametrize(
    ("pragma", "reason"),
    [("PRAGMA query_only = ON", "read-only"), ("PRAGMA max_page_count = {pages}", "full")],
    ids=["read-only", "disk full"],
)
async def test_a_store_that_cannot_take_writes_is_not_ready_and_says_why(
    file_store: SQLiteStore, pragma: str, reason: str
) -> None:
    """Read-only (a read-only mount, file permissions) and disk full, as SQLite reports
    them to the writer (SQLITE_READONLY, SQLITE_FULL): writes are UNAVAILABLE with the
    reason, /readyz is not ready until a write succeeds again (or some seconds pass)."""
    store, writer = file_store, _writer(file_store)
    async with _client(create_app(Settings(AUTH=False), store=store)) as client:
        [(pages,)] = await writer.execute_fetchall("PRAGMA page_count")
        await writer.execute(pragma.format(pages=pages))
        big = {
            "query": 'mutation($a: JSON) { registerDataset(input: {name: "x", attributes: $a}) { created } }',
            "variables": {"a": {"k": "v" * 60_000}},
        }
        write = await client.post("/graphql", json=big)
        ready = await client.get("/readyz")
        await writer.execute("PRAGMA query_only = OFF")
        await writer.execute("PRAGMA max_page_count = 1073741823")
        again = await client.post("/graphql", json=big)
        ready_again = await client.get("/readyz")
    [error] = write.json()["errors"]
    assert error["extensions"]["code"] == "UNAVAILABLE" and reason in error["message"], error
    assert ready.status_code == 503 and reason in ready.text
    assert again.json() == {"data": {"registerDataset": {"created": True}}}
    assert ready_again.status_code == 200


async def test_a_store_not_ready_after_a_failed_write_is_tried_again_later(
    file_store: SQLiteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not ready keeps traffic away, so no write would ever succeed to make it ready: the
    reason holds for CANNOT_WRITE_SECONDS, then /readyz asks the store again."""
    from metagate.store import errors as errors_module

    store, writer = file_store, _writer(file_store)
    async with _client(create_app(Settings(AUTH=False), store=store)) as client:
        await writer.execute("PRAGMA query_only = ON")
        failed = await client.post("/graphql", json=_register("x"))
        not_ready = await client.get("/readyz")
        monkeypatch.setattr(errors_module, "CANNOT_WRITE_SECONDS", 0.0)
        tried_again = await client.get("/readyz")
    assert failed.json()["errors"][0]["extensions"]["code"] == "UNAVAILABLE"
    assert not_ready.status_code == 503 and tried_again.status_code == 200


async def test_every_response_refuses_to_be_framed_and_json_runs_nothing(memory_store: SQLiteStore) -> None:
    """Clickjacking and content sniffing: no page of the gateway may be framed by
    another site, and its JSON answers are never taken as a document to run."""
    async with _client(create_app(Settings(AUTH=False), store=memory_store)) as client:
        page = await client.get("/graphql", headers={"accept": "text/html"})
        answer = await client.post("/graphql", json={"query": "{ __typename }"})
        refused = await client.post("/graphql", content=b"42", headers={"content-type": "application/json"})
        health = await client.get("/healthz")
    for response in (page, answer, refused, health):
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert page.status_code == 200 and "graphiql" in page.text.lower()
    for response in (answer, refused, health):
        assert response.headers["content-security-policy"].startswith("default-src 'none'")

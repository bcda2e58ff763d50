"""Regressions: writes cancelled mid-BEGIN, an in-memory store's first token, limits
whose defaults exceed their maxima, integers SQLite cannot bind, lone surrogates, and
mutations in one document that read each other's writes."""

from __future__ import annotations

import asyncio
import logging
import stat
import sys
from pathlib import Path

import httpx
import pytest

from metagate.gateway.app import create_app
from metagate.gateway.config import Settings
from metagate.resolvers import registry
from metagate.resolvers.queries import Limits
from metagate.store.sqlite import SQLiteStore
from tests.server import TOKEN


async def test_a_write_cancelled_while_waiting_for_the_lock_leaves_the_store_writable(tmp_path: Path) -> None:
    db = str(tmp_path / "shared.db")
    ours, theirs = SQLiteStore(db), SQLiteStore(db)  # two writers on one file, as two processes
    await ours.open()
    await theirs.open()
    holding, release = asyncio.Event(), asyncio.Event()

    async def other_writer() -> None:
        async with theirs.write():
            holding.set()
            await release.wait()

    other = asyncio.create_task(other_writer())
    await holding.wait()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.3):
            await registry.register_dataset(ours, name="late")
    release.set()
    await other
    # Before the fix the cancelled BEGIN left a transaction open: every later write failed.
    assert (await registry.register_dataset(ours, name="after")).created
    await ours.close()
    await theirs.close()


async def test_an_in_memory_store_gets_a_working_admin_token(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Served without a terminal, the first start's admin token goes to a file readable
    by its owner only, whose path is logged: never to the output a log collector keeps."""
    monkeypatch.chdir(tmp_path)  # no store file to write it beside: the working directory
    app = create_app(Settings(STORE=":memory:"))
    with caplog.at_level(logging.WARNING, logger="metagate"):
        async with app.router.lifespan_context(app):  # opens the store, as serving does
            assert TOKEN.search(capsys.readouterr().out) is None
            assert not any(TOKEN.search(r.getMessage()) for r in caplog.records)
            file = tmp_path / "metagate-admin-token"
            assert any(str(file) in r.getMessage() for r in caplog.records)
            assert stat.S_IMODE(file.stat().st_mode) == 0o600
            token = TOKEN.search(file.read_text())
            assert token is not None
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost") as http:
                answer = await http.post(
                    "/graphql",
                    json={"query": "{ datasets { nodes { id } } }"},
                    headers={"authorization": f"Bearer {token.group(0)}"},
                )
    assert answer.json() == {"data": {"datasets": {"nodes": []}}}


async def test_on_a_terminal_the_first_admin_token_is_shown_there_and_written_nowhere(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    app = create_app(Settings(STORE=str(tmp_path / "m.db")))
    async with app.router.lifespan_context(app):
        assert TOKEN.search(capsys.readouterr().out) is not None
    assert list(tmp_path.glob("*admin-token*")) == []


async def test_defaults_never_exceed_the_configured_maxima() -> None:
    limits = Limits(max_page=5, max_lineage_nodes=500, max_lineage_depth=5)
    assert (limits.default_page, limits.default_lineage_nodes, limits.default_lineage_depth) == (5, 500, 5)
    store = SQLiteStore(":memory:")
    await store.open()
    for number in range(8):
        await registry.register_dataset(store, name=f"d{number}")
    app = create_app(Settings(AUTH=False, LIMITS=limits), store=store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost") as http:
        page = (await http.post("/graphql", json={"query": "{ datasets { nodes { id } } }"})).json()
        some = page["data"]["datasets"]["nodes"][0]["id"]
        lineage = (
            await http.post(
                "/graphql", json={"query": "query($id: ID!) { lineage(id: $id) { truncated } }", "variables": {"id": some}}
            )
        ).json()
    await store.close()
    assert len(page["data"]["datasets"]["nodes"]) == 5
    assert lineage == {"data": {"lineage": {"truncated": False}}}


async def test_integers_sqlite_cannot_bind_are_bad_input_not_internal() -> None:
    store = SQLiteStore(":memory:")
    await store.open()
    app = create_app(Settings(AUTH=False), store=store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost") as http:
        literal = (
            await http.post(
                "/graphql",
                json={"query": '{ datasets(filter: {attribute: {key: "n", value: 9223372036854775808}}) { nodes { id } } }'},
            )
        ).json()
        from metagate.store.plan import _b64

        cursor = _b64(b'[9223372036854775808, "dataset/x"]')
        paged = (
            await http.post(
                "/graphql",
                json={"query": "query($a: String) { datasets(after: $a) { nodes { id } } }", "variables": {"a": cursor}},
            )
        ).json()
    await store.close()
    assert literal["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert paged["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_lone_surrogates_are_refused_with_the_body() -> None:
    store = SQLiteStore(":memory:")
    await store.open()
    app = create_app(Settings(AUTH=False), store=store)
    body = (
        '{"query": "mutation($n: String!, $a: JSON) { registerDataset(input: {name: $n, attributes: $a})'
        ' { created } }", "variables": {"n": "x\\ud800", "a": {"big": 1234567890123456789}}}'
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost") as http:
        response = await http.post("/graphql", content=body, headers={"content-type": "application/json"})
    counts = await store.count_all()
    await store.close()
    assert response.status_code == 400 and counts.get("dataset", 0) == 0


async def test_a_later_mutation_in_a_document_sees_the_earlier_ones_writes() -> None:
    store = SQLiteStore(":memory:")
    await store.open()
    dataset = (await registry.register_dataset(store, name="d")).node
    from metagate.resolvers.ids import encode_id

    app = create_app(Settings(AUTH=False), store=store)
    document = """mutation($d: ID!) {
      a: registerFeatureset(input: {name: "f1", datasetId: $d}) { featureset { dataset { featuresets { nodes { name } } } } }
      b: registerFeatureset(input: {name: "f2", datasetId: $d}) { featureset { dataset { featuresets { nodes { name } } } } }
    }"""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost") as http:
        data = (await http.post("/graphql", json={"query": document, "variables": {"d": encode_id(dataset.id)}})).json()
    await store.close()
    names = [n["name"] for n in data["data"]["b"]["featureset"]["dataset"]["featuresets"]["nodes"]]
    assert sorted(names) == ["f1", "f2"]

"""How the gateway serves the web UI's pages and files (the pages themselves are tested
in a browser: tests/ui)."""

from __future__ import annotations

from pathlib import Path

import httpx

from metagate.gateway.app import create_app
from metagate.gateway.config import Settings
from metagate.gateway.ui import default_dir
from metagate.store.sqlite import SQLiteStore


def _client(store: SQLiteStore, **settings: object) -> httpx.AsyncClient:
    app = create_app(Settings(AUTH=False, **settings), store=store)  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost")


def _built(tmp_path: Path) -> Path:
    """A build as `make ui` lays it out: two pages and hashed assets."""
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text('<!doctype html><script type="module" src="/assets/index-abc.js"></script>')
    (tmp_path / "graphiql.html").write_text('<!doctype html><script type="module" src="/assets/graphiql-abc.js"></script>')
    (tmp_path / "assets" / "index-abc.js").write_text("export {};")
    return tmp_path


async def test_the_ui_is_served_at_its_paths_with_a_policy_that_allows_no_inline_script(
    memory_store: SQLiteStore, tmp_path: Path
) -> None:
    async with _client(memory_store, UI_DIR=str(_built(tmp_path))) as http:
        pages = [
            await http.get(path)
            for path in ("/", "/search?text=x", "/zoo", "/node/ZGF0YXNldC8x", "/node/ZGF0YXNldC8x/hub", "/signin")
        ]
        asset = await http.get("/assets/index-abc.js")
        missing = await http.get("/assets/nothing.js")
        other = await http.get("/favicon.ico")
    for page in pages:
        assert page.status_code == 200
        assert "/assets/index-abc.js" in page.text
        policy = page.headers["content-security-policy"]
        assert "script-src 'self';" in policy and "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["cache-control"] == "no-cache"
    assert asset.status_code == 200 and asset.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert missing.status_code == 404 and other.status_code == 404


async def test_graphiql_is_the_builds_page_and_its_scripts_are_the_gateways_own(
    memory_store: SQLiteStore, tmp_path: Path
) -> None:
    async with _client(memory_store, UI_DIR=str(_built(tmp_path))) as http:
        page = await http.get("/graphql", headers={"accept": "text/html"})
        answer = await http.post("/graphql", json={"query": "{ __typename }"})
    assert page.status_code == 200
    assert "/assets/graphiql-abc.js" in page.text
    assert "unpkg" not in page.text and "cdn" not in page.text.lower()
    policy = page.headers["content-security-policy"]
    assert "script-src 'self';" in policy and "frame-ancestors 'none'" in policy
    assert answer.json() == {"data": {"__typename": "Query"}}


async def test_without_a_build_the_api_serves_and_the_pages_say_how_to_get_the_ui(
    memory_store: SQLiteStore, tmp_path: Path
) -> None:
    async with _client(memory_store, UI_DIR=str(tmp_path)) as http:
        home = await http.get("/")
        graphiql = await http.get("/graphql", headers={"accept": "text/html"})
        answer = await http.post("/graphql", json={"query": "{ __typename }"})
    for page in (home, graphiql):
        assert page.status_code == 200
        assert "The web UI is not built: install Node.js 20.19 or newer with npm, run <code>make ui</code>" in page.text
        assert "<script" not in page.text
    assert answer.json() == {"data": {"__typename": "Query"}}


def test_by_default_the_ui_is_the_build_of_this_checkout() -> None:
    assert default_dir() == Path(__file__).resolve().parents[1] / "ui" / "dist"


async def test_a_ui_built_while_the_gateway_serves_is_served_on_the_next_reload(
    memory_store: SQLiteStore, tmp_path: Path
) -> None:
    async with _client(memory_store, UI_DIR=str(tmp_path)) as http:
        before = await http.get("/")
        _built(tmp_path)  # make ui, as the page says, without a restart
        page = await http.get("/")
        asset = await http.get("/assets/index-abc.js")
    assert "not built" in before.text
    assert "/assets/index-abc.js" in page.text and asset.status_code == 200

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from arangoasync.auth import Auth
from arangoasync.client import ArangoClient

from metagate.gateway.app import create_app
from metagate.gateway.auth import issue
from metagate.gateway.config import Settings
from metagate.resolvers.authz import Role
from metagate.store.arango import ArangoSettings, ArangoStore, parse_url
from metagate.store.arango_init import init_db
from metagate.store.port import Store
from metagate.store.sqlite import SQLiteStore

ADAPTERS = ["sqlite-memory", "sqlite-file", "arangodb"]


@asynccontextmanager
async def arango_database(url: str) -> AsyncIterator[ArangoSettings]:
    """A fresh database with Metagate's layout on the test server, dropped afterwards."""
    settings = replace(parse_url(url), database=f"metagate_test_{uuid.uuid4().hex[:12]}")
    await init_db(settings)
    try:
        yield settings
    finally:
        auth = Auth(username=settings.username, password=settings.password)
        async with ArangoClient(hosts=settings.hosts) as client:
            system = await client.db("_system", auth=auth)
            await system.delete_database(settings.database, ignore_missing=True)


@asynccontextmanager
async def opened_store(adapter: str, tmp_path: Path | None = None) -> AsyncIterator[Store]:
    """An open store of ``adapter`` (one of ADAPTERS), closed afterwards; the ArangoDB
    one in a fresh database of the test server, skipped when there is none."""
    store: Store
    if adapter == "arangodb":
        url = os.environ.get("METAGATE_TEST_ARANGO_URL")
        if not url:
            pytest.skip("METAGATE_TEST_ARANGO_URL is not set: no ArangoDB server to test against")
        async with arango_database(url) as settings:
            store = ArangoStore(settings)
            await store.open()
            try:
                yield store
            finally:
                await store.close()
        return
    if adapter == "sqlite-memory":
        store = SQLiteStore(":memory:")
    else:
        assert tmp_path is not None, "a file store needs a folder"
        store = SQLiteStore(str(tmp_path / "metagate.db"))
    await store.open()
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture
async def memory_store() -> AsyncIterator[SQLiteStore]:
    """An in-memory SQLite store, for tests of the gateway rather than of the stores."""
    opened = SQLiteStore(":memory:")
    await opened.open()
    yield opened
    await opened.close()


@pytest.fixture(params=ADAPTERS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """Every behaviour test runs against every store adapter."""
    async with opened_store(request.param, tmp_path) as opened:
        yield opened


class GraphQLClient:
    def __init__(self, client: httpx.AsyncClient, token: str | None = None) -> None:
        self.http = client
        self.headers = {"authorization": f"Bearer {token}"} if token else {}

    async def raw(self, query: str, **variables: Any) -> dict[str, Any]:
        response = await self.http.post("/graphql", json={"query": query, "variables": variables}, headers=self.headers)
        assert response.status_code == 200, response.text
        return response.json()

    async def __call__(self, query: str, **variables: Any) -> dict[str, Any]:
        """The data of a query that must succeed."""
        body = await self.raw(query, **variables)
        assert "errors" not in body, body["errors"]
        return body["data"]

    async def error(self, query: str, **variables: Any) -> dict[str, Any]:
        """The one error of a query that must fail."""
        body = await self.raw(query, **variables)
        assert body.get("errors"), body
        assert len(body["errors"]) == 1, body["errors"]
        return body["errors"][0]


@pytest.fixture
async def gql(store: Store) -> AsyncIterator[GraphQLClient]:
    """A client of the gateway (authentication on) holding an admin token."""
    admin = await issue(store, name="tests", role=Role.ADMIN)
    app = create_app(Settings(), store=store)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        yield GraphQLClient(client, admin.secret)

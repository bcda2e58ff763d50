"""One real gateway for the client's tests, and clients of both kinds to talk to it."""

from __future__ import annotations

import inspect
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from metagate_client import AsyncClient, Client
from tests.server import Server

AnyClient = Client | AsyncClient


@pytest.fixture(scope="session")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(tmp_path_factory.mktemp("client-gateway") / "gateway.db")
    yield running
    running.stop()


@pytest.fixture(scope="session")
def reader_token(gateway: Server) -> str:
    command = [sys.executable, "-m", "metagate", "token", "create", "--name", "reader", "--role", "reader"]
    store = gateway.log.parent / "gateway.db"
    return subprocess.run([*command, "--store", str(store)], capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture
def unique() -> str:
    """A suffix for the names a test records, so tests sharing the gateway never meet."""
    return uuid.uuid4().hex[:10]


@pytest.fixture
def mg(gateway: Server) -> Iterator[Client]:
    with Client(gateway.url, gateway.token, retries=1) as client:
        yield client


@pytest.fixture(params=[Client, AsyncClient], ids=["sync", "async"])
async def connect(request: pytest.FixtureRequest) -> AsyncIterator[Callable[..., AnyClient]]:
    """``connect(url, token, **options)``: a client of the kind under test, closed afterwards."""
    opened: list[AnyClient] = []

    def connect(*args: Any, **options: Any) -> AnyClient:
        client = request.param(*args, **options)
        opened.append(client)
        return client

    yield connect
    for client in opened:
        if isinstance(client, AsyncClient):
            await client.aclose()
        else:
            client.close()


async def resolve(value: Any) -> Any:
    """What a call of either client gives: awaited for AsyncClient, as it is for Client."""
    return await value if inspect.isawaitable(value) else value

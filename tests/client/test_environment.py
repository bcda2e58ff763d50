"""Where the clients find the gateway and the token: arguments, then METAGATE_URL and
METAGATE_TOKEN, then http://127.0.0.1:8000 without a token."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from metagate_client import BadInput, Unauthenticated
from tests.client.conftest import AnyClient, resolve
from tests.server import Server, free_port

Connect = Callable[..., AnyClient]


async def test_the_environment_gives_url_and_token(
    connect: Connect, gateway: Server, monkeypatch: pytest.MonkeyPatch, unique: str
) -> None:
    monkeypatch.setenv("METAGATE_URL", gateway.url)
    monkeypatch.setenv("METAGATE_TOKEN", gateway.token)
    client = connect()

    dataset = await resolve(client.register_dataset(f"env-{unique}"))

    assert client.url == f"{gateway.url}/graphql" and dataset.created


async def test_arguments_win_over_the_environment(
    connect: Connect, gateway: Server, monkeypatch: pytest.MonkeyPatch, unique: str
) -> None:
    monkeypatch.setenv("METAGATE_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("METAGATE_TOKEN", "mg_0123456789abcdef_" + "A" * 43)
    client = connect(gateway.url, gateway.token)

    assert (await resolve(client.register_dataset(f"args-{unique}"))).created


async def test_without_either_the_default_is_local_and_without_a_token(
    connect: Connect, gateway: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("METAGATE_URL", raising=False)
    monkeypatch.delenv("METAGATE_TOKEN", raising=False)

    assert connect().url == "http://127.0.0.1:8000/graphql"
    with pytest.raises(Unauthenticated, match="no token was sent"):
        await resolve(connect(gateway.url).lookup_dataset("x"))


@pytest.mark.parametrize(
    "given", ["", "http://127.0.0.1:8000/", "http://127.0.0.1:8000/graphql", "http://127.0.0.1:8000/graphql/"]
)
async def test_graphql_is_added_unless_the_url_ends_with_it(
    connect: Connect, given: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("METAGATE_URL", given)
    assert connect().url == "http://127.0.0.1:8000/graphql"


async def test_a_bad_metagate_url_is_named(connect: Connect, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METAGATE_URL", "127.0.0.1:8000")
    with pytest.raises(BadInput, match="METAGATE_URL '127.0.0.1:8000' is not an http:// or https:// URL"):
        connect()

"""Transient failures are retried under the same idempotency key, so that a retry never
records twice; what is not transient is not retried. Both clients, a real gateway."""

from __future__ import annotations

import json
from collections.abc import Callable

from metagate_client import Unavailable
from tests.client.conftest import AnyClient, resolve
from tests.client.proxy import BAD_GATEWAY, Proxy
from tests.server import Server

Connect = Callable[..., AnyClient]


async def _lineage_runs(connect: Connect, gateway: Server, model_id: str) -> list[str]:
    lineage = await resolve(connect(gateway.url, gateway.token).lineage(model_id, "upstream", depth=1))
    return [e.asset.id for e in lineage.nodes if e.asset.kind == "run"]


async def _pipeline(connect: Connect, gateway: Server, unique: str) -> dict[str, object]:
    mg = connect(gateway.url, gateway.token)
    project = await resolve(mg.create_project(f"retry-{unique}"))
    dataset = await resolve(mg.register_dataset(f"retry-d-{unique}"))
    return {
        "model": await resolve(mg.register_model(f"retry-m-{unique}", project)),
        "dataset": dataset,
        "featureset": await resolve(mg.register_featureset(f"retry-f-{unique}", dataset)),
    }


def _key(body: bytes) -> str:
    return str(json.loads(body)["variables"]["input"]["idempotencyKey"])


async def test_a_lost_answer_is_retried_and_recorded_once(connect: Connect, gateway: Server, unique: str) -> None:
    run = await _pipeline(connect, gateway, unique)
    with Proxy(gateway.url, ["lose"]) as proxy:
        client = connect(proxy.url, gateway.token, backoff=0.01)
        logged = await resolve(client.log_run(**run, metrics={"rmse": 0.3}))

    # The gateway handled the request twice, under one key: one run.
    assert len(proxy.bodies) == 2 and proxy.bodies[0] == proxy.bodies[1]
    assert await _lineage_runs(connect, gateway, run["model"].id) == [logged.run.id]


async def test_bad_gateway_answers_are_retried_with_the_same_key(connect: Connect, gateway: Server, unique: str) -> None:
    run = await _pipeline(connect, gateway, unique)
    with Proxy(gateway.url, [BAD_GATEWAY, BAD_GATEWAY]) as proxy:
        client = connect(proxy.url, gateway.token, retries=2, backoff=0.01)
        logged = await resolve(client.log_runs([{**run, "name": "a"}, {**run, "name": "b"}]))

    assert len(proxy.bodies) == 3 and len({_key(body) for body in proxy.bodies}) == 1
    assert sorted(await _lineage_runs(connect, gateway, run["model"].id)) == sorted(r.run.id for r in logged)


async def test_the_retries_end_with_unavailable(connect: Connect, gateway: Server) -> None:
    with Proxy(gateway.url, [BAD_GATEWAY] * 3) as proxy:
        client = connect(proxy.url, gateway.token, retries=2, backoff=0.01)
        try:
            await resolve(client.register_dataset("never-recorded"))
        except Unavailable as error:
            raised = error

    message = f"{proxy.url}/graphql answered 502: the gateway or a proxy before it is unavailable (tried 3 times)"
    assert str(raised) == message and len(proxy.bodies) == 3
    assert await resolve(connect(gateway.url, gateway.token).lookup_dataset("never-recorded")) is None


async def test_each_call_has_its_own_key(connect: Connect, gateway: Server, unique: str) -> None:
    with Proxy(gateway.url) as proxy:
        client = connect(proxy.url, gateway.token)
        first = await resolve(client.register_dataset(f"keys-{unique}"))
        second = await resolve(client.register_dataset(f"keys-{unique}"))

    assert len({_key(body) for body in proxy.bodies}) == 2
    assert first.created and not second.created and first.id == second.id

"""Every failure reaches the caller as a typed client error that says what to do, from a
real gateway (or a real proxy before it), for both clients."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable

import pytest

from metagate_client import (
    BadInput,
    Conflict,
    DeadlineExceeded,
    Forbidden,
    MetagateError,
    NotFound,
    Unauthenticated,
    Unavailable,
    UnexpectedResponse,
)
from tests.client.conftest import AnyClient, resolve
from tests.client.proxy import Proxy
from tests.server import Server, free_port

Connect = Callable[..., AnyClient]
UNKNOWN_TOKEN = "mg_0123456789abcdef_" + "A" * 43


async def test_an_unreachable_gateway_is_unavailable_after_the_retries(connect: Connect) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    client = connect(url, retries=2, backoff=0.01)

    with pytest.raises(Unavailable) as raised:
        await resolve(client.lookup_dataset("x"))

    assert str(raised.value).startswith(f"cannot reach {url}/graphql: is the gateway running?")
    assert str(raised.value).endswith("(tried 3 times)") and raised.value.code == "UNAVAILABLE"


async def test_a_wrong_path_is_an_unexpected_response(connect: Connect, gateway: Server) -> None:
    client = connect(f"{gateway.url}/wrong", gateway.token)

    with pytest.raises(UnexpectedResponse) as raised:
        await resolve(client.lookup_dataset("x"))

    assert str(raised.value) == f"{gateway.url}/wrong/graphql answered 404 with a non-JSON body: is this the gateway's URL?"
    assert raised.value.status == 404 and raised.value.url == f"{gateway.url}/wrong/graphql"


async def test_a_missing_or_unknown_token_is_unauthenticated(
    connect: Connect, gateway: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("METAGATE_TOKEN", raising=False)
    nobody = connect(gateway.url)
    stranger = connect(gateway.url, UNKNOWN_TOKEN)
    monkeypatch.setenv("METAGATE_TOKEN", UNKNOWN_TOKEN)
    from_env = connect(gateway.url)

    with pytest.raises(Unauthenticated) as missing:
        await resolve(nobody.lookup_dataset("x"))
    with pytest.raises(Unauthenticated) as unknown:
        await resolve(stranger.register_dataset("x"))
    with pytest.raises(Unauthenticated) as unknown_from_env:
        await resolve(from_env.register_dataset("x"))

    assert "no token was sent: pass token= or set METAGATE_TOKEN" in str(missing.value)
    assert "unknown or revoked API token" in str(unknown.value) and "the token came from the token argument" in str(unknown.value)
    assert "the token came from METAGATE_TOKEN" in str(unknown_from_env.value)
    assert unknown.value.code == "UNAUTHENTICATED" and unknown.value.request_id


async def test_a_reader_token_reads_but_does_not_write(connect: Connect, gateway: Server, reader_token: str, unique: str) -> None:
    dataset = connect(gateway.url, gateway.token).register_dataset(f"read-only-{unique}")
    reader = connect(gateway.url, reader_token)
    dataset = await resolve(dataset)

    assert (await resolve(reader.lookup_dataset(f"read-only-{unique}"))).id == dataset.id
    with pytest.raises(Forbidden) as raised:
        await resolve(reader.create_project(f"not-allowed-{unique}"))
    assert "needs the admin role" in str(raised.value) and raised.value.code == "FORBIDDEN"
    assert await resolve(reader.lookup_project(f"not-allowed-{unique}")) is None


async def test_the_gateways_codes_become_typed_errors(connect: Connect, gateway: Server, unique: str) -> None:
    mg = connect(gateway.url, gateway.token)
    dataset = await resolve(mg.register_dataset(f"codes-{unique}"))
    project = await resolve(mg.create_project(f"codes-{unique}"))
    model = await resolve(mg.register_model(f"codes-m-{unique}", project))
    featureset = await resolve(mg.register_featureset(f"codes-f-{unique}", dataset))
    await resolve(mg.log_run(model=model, dataset=dataset, featureset=featureset, deployment_tag=f"taken-{unique}"))

    with pytest.raises(BadInput) as blank:
        await resolve(mg.register_dataset("   "))
    with pytest.raises(NotFound):
        await resolve(mg.register_featureset("f", "ZGF0YXNldC8wMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMA"))
    with pytest.raises(BadInput):
        await resolve(mg.register_model("m", dataset))  # a dataset's id where a project's belongs
    with pytest.raises(Conflict):
        await resolve(mg.log_run(model=model, dataset=dataset, featureset=featureset, deployment_tag=f"taken-{unique}"))
    with pytest.raises(BadInput):
        await resolve(mg.execute("{ nosuchfield }"))
    with pytest.raises(BadInput):
        await resolve(mg.lineage(dataset, "sideways"))

    assert blank.value.code == "BAD_USER_INPUT" and blank.value.request_id and "name" in str(blank.value)


async def test_nan_and_infinity_are_refused_before_anything_is_sent(connect: Connect, gateway: Server, unique: str) -> None:
    setup = connect(gateway.url, gateway.token)
    project = await resolve(setup.create_project(f"nan-{unique}"))
    model = await resolve(setup.register_model(f"nan-m-{unique}", project))
    dataset = await resolve(setup.register_dataset(f"nan-d-{unique}"))
    featureset = await resolve(setup.register_featureset(f"nan-f-{unique}", dataset))
    run = {"model": model, "dataset": dataset, "featureset": featureset}

    with Proxy(gateway.url) as proxy:
        mg = connect(proxy.url, gateway.token)
        refusals = {
            "metrics.rmse must be a finite number": lambda: mg.log_run(**run, metrics={"rmse": math.nan}),
            "params.grid[1] must be a finite number": lambda: mg.log_run(**run, params={"grid": [1.0, math.inf]}),
            "attributes.bounds.low must be a finite number": lambda: mg.register_dataset(
                "x", attributes={"bounds": {"low": -math.inf}}
            ),
            "runs[1].metrics.loss must be a finite number": lambda: mg.log_runs([run, {**run, "metrics": {"loss": math.nan}}]),
            "variables.input.value must be a finite number": lambda: mg.execute("{ __typename }", {"input": {"value": math.nan}}),
            "value must be a finite number": lambda: mg.find("dataset", "score", math.nan),
            "metrics.latency must be a finite number": lambda: mg.log_serving_perf(
                deployment_tag="t",
                period_start=dt.datetime(2026, 1, 1),
                period_end=dt.datetime(2026, 1, 2),
                metrics={"latency": math.inf},
            ),
        }
        for message, call in refusals.items():
            with pytest.raises(BadInput, match=message.replace("[", r"\[").replace("]", r"\]")):
                await resolve(call())

    assert proxy.bodies == []  # not one request left the client


@pytest.mark.parametrize(
    "answer, status, what",
    [
        ((200, "text/html", b"<html>a login page</html>"), 200, "a non-JSON body"),
        ((200, "application/json", b'{"data": {"datas'), 200, "a non-JSON body"),
        ((200, "application/json", b"[1, 2, 3]"), 200, "JSON that is not a GraphQL result"),
        ((200, "application/json", b'{"data": null}'), 200, "JSON that is not a GraphQL result"),
        ((500, "text/plain", b"Internal Server Error"), 500, "a non-JSON body"),
        ((302, "text/html", b""), 302, "a non-JSON body"),
    ],
    ids=["html", "truncated", "list", "null-data", "500", "redirect"],
)
async def test_an_answer_that_is_not_the_gateways_is_an_unexpected_response_and_not_retried(
    connect: Connect, gateway: Server, answer: tuple[int, str, bytes], status: int, what: str
) -> None:
    with Proxy(gateway.url, [answer]) as proxy:
        client = connect(proxy.url, gateway.token, retries=3, backoff=0.01)
        with pytest.raises(UnexpectedResponse) as raised:
            await resolve(client.lookup_dataset("x"))

    assert str(raised.value) == f"{proxy.url}/graphql answered {status} with {what}: is this the gateway's URL?"
    assert (raised.value.status, raised.value.url) == (status, f"{proxy.url}/graphql") and len(proxy.bodies) == 1


async def test_an_answer_of_another_shape_is_an_unexpected_response_not_a_key_error(connect: Connect, gateway: Server) -> None:
    with Proxy(gateway.url, [(200, "application/json", b'{"data": {"something": "else"}}')]) as proxy:
        client = connect(proxy.url, gateway.token)
        with pytest.raises(UnexpectedResponse, match="are the gateway and metagate-client versions compatible") as raised:
            await resolve(client.lookup_dataset("x"))

    assert isinstance(raised.value.__cause__, KeyError) and raised.value.status == 200


async def test_no_answer_within_the_timeout_is_deadline_exceeded(connect: Connect, gateway: Server) -> None:
    with Proxy(gateway.url, ["slow", "slow"]) as proxy:
        client = connect(proxy.url, gateway.token, timeout=0.3, retries=1, backoff=0.01)
        with pytest.raises(DeadlineExceeded) as raised:
            await resolve(client.lookup_dataset("x"))

    assert (
        str(raised.value)
        == f"{proxy.url}/graphql did not answer within 0.3 s (pass a larger timeout= for slow requests) (tried 2 times)"
    )
    assert len(proxy.bodies) == 2


@pytest.mark.parametrize("url", ["localhost:8000", "ftp://127.0.0.1/", "http://", "not a url"])
async def test_a_url_that_is_not_http_is_refused_at_once(connect: Connect, url: str) -> None:
    with pytest.raises(BadInput, match="give the gateway's, e.g. http://127.0.0.1:8000"):
        connect(url)


def test_the_error_tree() -> None:
    leaves = [BadInput, NotFound, Conflict, Unauthenticated, Forbidden, Unavailable, DeadlineExceeded, UnexpectedResponse]
    assert all(issubclass(leaf, MetagateError) for leaf in leaves)
    assert [leaf("m").code for leaf in leaves[:-1]] == [
        "BAD_USER_INPUT",
        "NOT_FOUND",
        "CONFLICT",
        "UNAUTHENTICATED",
        "FORBIDDEN",
        "UNAVAILABLE",
        "DEADLINE_EXCEEDED",
    ]

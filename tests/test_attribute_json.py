"""Free-form attributes, whatever a client sends: either stored and returned exactly,
or refused as BAD_USER_INPUT with nothing written. Never an internal error."""

from __future__ import annotations

import json
import math
from typing import Any

import httpx
import orjson
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from metagate.gateway.app import create_app
from metagate.gateway.config import Settings
from metagate.resolvers import validate
from metagate.store.errors import BadUserInput
from metagate.store.sqlite import SQLiteStore

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()  # unicode, surrogate-free, NUL included
    | st.sampled_from(["\x00", "x" * 70_000, "\u202e\u0301", "'; DROP TABLE nodes; --"])
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=25,
)
SMALL_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=15,
)
DEEP = st.integers(min_value=15, max_value=40).map(lambda n: _nest(n))


def _nest(depth: int) -> dict[str, Any]:
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return value


def _finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    return True


@settings(max_examples=300, deadline=None)
@given(value=st.dictionaries(st.text(max_size=8), JSON, max_size=4) | DEEP | JSON)
def test_validation_accepts_exactly_what_can_be_stored(value: Any) -> None:
    try:
        checked = validate.json_object(value)
    except BadUserInput:
        return
    assert isinstance(checked, dict) and _finite(checked)
    assert orjson.loads(orjson.dumps(checked)) == checked


@example(attributes={"big": 2**64, "small": -(2**63) - 1})
@example(attributes={"nan": math.nan, "inf": [math.inf]})
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(attributes=st.dictionaries(st.text(max_size=8), SMALL_JSON, max_size=4) | DEEP)
def test_attributes_round_trip_or_are_refused_through_the_api(attributes: Any) -> None:
    import asyncio

    async def scenario() -> None:
        store = SQLiteStore(":memory:")
        await store.open()
        app = create_app(Settings(AUTH=False), store=store)
        try:
            # The standard library writes integers of any size, and NaN and Infinity as
            # the bare words that are not JSON, as careless clients do.
            body = json.dumps(
                {
                    "query": 'mutation($a: JSON) { registerDataset(input: {name: "d", attributes: $a}) '
                    "{ dataset { attributes } } }",
                    "variables": {"a": attributes},
                }
            ).encode()
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost") as client:
                response = await client.post("/graphql", content=body, headers={"content-type": "application/json"})
            if response.status_code == 400:  # not JSON (NaN, Infinity, huge integers): refused before GraphQL
                assert (await store.count_all()).get("dataset", 0) == 0
                return
            result = response.json()
            if "errors" in result:
                assert result["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", result
                assert (await store.count_all()).get("dataset", 0) == 0
            else:
                stored = result["data"]["registerDataset"]["dataset"]["attributes"]
                assert stored == json.loads(json.dumps(attributes))
        finally:
            await store.close()

    asyncio.run(scenario())


def test_one_integer_range_everywhere_signed_64_bits() -> None:
    """Attributes, stored JSON and attribute filters take the same integers: from -2^63
    to 2^63 - 1, whether sent as a variable or written in the document."""
    import asyncio

    register = "mutation($a: JSON) { registerDataset(input: {name: $n, attributes: $a}) { created } }".replace("$n", '"d%s"')
    find = 'query($v: JSON) { datasets(filter: {attribute: {key: "x", value: $v}}) { nodes { id } } }'

    async def scenario() -> list[Any]:
        store = SQLiteStore(":memory:")
        await store.open()
        app = create_app(Settings(AUTH=False), store=store)
        answers = []
        try:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost") as client:
                for i, value in enumerate([2**63 - 1, -(2**63), 2**63, 2**64 - 1, -(2**63) - 1, 10**25]):
                    variable = await client.post("/graphql", json={"query": register % i, "variables": {"a": {"x": value}}})
                    written = f'mutation {{ registerDataset(input: {{name: "l{i}", attributes: {{x: {value}}}}}) {{ created }} }}'
                    literal = await client.post("/graphql", json={"query": written})
                    filtered = await client.post("/graphql", json={"query": find, "variables": {"v": value}})
                    answers.append((value, variable.json(), literal.json(), filtered.json()))
        finally:
            await store.close()
        return answers

    for value, *responses in asyncio.run(scenario()):
        fits = -(2**63) <= value < 2**63
        for response in responses:
            if fits:
                assert "errors" not in response, (value, response)
            else:
                [error] = response["errors"]
                assert error["extensions"]["code"] == "BAD_USER_INPUT", (value, error)
                assert "64" in error["message"], (value, error)


def test_numbers_with_long_runs_of_digits_that_are_floats_are_read_as_floats() -> None:
    """A float's long fraction or exponent is not an integer beyond 64 bits: the body is
    read, and each number is the float its text names."""
    import asyncio

    texts = ["0.12345678901234567890123", "1e19", "12345678901234567890.5", "-9223372036854775809.0", "9.3e18"]
    body = (
        '{"query": "mutation($a: JSON) { registerDataset(input: {name: \\"f\\", attributes: $a}) { dataset { attributes } } }",'
        ' "variables": {"a": {%s}}}' % ", ".join(f'"x{i}": {t}' for i, t in enumerate(texts))
    )

    async def scenario() -> Any:
        store = SQLiteStore(":memory:")
        await store.open()
        app = create_app(Settings(AUTH=False), store=store)
        try:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost") as client:
                response = await client.post("/graphql", content=body, headers={"content-type": "application/json"})
                return response.json()
        finally:
            await store.close()

    answer = asyncio.run(scenario())
    assert "errors" not in answer, answer
    attributes = answer["data"]["registerDataset"]["dataset"]["attributes"]
    assert attributes == {f"x{i}": float(t) for i, t in enumerate(texts)}

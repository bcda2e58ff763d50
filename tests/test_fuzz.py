"""Schemathesis generates GraphQL queries and mutations from the checked-in schema and
sends them to a real server: no 5xx, no internal error, and a rejected request writes
nothing. Bounded so that CI stays fast."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import graphql
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from metagate.schema import SCHEMA_FILE
from tests.server import Server

NAMES = st.from_regex(r"[_A-Za-z][_0-9A-Za-z]{0,12}", fullmatch=True)


def _ast(value: Any) -> graphql.ValueNode:
    if isinstance(value, dict):
        return graphql.ObjectValueNode(
            fields=tuple(graphql.ObjectFieldNode(name=graphql.NameNode(value=k), value=_ast(v)) for k, v in value.items())
        )
    if isinstance(value, list):
        return graphql.ListValueNode(values=tuple(_ast(v) for v in value))
    if value is None:
        return graphql.NullValueNode()
    if isinstance(value, bool):
        return graphql.BooleanValueNode(value=value)
    if isinstance(value, int):
        return graphql.IntValueNode(value=str(value))
    if isinstance(value, float):
        return graphql.FloatValueNode(value=value)  # type: ignore[arg-type]
    return graphql.StringValueNode(value=value)


# JSON literals as a hostile client would write them: deep, long, unicode, huge numbers.
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.sampled_from(["1e999", "-1e999", "1.5"])
    | st.text(max_size=30)
    | st.just("x" * 70_000),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(NAMES, inner, max_size=4),
    max_leaves=30,
)
schemathesis.graphql.scalar(
    "JSON",
    st.dictionaries(NAMES, JSON_VALUES, max_size=5).map(_ast)
    | JSON_VALUES.map(lambda v: _ast(v) if not isinstance(v, str) or v[:1] != "1" else graphql.FloatValueNode(value=v)),
)
schemathesis.graphql.scalar(
    "DateTime",
    st.sampled_from(
        [
            "2026-11-23T10:00:00Z",
            "2026-11-23T10:00:00+05:30",
            "0001-01-01T00:00:00+01:00",
            "not a time",
            "9999-12-31T23:59:59-01:00",
            "2026-02-30T00:00:00Z",
            "",
        ]
    ).map(lambda v: graphql.StringValueNode(value=v)),
)
schema = schemathesis.graphql.from_path(str(SCHEMA_FILE))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(tmp_path_factory.mktemp("fuzz") / "fuzz.db")
    # Something to find: a small pipeline, so that generated ids and names can hit it.
    running.gql('mutation { createProject(input: {name: "p"}) { project { id } } }')
    running.gql('mutation { registerDataset(input: {name: "d"}) { dataset { id } } }')
    yield running
    running.stop()


def _counts(db: Path) -> tuple[int, int]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        nodes = conn.execute("SELECT count(*) FROM nodes").fetchone()[0]
        edges = conn.execute("SELECT count(*) FROM edges").fetchone()[0]
    return nodes, edges


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_generated_operations(case: schemathesis.Case, server: Server) -> None:
    db = server.log.parent / "fuzz.db"
    before = _counts(db)
    response = case.call(base_url=f"{server.url}/graphql", headers={"authorization": f"Bearer {server.token}"}, timeout=15)
    assert response.status_code < 500, response.text
    body = response.json()
    codes = {e.get("extensions", {}).get("code") for e in body.get("errors") or []}
    assert "INTERNAL" not in codes, body
    assert None not in codes, body
    errors = body.get("errors") or []
    # A request refused before execution, or whose root field failed, wrote nothing. (An
    # error deeper in a mutation's selection comes after its write, which stands.)
    if errors and all(len(e.get("path") or []) <= 1 for e in errors) and not any((body.get("data") or {}).values()):
        assert _counts(db) == before, body

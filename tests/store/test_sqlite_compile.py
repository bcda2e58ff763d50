"""The SQL the SQLite adapter compiles read plans into: snapshots of representative
operations (tests/snapshots/sql/; METAGATE_UPDATE_SNAPSHOTS=1 writes them), bind-variable
hygiene, and a statement whose text does not nest deeper with the operation's depth."""

from __future__ import annotations

import difflib
import os
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from graphql import parse
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from metagate.resolvers.authz import LOCAL_ADMIN
from metagate.resolvers.queries import Limits
from metagate.schema import build_schema
from metagate.schema.planner import Planner
from metagate.store import sqlite_compile, sqlite_schema
from metagate.store.plan import Plan, encode_id
from metagate.store.sqlite_compile import compile_plan

SNAPSHOTS = Path(__file__).parent.parent / "snapshots" / "sql"
UPDATE = os.environ.get("METAGATE_UPDATE_SNAPSHOTS") == "1"
PLANNER = Planner(build_schema(), Limits())
DEPLOYMENT = encode_id("deployment/d1")
MODEL = encode_id("model/m1")
PROJECT = encode_id("project/p1")

OPERATIONS = {
    "nested_deployment": (
        """query($id: ID!) { node(id: $id) { ... on Deployment { name model { name runs(first: 50) {
             edges { cursor node { name featureset { name dataset { name } } devPerf { metrics } modelParams { params } } }
             pageInfo { hasNextPage endCursor } } } servingPerf(first: 1) { nodes { periodStart metrics } } } } }""",
        {"id": DEPLOYMENT},
    ),
    "nodes_of_several_kinds": (
        """query($ids: [ID!]!) { nodes(ids: $ids) { __typename id ... on Run { status devPerf { rmse: metric(name: "rmse") } }
             ... on Model { project { name } } } }""",
        {"ids": [encode_id("run/r1"), MODEL, encode_id("run/missing")]},
    ),
    "model_in_project": (
        'query($p: ID!) { model(name: "churn", projectId: $p) { id createdAt tags attributes } }',
        {"p": PROJECT},
    ),
    "runs_by_metric_after_a_cursor": (
        """{ runs(filter: {metric: {name: "rmse", lt: 0.5}}, orderBy: {field: METRIC, metric: "rmse", direction: ASC},
             first: 100, after: "WzAuMjUsInJ1bi9yMSJd") { nodes { name } pageInfo { hasNextPage hasPreviousPage } } }""",
        {},
    ),
    "runs_where": (
        """{ runs(first: 10, where: {OR: [{name: {startsWith: "r"}}, {tags: {in: ["a", "b"]}}], NOT: {status: {eq: FAILED}},
             model: {project: {name: {eq: "credit"}}}, devPerf: {metric: {name: "rmse", lt: 0.5}},
             attribute: {key: "k", in: [1, "x", true]}, startTime: {gte: "2026-01-01T00:00:00Z"}}) { nodes { name } } }""",
        {},
    ),
    "search": ('{ search(text: "churn", tag: "gold", kinds: [MODEL, DATASET], first: 10) { nodes { __typename name } } }', {}),
    "lineage_upstream": (
        """query($id: ID!) { lineage(id: $id, depth: 5, limit: 100, kinds: [DATASET, RUN]) { root { id }
             nodes { depth direction node { id kind name } } edges { id kind from to createdAt } truncated } }""",
        {"id": DEPLOYMENT},
    ),
    "model_zoo": (
        """{ modelZoo(first: 5, where: {model: {task: {eq: "ranking"}}, run: {devPerf: {metric: {name: "ndcg", gt: 0.7}}}}) {
             nodes { id version source signature model { name framework } run { devPerf { metrics } }
               deployments(first: 3) { nodes { name servingPerf(first: 1) { nodes { metrics } } } } } } }""",
        {},
    ),
    "pending_jobs": (
        "{ jobs(status: PENDING, type: TRAIN, first: 10) {"
        " nodes { id state spec env image modelPath } pageInfo { endCursor } } }",
        {},
    ),
    "lineage_as_of": (
        """query($id: ID!) { lineage(id: $id, limit: 100, asOf: "2026-06-01T12:00:00Z") { root { id }
             nodes { depth node { id name tags attributes deletedAt ... on Run { model { name } } } }
             edges { id from to } truncated } }""",
        {"id": DEPLOYMENT},
    ),
    "node_as_of": (
        """query($id: ID!) { node(id: $id, asOf: "2026-06-01T12:00:00Z") { ... on Deployment { name deletedAt
             modelVersion { version } model { runs(first: 5) { nodes { name tags } } } } } }""",
        {"id": DEPLOYMENT},
    ),
    "two_roots": (
        """query($p: ID!, $d: ID!) { projectSummary(projectId: $p) { project { name } models runs deployments }
             impact: lineage(id: $d, direction: BOTH, limit: 10) { nodes { node { id } } } }""",
        {"p": PROJECT, "d": DEPLOYMENT},
    ),
}


def plan_of(query: str, variables: dict[str, Any]) -> Plan:
    plan = PLANNER.plan(parse(query), None, variables, LOCAL_ADMIN)
    assert plan is not None, query
    return plan


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_the_sql_of_an_operation_is_its_snapshot(name: str) -> None:
    compiled = compile_plan(plan_of(*OPERATIONS[name]), 4096)
    text = compiled.sql + "\n"
    path = SNAPSHOTS / f"{name}.sql"
    if UPDATE and (not path.exists() or path.read_text() != text):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"no snapshot {path}: run with METAGATE_UPDATE_SNAPSHOTS=1 to write it"
    expected = path.read_text()
    if expected != text:
        diff = difflib.unified_diff(expected.splitlines(), text.splitlines(), lineterm="")
        pytest.fail(f"{path.name} differs (METAGATE_UPDATE_SNAPSHOTS=1 rewrites it):\n" + "\n".join(diff))


def _placeholders(sql: str) -> set[str]:
    return set(re.findall(r":(p\d+)\b", sql))


HOSTILE = st.one_of(
    st.sampled_from(["'", '"', "--", "/*", ":p0", "?", "); DROP TABLE nodes; --", "%", "_", "\\", "é\u202e", "x" * 300]),
    st.text(min_size=1, max_size=30),
).map(lambda s: "\u2603MG" + s)


@settings(max_examples=200, deadline=None)
@given(name=HOSTILE, text=HOSTILE, tag=HOSTILE, key=HOSTILE, value=HOSTILE, metric=HOSTILE)
def test_every_value_of_a_request_travels_as_a_parameter(
    name: str, text: str, tag: str, key: str, value: str, metric: str
) -> None:
    query = """query($n: String!, $t: String, $g: String, $k: String!, $v: JSON, $m: String!, $id: ID!) {
      dataset(name: $n) { runs(first: 3) { nodes { devPerf { metric(name: $m) } } } }
      search(text: $t, tag: $g, attribute: {key: $k, value: $v}) { nodes { id } }
      lineage(id: $id) { nodes { node { name } } }
      runs(where: {name: {contains: $t}, tags: {eq: $g}, attribute: {key: $k, eq: $v},
                   model: {name: {startsWith: $n}, runs: {deploymentTag: {in: [$t, $g]}}}}) { nodes { id } } }"""
    variables = {"n": name, "t": text, "g": tag, "k": key, "v": value, "m": metric, "id": DEPLOYMENT}
    plan = PLANNER.plan(parse(query), None, variables, LOCAL_ADMIN)
    assume(plan is not None)  # a name the API refuses makes no plan
    assert plan is not None
    compiled = compile_plan(plan, 4096)
    assert "\u2603MG" not in compiled.sql
    assert _placeholders(compiled.sql) == set(compiled.params)


def test_the_statement_prepares_however_deep_the_operation() -> None:
    # SQLite's parser has a fixed stack: a statement that nested a subquery per level
    # of the operation could not be prepared past a few levels.
    inner = "id"
    for _ in range(6):
        inner = f"runs(first: 2) {{ nodes {{ model {{ {inner} }} }} }}"
    plan = plan_of(f"query($id: ID!) {{ node(id: $id) {{ ... on Model {{ {inner} }} }} }}", {"id": MODEL})
    compiled = compile_plan(plan, 4096)
    conn = sqlite3.connect(":memory:")
    for migration in sqlite_schema.MIGRATIONS:
        conn.executescript(migration)
    for name, arity, function in sqlite_compile.FUNCTIONS:
        conn.create_function(name, arity, function, deterministic=True)
    [row] = conn.execute(compiled.sql, compiled.params).fetchall()
    assert row[0] == 0  # no such model: not answered, and nothing failed on the way

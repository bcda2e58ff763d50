"""The cost limit: the most objects an operation's answer can hold, found before it
runs; above MAX_QUERY_COST it is refused and the store is never read."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from graphql import build_schema as sdl_schema
from graphql import get_introspection_query, parse

from metagate.gateway import config
from metagate.gateway.app import create_app
from metagate.gateway.config import Settings
from metagate.resolvers.queries import Limits
from metagate.schema import build_schema
from metagate.schema.cost import QueryCosts
from metagate.store.sqlite import SQLiteStore
from tests.conftest import GraphQLClient
from tests.pipeline import record_pipeline
from tests.test_readme import OPERATIONS

COSTS = QueryCosts(build_schema()._schema, Limits())

# Issue #11: on a model with 20,000 runs this answered 58 MB in 7.7 s.
NESTED_RUNS = """query($model: ID!) { node(id: $model) { ... on Model { runs(first: 100) { nodes {
  model { runs(first: 100) { nodes { model { runs(first: 100) { nodes { id } } } } } } } } } } }"""
# 1 node + 1 connection + 100 x (run + model + connection + 100 x (run + model + connection + 100 runs)).
NESTED_RUNS_COST = 1 + 1 + 100 * (1 + 1 + 1 + 100 * (1 + 1 + 1 + 100))

# Issue #11: an anonymous 841-byte document, 30 aliases of __schema through fragments,
# answered 3.4 MB. This one, of 909 bytes, answers 2.6 MB.
INTROSPECTION_ATTACK = (
    "{"
    + "".join(f"a{i}:__schema{{...S}}" for i in range(30))
    + "}fragment S on __Schema{types{...A...B}directives{name description args{name}}}"
    "fragment A on __Type{name description fields{name description args{name description type{...C}}type{...C}}}"
    "fragment B on __Type{inputFields{name description type{...C}}enumValues{name description}"
    "interfaces{name}possibleTypes{name}}"
    "fragment C on __Type{name kind ofType{name kind ofType{name kind}}}"
)


def _objects(data: dict[str, Any]) -> int:
    """The objects of an answer's data (JSON scalars, which are dicts too, aside)."""

    def count(value: Any) -> int:
        if isinstance(value, dict):
            return 1 + sum(count(v) for v in value.values())
        if isinstance(value, list):
            return sum(count(v) for v in value)
        return 0

    return count(data) - 1


@pytest.fixture
def store(memory_store: SQLiteStore) -> SQLiteStore:
    return memory_store


@asynccontextmanager
async def _client(store: SQLiteStore, limits: Limits | None = None, auth: bool = False) -> AsyncIterator[GraphQLClient]:
    app = create_app(Settings(AUTH=auth, LIMITS=limits or Limits()), store=store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost") as http:
        yield GraphQLClient(http)


# --------------------------------------------------------------------------------------
# Refused before the store is read.
# --------------------------------------------------------------------------------------


async def test_the_issues_nested_runs_are_refused_before_the_store_is_read(store: SQLiteStore) -> None:
    async with _client(store) as gql:
        pipeline = await record_pipeline(gql, runs=3)
        before = store.statements
        error = await gql.error(NESTED_RUNS, model=pipeline.model)
        assert store.statements == before
        # The same shape with small pages is answered, from the store.
        small = await gql(NESTED_RUNS.replace("first: 100", "first: 2"), model=pipeline.model)

    assert error["extensions"] == {"code": "BAD_USER_INPUT", "cost": NESTED_RUNS_COST, "limit": 20_000}
    assert error["message"] == (
        "the query may return 1,030,302 objects, more than the limit of 20,000;"
        " ask for smaller pages (first:), fewer levels or fewer aliases"
    )
    assert len(small["node"]["runs"]["nodes"]) == 2
    assert store.statements > before


async def test_the_anonymous_introspection_amplifier_is_refused_and_graphiqls_query_is_answered(store: SQLiteStore) -> None:
    assert len(INTROSPECTION_ATTACK) < 1000
    async with _client(store, auth=True) as anonymous:
        before = store.statements
        error = await anonymous.error(INTROSPECTION_ATTACK)
        assert store.statements == before
        graphiql = await anonymous(get_introspection_query())
    async with _client(store, Limits(max_query_cost=10**9)) as unlimited:
        amplified = await unlimited(INTROSPECTION_ATTACK)

    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["limit"] == 20_000
    # Introspection counts what this schema's answer holds: exactly its objects.
    assert error["extensions"]["cost"] == _objects(amplified) > 20_000
    assert len(json.dumps(amplified)) > 2_000_000
    assert COSTS.cost(get_introspection_query()) == _objects(graphiql) < 20_000


async def test_a_mutation_counts_one_payload_per_input_run_and_a_refused_one_writes_nothing(store: SQLiteStore) -> None:
    logged = """mutation($input: LogRunsInput!) {
      logRuns(input: $input) { runs { run { id model { runs(first: 100) { nodes { id } } } } } } }"""
    async with _client(store) as gql:
        pipeline = await record_pipeline(gql, runs=1)
        run = {"modelId": pipeline.model, "datasetId": pipeline.dataset, "featuresetId": pipeline.featureset}
        batch = [{**run, "name": f"sweep-{i}"} for i in range(200)]
        before = store.statements
        error = await gql.error(logged, input={"runs": batch})
        assert store.statements == before
        few = await gql(logged, input={"runs": batch[:3]})

    # payload + 200 x (entry + run + model + connection + 100 runs)
    assert error["extensions"]["cost"] == 1 + 200 * (1 + 1 + 1 + 1 + 100)
    assert error["message"].startswith("the mutation may return 20,801 objects")
    assert len(few["logRuns"]["runs"]) == 3
    assert (await store.count_all()).get("run") == 1 + 3


async def test_the_setting_sets_the_limit(store: SQLiteStore, monkeypatch: pytest.MonkeyPatch) -> None:
    page = "{ datasets(first: 60) { nodes { id } } }"
    async with _client(store, Limits(max_query_cost=50)) as strict:
        error = await strict.error(page)
    async with _client(store) as default:
        await default(page)
    monkeypatch.setenv("METAGATE_MAX_QUERY_COST", "123")

    assert (error["extensions"]["cost"], error["extensions"]["limit"]) == (61, 50)
    assert config.load(env_file=None).LIMITS.max_query_cost == 123
    assert Limits().max_query_cost == 20_000


async def test_variables_that_cannot_be_coerced_get_the_usual_error(store: SQLiteStore) -> None:
    async with _client(store) as gql:
        error = await gql.error("query($n: Int) { datasets(first: $n) { nodes { id } } }", n="many")
    assert "$n" in error["message"] and error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "cost" not in error["extensions"]


# --------------------------------------------------------------------------------------
# What counts how much.
# --------------------------------------------------------------------------------------


async def test_the_cost_of_full_pages_is_the_number_of_objects_answered(store: SQLiteStore) -> None:
    query = """query($model: ID!) { node(id: $model) { ... on Model { name project { name }
      runs(first: 3) { pageInfo { hasNextPage } edges { cursor node { name dataset { name } } }
        nodes { modelParams { id } devPerf { id } tags } } } } }"""
    async with _client(store) as gql:
        pipeline = await record_pipeline(gql, runs=3)
        answer = await gql(query, model=pipeline.model)
    assert COSTS.cost(query, {"model": pipeline.model}) == _objects(answer) == 1 + 1 + 1 + 1 + 3 * 3 + 3 * 3


@pytest.mark.parametrize(
    ("query", "cost"),
    [
        # A connection's nodes and edges hold a page: the default page without `first`.
        ("{ datasets { nodes { id name tags } } }", 1 + 20),
        ("{ datasets(first: 5) { nodes { id } edges { cursor node { id } } pageInfo { hasNextPage } } }", 1 + 5 + 5 * 2 + 1),
        ("{ datasets(first: 0) { nodes { id } } }", 1),
        # A page larger than the largest is refused on its own: it counts as the largest.
        ("{ datasets(first: 5000) { nodes { id } } }", 1 + 100),
        # Nested lists multiply; nested defaults too.
        ("{ models(first: 3) { nodes { runs(first: 4) { nodes { dataset { id } } } } } }", 1 + 3 * (1 + 1 + 4 * 2)),
        ("{ models { nodes { runs { nodes { id } } } } }", 1 + 20 * (1 + 1 + 20)),
        # Each alias counts; fields merged under one response key count once.
        ("{ a: datasets(first: 5) { nodes { id } } b: datasets(first: 5) { nodes { id } } }", 2 * 6),
        ("{ datasets(first: 5) { nodes { id } } datasets(first: 5) { nodes { name } } }", 6),
        ("{ datasets(first: 5) { nodes { id } } datasets(first: 5) { nodes { runs(first: 2) { nodes { id } } } } }", 1 + 5 * 4),
        # Named and inline fragments; an abstract field costs as its costliest type.
        (
            "{ search(first: 10) { nodes { ...M ... on Dataset { runs(first: 7) { nodes { id } } featuresets(first: 3)"
            " { nodes { id } } } } } } fragment M on Model { runs(first: 10) { nodes { id } } }",
            1 + 10 * (1 + max(1 + 10, 1 + 7 + 1 + 3)),
        ),
        (
            "{ search(first: 10) { nodes { ... on Node { id } ...D } } }"
            " fragment D on Dataset { runs(first: 2) { nodes { id } } }",
            1 + 10 * 4,
        ),
        ("{ search(first: 10) { nodes { ... on Project { name } } } }", 1 + 10),
        # Parts left out by @include / @skip cost nothing.
        ("{ datasets(first: 5) { nodes { id runs(first: 9) @include(if: false) { nodes { id } } } } }", 6),
        ("{ datasets(first: 5) { nodes { ... @skip(if: true) { runs(first: 9) { nodes { id } } } } } }", 6),
        (
            "{ datasets(first: 5) { nodes { ...R @skip(if: false) } } }"
            " fragment R on Dataset { runs(first: 9) { nodes { id } } }",
            1 + 5 * 11,
        ),
        # nodes(ids:): one per id, at most MAX_IDS.
        ('{ nodes(ids: ["a", "b", "c"]) { id ... on Run { model { id } } } }', 3 * 2),
        ("{ nodes(ids: [" + ", ".join(f'"n{i}"' for i in range(150)) + "]) { id } }", 100),
        # lineage: its limit, or the default, for its nodes and again for its edges.
        ('{ lineage(id: "x") { root { id } nodes { depth node { id } } edges { id } truncated } }', 1 + 1 + 1000 * 2 + 1000),
        ('{ lineage(id: "x", limit: 10) { nodes { node { ... on Run { model { id } } } } } }', 1 + 10 * 3),
        # Scalars and lists of them cost nothing; __typename neither.
        ('{ __typename dataset(name: "d") { __typename id tags attributes } }', 1),
        # Introspection: exactly what the answer holds.
        ('{ __type(name: "PageInfo") { name fields { name type { name } } } }', 1 + 4 * 2),
        ('{ __type(name: "NoSuchType") { name fields { name } } }', 1),
        ("{ __schema { queryType { name } mutationType { name } subscriptionType { name } } }", 1 + 3),
        # Mutation payloads: one entry per input run.
        (
            'mutation { logRuns(input: {runs: [{modelId: "m", datasetId: "d", featuresetId: "f"},'
            ' {modelId: "m", datasetId: "d", featuresetId: "f"}]}) { runs { run { id } devPerf { id } created } } }',
            1 + 2 * 3,
        ),
        (
            'mutation { registerDataset(input: {name: "d"}) { dataset { id runs(first: 4) { nodes { id } } } created } }',
            1 + 1 + 1 + 4,
        ),
    ],
)
def test_what_counts(query: str, cost: int) -> None:
    assert COSTS.cost(query) == cost


@pytest.mark.parametrize(
    ("variables", "cost"),
    [
        ({"n": 7, "deep": True}, 1 + 7 * (1 + 1 + 3)),
        ({"n": 7, "deep": False}, 1 + 7),
        ({"deep": True}, 1 + 20 * (1 + 1 + 3)),  # no `first`: the default page
        ({"n": None, "deep": False}, 1 + 20),
        ({"n": 1000, "deep": False}, 1 + 100),
        ({"n": 2}, 1 + 2 * 5),  # $deep's default
    ],
)
def test_variables_set_pages_and_conditions(variables: dict[str, Any], cost: int) -> None:
    query = """query($n: Int, $deep: Boolean! = true) { datasets(first: $n) { nodes { id
      runs(first: 3) @include(if: $deep) { nodes { id } } } } }"""
    assert COSTS.cost(query, variables) == cost


def test_variables_size_ids_lineage_and_batches() -> None:
    ids = "query($ids: [ID!]!) { nodes(ids: $ids) { id } }"
    lineage = 'query($l: Int) { lineage(id: "x", limit: $l) { nodes { node { id } } edges { id } } }'
    batch = "mutation($input: LogRunsInput!) { logRuns(input: $input) { runs { run { id } } } }"
    run = {"modelId": "m", "datasetId": "d", "featuresetId": "f"}

    assert COSTS.cost(ids, {"ids": ["a", "b"]}) == 2
    assert COSTS.cost(ids, {"ids": "a"}) == 1  # a lone value is a list of one
    assert COSTS.cost(lineage, {"l": 5}) == 1 + 5 * 2 + 5
    assert COSTS.cost(lineage, {}) == 1 + 1000 * 2 + 1000
    assert COSTS.cost(batch, {"input": {"runs": [run] * 4}}) == 1 + 4 * 2
    assert COSTS.cost(batch, {"input": {"runs": [run] * 4000}}) == 1 + 1000 * 2  # MAX_BATCH_RUNS


def test_a_skip_and_an_include_of_one_variable_never_both_count() -> None:
    query = """query($v: Boolean!) { datasets(first: 5) { nodes {
      a: runs(first: 10) @include(if: $v) @skip(if: $v) { nodes { id } }
      b: runs(first: 2) @include(if: $v) { nodes { id } }
      b: runs(first: 2) @skip(if: $v) { nodes { name } } } } }"""
    assert COSTS.cost(query, {"v": True}) == COSTS.cost(query, {"v": False}) == 1 + 5 * (1 + 3)


def test_the_estimate_is_made_once_per_document() -> None:
    costs = QueryCosts(build_schema()._schema, Limits())
    query = "query($n: Int) { datasets(first: $n) { nodes { id } } }"
    first = costs.estimate(parse(query), None, query)
    again = costs.estimate(parse(query), None, query)

    assert first is not None and first is again
    assert (first.cost({"n": 3}), first.cost({"n": 9})) == (4, 10)
    assert first.reads == ("n",)


def test_only_the_variables_the_cost_depends_on_are_read() -> None:
    query = "query($id: ID!, $n: Int, $all: Boolean! = false) { node(id: $id) { id } datasets(first: $n) { nodes { id } } }"
    estimate = COSTS.estimate(parse(query), None, query)
    assert estimate is not None and estimate.reads == ("n",)
    assert estimate.values({"id": "x", "n": 3.0, "all": True}) == {"n": 3.0}
    assert estimate.cost({"n": 3.0}) == 1 + 1 + 3  # 3.0 as Int coerces it


def test_every_readme_operation_is_within_the_limit() -> None:
    costs = {name: COSTS.cost(document, variables) for name, document, variables in OPERATIONS}
    assert len(costs) >= 10
    assert all(0 < cost <= Limits().max_query_cost for cost in costs.values()), costs


def test_a_list_of_objects_that_nothing_sizes_is_refused_when_the_schema_is_built() -> None:
    sized = sdl_schema("type Query { page(first: Int): Page } type Page { items: [Item!]! } type Item { id: ID tags: [String] }")
    unsized = sdl_schema("type Query { items: [Item!]! page(first: Int): Page } type Page { items: [Item] } type Item { id: ID }")
    nested = sdl_schema("type Query { page(first: Int): Page } type Page { grid: [[Item]] } type Item { id: ID }")

    assert QueryCosts(sized, Limits()).cost("{ page(first: 4) { items { id } } }") == 1 + 4
    with pytest.raises(ValueError, match=r"lists; .*: Query\.items$"):
        QueryCosts(unsized, Limits())
    with pytest.raises(ValueError, match=r"Page\.grid"):
        QueryCosts(nested, Limits())

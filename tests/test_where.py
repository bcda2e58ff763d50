"""The `where` filter language of the lists: AND, OR, NOT, operators on fields and
neighbours, on every adapter, answered the same on the compiled path (over HTTP) and by
the executor's resolvers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import graphql
import pytest

from metagate.resolvers.queries import Limits
from metagate.schema import build_schema
from metagate.schema.context import make_context
from metagate.store.port import Store
from tests.conftest import GraphQLClient


@dataclass
class Graph:
    gql: GraphQLClient
    store: Store
    ids: dict[str, str]

    async def both(self, query: str, **variables: Any) -> dict[str, Any]:
        """The data of ``query`` over HTTP, after checking that the executor answers the same."""
        compiled = await self.gql(query, **variables)
        executed = await graphql.graphql(
            build_schema()._schema, query, variable_values=variables, context_value=make_context(self.store, Limits(), "t")
        )
        assert not executed.errors, executed.errors
        assert executed.data == compiled
        return compiled

    async def names(self, root: str, where: str, **variables: Any) -> list[str]:
        data = await self.both(f"query {{ {root}(first: 100, where: {where}) {{ nodes {{ name }} }} }}", **variables)
        return sorted(n["name"] for n in data[root]["nodes"])


async def _id(gql: GraphQLClient, mutation: str, path: tuple[str, str], **variables: Any) -> str:
    data = await gql(mutation, **variables)
    return str(data[path[0]][path[1]]["id"])


@pytest.fixture
async def g(gql: GraphQLClient, store: Store) -> Graph:
    ids: dict[str, str] = {}
    for project in ("credit", "vision"):
        ids[project] = await _id(
            gql,
            "mutation($n: String!) { createProject(input: {name: $n}) { project { id } } }",
            ("createProject", "project"),
            n=project,
        )
    datasets = {"loans": ('["tabular", "pii"]', '{rows: 100, source: "bank"}'), "images": ('["vision"]', "{rows: 5.0}")}
    for name, (tags, attributes) in datasets.items():
        ids[name] = await _id(
            gql,
            f'mutation {{ registerDataset(input: {{name: "{name}", tags: {tags}, attributes: {attributes}}})'
            " { dataset { id } } }",
            ("registerDataset", "dataset"),
        )
    ids["untagged"] = await _id(
        gql, 'mutation { registerDataset(input: {name: "untagged"}) { dataset { id } } }', ("registerDataset", "dataset")
    )
    for fs, ds in (("loans-fs", "loans"), ("images-fs", "images")):
        ids[fs] = await _id(
            gql,
            "mutation($n: String!, $d: ID!) { registerFeatureset(input: {name: $n, datasetId: $d}) { featureset { id } } }",
            ("registerFeatureset", "featureset"),
            n=fs,
            d=ids[ds],
        )
    for model, project in (("gbm", "credit"), ("cnn", "vision"), ("idle", "credit")):
        ids[model] = await _id(
            gql,
            "mutation($n: String!, $p: ID!) { registerModel(input: {name: $n, projectId: $p}) { model { id } } }",
            ("registerModel", "model"),
            n=model,
            p=ids[project],
        )
    runs = [
        ("r1", "gbm", "loans", {"rmse": 0.3, "auc": 0.9}, "COMPLETED", "2026-11-01T00:00:00Z"),
        ("r2", "gbm", "loans", {"rmse": 0.7}, "FAILED", "2026-11-02T00:00:00Z"),
        ("s1", "cnn", "images", {"rmse": 0.45}, "COMPLETED", "2026-11-03T00:00:00Z"),
        ("s2", "cnn", "images", {"acc": 0.8}, "RUNNING", None),
    ]
    for name, model, dataset, metrics, status, start in runs:
        logged = await gql(
            """mutation($i: LogRunInput!) { logRun(input: $i) { run { id } modelParams { id } } }""",
            i={
                "name": name,
                "modelId": ids[model],
                "datasetId": ids[dataset],
                "featuresetId": ids[f"{dataset}-fs"],
                "params": {"depth": 3},
                "metrics": metrics,
                "status": status,
                "startTime": start,
                "tags": ["best"] if name == "r1" else [],
                "deploymentTag": f"{name}-tag" if name in ("r1", "s1") else None,
            },
        )
        ids[name], ids[f"{name}-params"] = logged["logRun"]["run"]["id"], logged["logRun"]["modelParams"]["id"]
    for deployment, run in (("prod-credit", "r1"), ("prod-vision", "s1")):
        await gql(
            "mutation($t: String!, $n: String!) { registerDeployment(input: {name: $n, deploymentTag: $t}) { created } }",
            t=f"{run}-tag",
            n=deployment,
        )
    return Graph(gql, store, ids)


async def test_or_and_not_combine_tests_on_names(g: Graph) -> None:
    assert await g.names("runs", '{OR: [{name: {eq: "r1"}}, {name: {startsWith: "s"}}]}') == ["r1", "s1", "s2"]
    assert await g.names("runs", '{AND: [{name: {startsWith: "s"}}, {NOT: {name: {eq: "s2"}}}]}') == ["s1"]
    assert await g.names("runs", '{name: {in: ["r2", "s2", "nope"]}}') == ["r2", "s2"]
    assert await g.names("datasets", '{name: {contains: "age"}}') == ["images"]
    # Operators of one predicate must all hold; an empty OR matches nothing, an empty AND everything.
    assert await g.names("runs", '{name: {startsWith: "r", contains: "2"}}') == ["r2"]
    assert await g.names("runs", "{OR: []}") == []
    assert await g.names("models", "{AND: []}") == ["cnn", "gbm", "idle"]


async def test_case_and_accents_count_in_text_operators(g: Graph) -> None:
    assert await g.names("datasets", '{name: {contains: "AGE"}}') == []
    assert await g.names("datasets", '{name: {startsWith: "Loans"}}') == []


async def test_a_neighbour_predicate_follows_the_data_dictionarys_navigation(g: Graph) -> None:
    # runs whose dataset is named loans
    assert await g.names("runs", '{dataset: {name: {eq: "loans"}}}') == ["r1", "r2"]
    # deployments whose model is in project credit
    assert await g.names("deployments", '{model: {project: {name: {eq: "credit"}}}}') == ["prod-credit"]
    # models with a run whose rmse < 0.5
    assert await g.names("models", '{runs: {devPerf: {metric: {name: "rmse", lt: 0.5}}}}') == ["cnn", "gbm"]
    # models with no failed run, and models without runs
    assert await g.names("models", "{NOT: {runs: {status: {eq: FAILED}}}}") == ["cnn", "idle"]
    assert await g.names("models", "{NOT: {runs: {}}}") == ["idle"]
    # datasets feeding a deployment of the vision project, three steps away
    where = '{featuresets: {deployments: {model: {project: {name: {eq: "vision"}}}}}}'
    assert await g.names("datasets", where) == ["images"]


async def test_tags_attributes_and_typed_fields(g: Graph) -> None:
    assert await g.names("datasets", '{tags: {in: ["vision", "pii"]}}') == ["images", "loans"]
    assert await g.names("datasets", '{tags: {startsWith: "tab"}}') == ["loans"]
    assert await g.names("datasets", '{NOT: {tags: {eq: "pii"}}}') == ["images", "untagged"]
    assert await g.names("runs", '{tags: {eq: "best"}}') == ["r1"]
    # A number equals a number (5.0 = 5), not a string; a node without the key fails eq and passes its NOT.
    assert await g.names("datasets", '{attribute: {key: "rows", eq: 5}}') == ["images"]
    assert await g.names("datasets", '{attribute: {key: "rows", in: [100, "5"]}}') == ["loans"]
    assert await g.names("datasets", '{NOT: {attribute: {key: "source", eq: "bank"}}}') == ["images", "untagged"]
    assert await g.names("runs", "{status: {in: [RUNNING, FAILED]}}") == ["r2", "s2"]
    assert await g.names("runs", '{deploymentTag: {eq: "s1-tag"}}') == ["s1"]
    # Times: a run without a start time fails every comparison and passes their NOT.
    assert await g.names("runs", '{startTime: {gte: "2026-11-02T00:00:00Z"}}') == ["r2", "s1"]
    assert await g.names("runs", '{startTime: {gt: "2026-11-01T00:00:00Z", lt: "2026-11-03T00:00:00Z"}}') == ["r2"]
    assert await g.names("runs", '{NOT: {startTime: {lte: "2026-11-02T00:00:00Z"}}}') == ["s1", "s2"]
    assert await g.names("runs", '{createdAt: {gt: "2000-01-01T00:00:00Z"}, model: {name: {eq: "cnn"}}}') == ["s1", "s2"]
    assert await g.names("runs", '{createdAt: {lt: "2000-01-01T00:00:00Z"}}') == []
    # A metric that is not there fails, and passes NOT.
    assert await g.names("runs", '{devPerf: {metric: {name: "rmse", gte: 0.45}}}') == ["r2", "s1"]
    assert await g.names("runs", '{NOT: {devPerf: {metric: {name: "rmse", eq: 0.3}}}}') == ["r2", "s1", "s2"]


async def test_where_goes_with_filter_order_and_pages(g: Graph) -> None:
    query = """query($after: String) { runs(first: 1, after: $after, where: {model: {project: {name: {eq: "credit"}}}},
        filter: {metric: {name: "rmse", lt: 0.9}}, orderBy: {field: METRIC, metric: "rmse", direction: DESC}) {
        nodes { name } pageInfo { hasNextPage endCursor } } }"""
    first = (await g.both(query, after=None))["runs"]
    assert [n["name"] for n in first["nodes"]] == ["r2"] and first["pageInfo"]["hasNextPage"]
    second = (await g.both(query, after=first["pageInfo"]["endCursor"]))["runs"]
    assert [n["name"] for n in second["nodes"]] == ["r1"] and not second["pageInfo"]["hasNextPage"]


async def test_nested_selections_under_a_filtered_list(g: Graph) -> None:
    data = await g.both(
        """{ models(where: {runs: {dataset: {tags: {eq: "vision"}}}}) {
             nodes { name runs(first: 5) { nodes { name dataset { name } } } } } }"""
    )
    assert data == {
        "models": {
            "nodes": [
                {
                    "name": "cnn",
                    "runs": {
                        "nodes": [{"name": "s2", "dataset": {"name": "images"}}, {"name": "s1", "dataset": {"name": "images"}}]
                    },
                }
            ]
        }
    }


@pytest.mark.parametrize(
    ("where", "field"),
    [
        ('{model: {runs: {model: {runs: {model: {name: {eq: "x"}}}}}}}', "where.model.runs.model.runs.model"),
        ('{devPerf: {metric: {name: "no spaces", lt: 1}}}', "where.devPerf.metric.name"),
        ('{attribute: {key: "rows"}}', "where.attribute"),
        ('{OR: [{name: {eq: "a"}}, {NOT: {name: {contains: "%s"}}}]}' % ("x" * 201), "where.OR[1].NOT.name.contains"),
        ("{name: {in: [%s]}}" % ", ".join(f'"{i}"' for i in range(101)), "where.name.in"),
        ("{OR: [%s]}" % ", ".join('{name: {eq: "a"}}' for _ in range(40)), "where.OR[31].name"),
        ('{attribute: {key: "rows", eq: {a: 1}}}', "where.attribute.eq"),
        ('{tags: {contains: ""}}', "where.tags.contains"),
        ('{devPerf: {metric: {name: "rmse"}}}', "where.devPerf.metric"),
        ("{name: {}}", "where.name"),
        ("{NOT: " * 17 + '{name: {eq: "a"}}' + "}" * 17, "where" + ".NOT" * 17),
        (
            '{model: {runs: {model: {runs: {NOT: {NOT: {NOT: {NOT: {NOT: {name: {eq: "a"}}}}}}}}}}}',
            "where.model.runs.model.runs" + ".NOT" * 5,
        ),
        ('{name: {startsWith: ""}}', "where.name.startsWith"),
        ('{attribute: {key: "rows", in: [9223372036854775808]}}', "where.attribute.in"),
    ],
)
async def test_a_where_out_of_bounds_is_refused_naming_the_part(g: Graph, where: str, field: str) -> None:
    error = await g.gql.error(f"{{ runs(where: {where}) {{ nodes {{ name }} }} }}")
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert error["extensions"]["field"] == field, error


def _nots(count: int, inner: str) -> str:
    return "{NOT: " * count + inner + "}" * count


@pytest.mark.parametrize(
    ("where", "names"),
    [
        (_nots(16, '{name: {eq: "r1"}}'), ["r1"]),
        ("{model: {runs: {model: {runs: " + _nots(4, '{name: {eq: "r1"}}') + "}}}}", ["r1", "r2"]),
        ("{AND: [{OR: [" + _nots(12, '{name: {eq: "r1"}}') + ', {name: {eq: "r2"}}]}, {tags: {eq: "best"}}]}', ["r1"]),
    ],
)
async def test_the_deepest_where_allowed_is_answered(g: Graph, where: str, names: list[str]) -> None:
    # SQLite's parser stack is fixed: the nesting limit keeps every allowed where inside it,
    # on the compiled path and the executor's (``both``) alike.
    assert await g.names("runs", where) == names

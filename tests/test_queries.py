"""Look-ups, filtered and paginated lists, search, summaries and lineage."""

from __future__ import annotations

from typing import Any

from metagate.resolvers.ids import encode_id
from tests.conftest import GraphQLClient
from tests.pipeline import record_pipeline


async def _all_pages(gql: GraphQLClient, query: str, field: str, **variables: Any) -> list[str]:
    names: list[str] = []
    after = None
    while True:
        page = (await gql(query, after=after, **variables))[field]
        names += [edge["node"]["name"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return names
        after = page["pageInfo"]["endCursor"]


async def test_lookup_by_name_for_each_kind(gql: GraphQLClient) -> None:
    pipeline = await record_pipeline(gql, runs=1)
    data = await gql(
        """{ project(name: "housing") { id } dataset(name: "california-housing") { id }
             featureset(name: "housing-features") { id } model(name: "gbr") { id }
             run(name: "trial-0") { id } deployment(name: "prod") { id }
             missing: dataset(name: "no-such-dataset") { id } }"""
    )
    assert data == {
        "project": {"id": pipeline.project},
        "dataset": {"id": pipeline.dataset},
        "featureset": {"id": pipeline.featureset},
        "model": {"id": pipeline.model},
        "run": {"id": pipeline.runs[0]},
        "deployment": {"id": pipeline.deployment},
        "missing": None,
    }


async def test_a_name_shared_across_scopes_needs_the_scope(gql: GraphQLClient) -> None:
    first = await record_pipeline(gql, runs=1, prefix="a-")
    await record_pipeline(gql, runs=1, prefix="b-")
    error = await gql.error('{ model(name: "gbr") { id } }')
    scoped = await gql('query($p: ID!) { model(name: "gbr", projectId: $p) { id } }', p=first.project)

    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "projectId" in error["message"] or "scope" in error["message"]
    assert scoped["model"]["id"] == first.model


async def test_lists_page_through_everything_once_in_order(gql: GraphQLClient) -> None:
    for number in range(7):
        await gql("mutation($n: String!) { registerDataset(input: {name: $n}) { created } }", n=f"ds-{number}")
    query = """query($after: String) { datasets(first: 3, after: $after, orderBy: {field: NAME, direction: ASC}) {
                 edges { cursor node { name } } pageInfo { hasNextPage endCursor } } }"""
    newest_first = await gql("{ datasets(first: 100) { nodes { name } } }")

    assert await _all_pages(gql, query, "datasets") == [f"ds-{n}" for n in range(7)]
    assert [n["name"] for n in newest_first["datasets"]["nodes"]] == [f"ds-{n}" for n in reversed(range(7))]


async def test_list_filters(gql: GraphQLClient) -> None:
    for name, tags, attributes in [
        ("sales-2024", ["finance"], {"rows": 10, "region": "eu", "public": True}),
        ("sales-2025", ["finance", "gold"], {"rows": 20, "region": "us"}),
        ("clicks", ["web"], {"rows": 10.0, "region": "eu"}),
    ]:
        await gql(
            "mutation($n: String!, $t: [String!], $a: JSON) {"
            " registerDataset(input: {name: $n, tags: $t, attributes: $a}) { created } }",
            n=name,
            t=tags,
            a=attributes,
        )

    async def names(filter: dict[str, Any]) -> set[str]:
        data = await gql("query($f: NodeFilter) { datasets(filter: $f) { nodes { name } } }", f=filter)
        return {n["name"] for n in data["datasets"]["nodes"]}

    assert await names({"nameContains": "sales"}) == {"sales-2024", "sales-2025"}
    assert await names({"name": "clicks"}) == {"clicks"}
    assert await names({"tag": "gold"}) == {"sales-2025"}
    assert await names({"attribute": {"key": "region", "value": "eu"}}) == {"sales-2024", "clicks"}
    assert await names({"attribute": {"key": "rows", "value": 10}}) == {"sales-2024", "clicks"}
    assert await names({"attribute": {"key": "public", "value": True}}) == {"sales-2024"}
    assert await names({"tag": "finance", "attribute": {"key": "region", "value": "us"}}) == {"sales-2025"}
    assert await names({"nameContains": "%"}) == set()
    assert await names({"createdAfter": "2000-01-01T00:00:00Z", "createdBefore": "2001-01-01T00:00:00Z"}) == set()
    assert await names({"createdAfter": "2000-01-01T00:00:00Z"}) == {"sales-2024", "sales-2025", "clicks"}


async def test_runs_filtered_and_ordered_by_a_dev_perf_metric_best_first(gql: GraphQLClient) -> None:
    pipeline = await record_pipeline(gql, runs=6)  # rmse 0.5, 0.4, 0.3, 0.2, 0.1, 0.9
    query = """query($after: String) { runs(first: 2, after: $after,
                 filter: {metric: {name: "rmse", lt: 0.45}},
                 orderBy: {field: METRIC, metric: "rmse", direction: ASC}) {
                 edges { node { name model { id } } } pageInfo { hasNextPage endCursor } } }"""
    best = await _all_pages(gql, query, "runs")
    model = await gql(query, after=None)

    assert best == ["trial-4", "trial-3", "trial-2", "trial-1"]
    assert model["runs"]["edges"][0]["node"]["model"]["id"] == pipeline.model


async def test_search_across_kinds(gql: GraphQLClient) -> None:
    pipeline = await record_pipeline(gql, runs=2)
    by_text = await gql('{ search(text: "housing") { nodes { kind name } } }')
    by_deployment_tag = await gql('{ search(deploymentTag: "prod", kinds: [MODEL]) { nodes { id } } }')
    by_attribute = await gql('{ search(attribute: {key: "source", value: "census"}) { nodes { id } } }')

    assert {(n["kind"], n["name"]) for n in by_text["search"]["nodes"]} == {
        ("PROJECT", "housing"),
        ("DATASET", "california-housing"),
        ("FEATURESET", "housing-features"),
    }
    assert by_deployment_tag["search"]["nodes"] == [{"id": pipeline.model}]
    assert by_attribute["search"]["nodes"] == [{"id": pipeline.dataset}]


async def test_project_summary_counts_the_projects_assets(gql: GraphQLClient) -> None:
    pipeline = await record_pipeline(gql, runs=3)
    await record_pipeline(gql, runs=2, prefix="other-")
    summary = await gql(
        "query($p: ID!) { projectSummary(projectId: $p) { project { name } models runs datasets featuresets deployments } }",
        p=pipeline.project,
    )
    assert summary["projectSummary"] == {
        "project": {"name": "housing"},
        "models": 1,
        "runs": 3,
        "datasets": 1,
        "featuresets": 1,
        "deployments": 1,
    }


async def test_node_and_nodes(gql: GraphQLClient) -> None:
    pipeline = await record_pipeline(gql, runs=1)
    unknown = encode_id("dataset/" + "0" * 32)
    nodes = await gql("query($ids: [ID!]!) { nodes(ids: $ids) { id kind } }", ids=[pipeline.model, unknown, pipeline.dataset])
    error = await gql.error("query($id: ID!) { node(id: $id) { id } }", id=unknown)

    assert nodes["nodes"] == [{"id": pipeline.model, "kind": "MODEL"}, None, {"id": pipeline.dataset, "kind": "DATASET"}]
    assert error["extensions"]["code"] == "NOT_FOUND"


LINEAGE = """query($id: ID!, $d: LineageDirection!, $depth: Int, $kinds: [NodeKind!], $limit: Int) {
  lineage(id: $id, direction: $d, depth: $depth, kinds: $kinds, limit: $limit) {
    root { id } nodes { depth direction node { id kind } } edges { kind from to } truncated } }"""


async def test_deployment_lineage_upstream(gql: GraphQLClient) -> None:
    p = await record_pipeline(gql, runs=2)
    lineage = (await gql(LINEAGE, id=p.deployment, d="UPSTREAM"))["lineage"]
    found = {(n["node"]["id"], n["depth"]) for n in lineage["nodes"]}

    # The deployment's model, featureset and params; the model's runs; what the runs used.
    assert found == {
        (p.model, 1),
        (p.featureset, 1),
        (p.params[0], 1),
        (p.runs[0], 2),
        (p.runs[1], 2),
        (p.dataset, 2),
        (p.params[1], 3),
    }
    assert lineage["truncated"] is False
    assert {"kind": "RUN_MODEL", "from": p.runs[1], "to": p.model} in lineage["edges"]
    assert all(n["direction"] == "UPSTREAM" for n in lineage["nodes"])


async def test_dataset_impact_downstream_reaches_the_deployments(gql: GraphQLClient) -> None:
    p = await record_pipeline(gql, runs=2)
    other = await record_pipeline(gql, runs=1, prefix="x-")
    impact = (await gql(LINEAGE, id=p.dataset, d="DOWNSTREAM", kinds=["DEPLOYMENT"]))["lineage"]

    assert [n["node"]["id"] for n in impact["nodes"]] == [p.deployment]
    assert other.deployment not in {n["node"]["id"] for n in impact["nodes"]}


async def test_lineage_limits(gql: GraphQLClient) -> None:
    p = await record_pipeline(gql, runs=3)
    cut = (await gql(LINEAGE, id=p.dataset, d="DOWNSTREAM", limit=2))["lineage"]
    shallow = (await gql(LINEAGE, id=p.deployment, d="UPSTREAM", depth=1))["lineage"]
    both = (await gql(LINEAGE, id=p.runs[1], d="BOTH", depth=1))["lineage"]

    assert cut["truncated"] is True and len(cut["nodes"]) == 2
    assert {n["depth"] for n in shallow["nodes"]} == {1}
    # A run's neighbours both ways, but never a sibling run that shares its dataset.
    assert {(n["node"]["kind"], n["direction"]) for n in both["nodes"]} == {
        ("DATASET", "UPSTREAM"),
        ("FEATURESET", "UPSTREAM"),
        ("MODELPARAMS", "UPSTREAM"),
        ("MODEL", "DOWNSTREAM"),
        ("DEVPERF", "DOWNSTREAM"),
    }


async def test_many_lineage_walks_with_their_edges_in_one_operation(gql: GraphQLClient) -> None:
    # SQLite allows 65,535 references to one table in a statement, and copies a named
    # table's definition wherever it is named: the edges of 24 walks once went past it.
    pipeline = await record_pipeline(gql, runs=2)
    picked = "{ nodes { node { id } } edges { kind from to } }"
    walks = " ".join(f"w{i}: lineage(id: $id, direction: BOTH, depth: {1 + i % 6}, limit: 10) {picked}" for i in range(24))
    data = await gql(f"query($id: ID!) {{ {walks} }}", id=pipeline.runs[0])
    one = await gql(f"query($id: ID!) {{ lineage(id: $id, direction: BOTH, depth: 6, limit: 10) {picked} }}", id=pipeline.runs[0])
    assert data["w5"] == one["lineage"]
    assert data["w5"]["edges"] and all(data[f"w{i}"]["edges"] for i in range(24))

"""User-defined kinds over every store adapter: an admin declares node and edge kinds,
writers log nodes of them (their attributes held to the kind's JSON Schema) and link
nodes by them, and lineage walks a declared edge the way its declaration says."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from metagate.gateway.auth import issue
from metagate.resolvers import kinds, registry
from metagate.resolvers.authz import Role
from metagate.resolvers.kinds import check_attributes
from metagate.store.errors import BadUserInput
from metagate.store.model import Edge, EdgeKindDecl, End, NodeKindDecl
from metagate.store.port import Store, Tx
from tests.conftest import GraphQLClient
from tests.pipeline import record_pipeline
from tests.test_relogging_runs import FirstWriteMisses

NODE_KIND = """mutation($i: DeclareNodeKindInput!) {
  declareNodeKind(input: $i) { created kind { name description schema createdAt } } }"""
EDGE_KIND = """mutation($i: DeclareEdgeKindInput!) {
  declareEdgeKind(input: $i) { created kind { name fromKind toKind upstream description } } }"""
LOG = """mutation($i: LogCustomNodeInput!) {
  logCustomNode(input: $i) { created node { id kind customKind name tags attributes } } }"""
LINK = """mutation($i: LinkNodesInput!) {
  linkNodes(input: $i) { created edge { kind customKind from to } } }"""
LINEAGE = """query($id: ID!, $d: LineageDirection!, $k: [NodeKind!]) {
  lineage(id: $id, direction: $d, depth: 12, kinds: $k) {
    nodes { depth direction node { id kind name ... on CustomNode { customKind } } }
    edges { kind customKind from to } } }"""

SOURCE_SCHEMA = {
    "type": "object",
    "properties": {"system": {"enum": ["postgres", "s3", "kafka"]}, "owner": {"type": "string"}},
    "required": ["system"],
}


async def _declare(gql: GraphQLClient, name: str, schema: Any = None) -> None:
    await gql(NODE_KIND, i={"name": name, "schema": schema})


async def _edge_kind(gql: GraphQLClient, name: str, from_kind: str, to_kind: str, upstream: str) -> None:
    await gql(EDGE_KIND, i={"name": name, "fromKind": from_kind, "toKind": to_kind, "upstream": upstream})


async def _log(gql: GraphQLClient, kind: str, name: str, **more: Any) -> dict[str, Any]:
    return dict((await gql(LOG, i={"kind": kind, "name": name, **more}))["logCustomNode"])


async def _lineage(gql: GraphQLClient, start: str, direction: str, kinds: list[str] | None = None) -> dict[str, Any]:
    return dict((await gql(LINEAGE, id=start, d=direction, k=kinds))["lineage"])


def _names(lineage: dict[str, Any]) -> set[str]:
    return {n["node"]["name"] for n in lineage["nodes"]}


async def test_a_declaration_is_stored_once_and_another_under_its_name_is_a_conflict(gql: GraphQLClient) -> None:
    first = await gql(NODE_KIND, i={"name": "source_system", "description": "Where raw data lives", "schema": SOURCE_SCHEMA})
    assert first["declareNodeKind"]["created"] is True
    assert first["declareNodeKind"]["kind"]["schema"] == SOURCE_SCHEMA
    again = await gql(NODE_KIND, i={"name": "source_system", "description": "Where raw data lives", "schema": SOURCE_SCHEMA})
    assert again["declareNodeKind"] == {**first["declareNodeKind"], "created": False}
    other = await gql.error(NODE_KIND, i={"name": "source_system", "schema": {"type": "object"}})
    assert other["extensions"]["code"] == "CONFLICT" and "description and schema" in other["message"]

    edge = await gql(EDGE_KIND, i={"name": "dataset_source", "fromKind": "dataset", "toKind": "source_system", "upstream": "TO"})
    assert edge["declareEdgeKind"] == {
        "created": True,
        "kind": {
            "name": "dataset_source",
            "fromKind": "dataset",
            "toKind": "source_system",
            "upstream": "TO",
            "description": None,
        },
    }
    turned = await gql.error(
        EDGE_KIND, i={"name": "dataset_source", "fromKind": "dataset", "toKind": "source_system", "upstream": "FROM"}
    )
    assert turned["extensions"]["code"] == "CONFLICT" and "upstream" in turned["message"]

    listed = await gql("{ nodeKinds { name } edgeKinds { name upstream } }")
    assert listed == {"nodeKinds": [{"name": "source_system"}], "edgeKinds": [{"name": "dataset_source", "upstream": "TO"}]}


async def test_a_bad_declaration_is_refused_with_the_field_named_and_nothing_is_stored(gql: GraphQLClient) -> None:
    for i, field in (
        ({"name": "dataset"}, "name"),  # a built-in kind's name
        ({"name": "custom"}, "name"),
        ({"name": "Has-Dashes"}, "name"),
        ({"name": "report", "schema": {"type": "no-such-type"}}, "schema"),
        ({"name": "report", "schema": {"properties": {"x": {"minimum": "zero"}}}}, "schema"),
    ):
        error = await gql.error(NODE_KIND, i=i)
        assert error["extensions"]["code"] == "BAD_USER_INPUT" and error["extensions"]["field"] == field, (i, error)
    for i, field in (
        ({"name": "e", "fromKind": "dataset", "toKind": "nowhere", "upstream": "TO"}, "toKind"),
        ({"name": "e", "fromKind": "custom", "toKind": "dataset", "upstream": "TO"}, "fromKind"),
        ({"name": "e-1", "fromKind": "dataset", "toKind": "dataset", "upstream": "TO"}, "name"),
    ):
        error = await gql.error(EDGE_KIND, i=i)
        assert error["extensions"]["code"] == "BAD_USER_INPUT" and error["extensions"]["field"] == field, (i, error)
    assert await gql("{ nodeKinds { name } edgeKinds { name } }") == {"nodeKinds": [], "edgeKinds": []}


async def test_a_schemas_references_resolve_within_it_and_nothing_is_fetched(gql: GraphQLClient) -> None:
    with_defs = {
        "$defs": {"owner": {"$anchor": "owner", "type": "string", "minLength": 2}},
        "properties": {"owner": {"$ref": "#/$defs/owner"}, "backup": {"$ref": "#owner"}},
    }
    await _declare(gql, "team", with_defs)
    refused = await gql.error(LOG, i={"kind": "team", "name": "ml", "attributes": {"backup": "x"}})
    assert refused["extensions"]["code"] == "BAD_USER_INPUT" and "attributes/backup" in refused["message"]
    for ref in ("#/$defs/missing", "#nowhere", "http://127.0.0.1:9/owner.json", "other.json#/owner"):
        schema = {"properties": {"owner": {"items": {"$ref": ref}}}}
        error = await gql.error(NODE_KIND, i={"name": "report", "schema": schema})
        assert error["extensions"]["code"] == "BAD_USER_INPUT" and error["extensions"]["field"] == "schema", (ref, error)
        assert ref in error["message"] and "properties/owner/items" in error["message"], error
    assert [k["name"] for k in (await gql("{ nodeKinds { name } }"))["nodeKinds"]] == ["team"]


def test_a_stored_schema_whose_reference_leaves_it_refuses_attributes_without_fetching() -> None:
    # A declaration stored before references were checked: writing is refused, not fetched.
    kind = NodeKindDecl("legacy", None, {"properties": {"s": {"$ref": "http://127.0.0.1:9/s.json"}}}, "2026-12-01T00:00:00Z")
    with pytest.raises(BadUserInput, match="does not resolve"):
        check_attributes(kind, {"s": 1})


async def test_declarations_are_listed_in_name_order_by_code_point(gql: GraphQLClient) -> None:
    for name in ("report_2", "report_a", "report2", "report"):
        await _declare(gql, name)
    listed = await gql("{ nodeKinds { name } }")
    assert [k["name"] for k in listed["nodeKinds"]] == ["report", "report2", "report_2", "report_a"]


async def test_declaring_takes_an_admin(gql: GraphQLClient, store: Store) -> None:
    writer = await issue(store, name="pipeline", role=Role.WRITER)
    as_writer = GraphQLClient(gql.http, writer.secret)
    error = await as_writer.error(NODE_KIND, i={"name": "report"})
    assert error["extensions"]["code"] == "FORBIDDEN"
    await _declare(gql, "report")
    logged = await as_writer(LOG, i={"kind": "report", "name": "weekly"})
    assert logged["logCustomNode"]["created"] is True


async def test_a_custom_node_is_logged_once_by_name_within_its_kind_and_its_attributes_meet_the_schema(
    gql: GraphQLClient,
) -> None:
    await _declare(gql, "source_system", SOURCE_SCHEMA)
    await _declare(gql, "team")
    logged = await _log(gql, "source_system", "warehouse", attributes={"system": "postgres", "owner": "data-eng"}, tags=["prod"])
    node = logged["node"]
    assert logged["created"] is True
    assert (node["kind"], node["customKind"], node["name"], node["tags"]) == ("CUSTOM", "source_system", "warehouse", ["prod"])
    again = await _log(gql, "source_system", "warehouse", attributes={"system": "postgres"})
    assert again["created"] is False and again["node"] == node
    # The same name in another kind is another node.
    other = await _log(gql, "team", "warehouse")
    assert other["created"] is True and other["node"]["id"] != node["id"]

    bad = await gql.error(LOG, i={"kind": "source_system", "name": "lake", "attributes": {"system": "ftp"}})
    assert bad["extensions"]["code"] == "BAD_USER_INPUT" and bad["extensions"]["field"] == "attributes"
    assert "attributes/system" in bad["message"] and "source_system" in bad["message"]
    missing = await gql.error(LOG, i={"kind": "source_system", "name": "lake", "attributes": {"owner": "x"}})
    assert "'system' is a required property" in missing["message"]
    unknown = await gql.error(LOG, i={"kind": "no_such_kind", "name": "lake"})
    assert unknown["extensions"]["code"] == "NOT_FOUND" and unknown["extensions"]["field"] == "kind"

    listed = await gql('{ customNodes(kind: "source_system") { nodes { id name attributes } } }')
    assert listed["customNodes"]["nodes"] == [{"id": node["id"], "name": "warehouse", "attributes": node["attributes"]}]
    found = await gql("query($id: ID!) { node(id: $id) { __typename ... on CustomNode { customKind name } } }", id=node["id"])
    assert found["node"] == {"__typename": "CustomNode", "customKind": "source_system", "name": "warehouse"}

    # updateAttributes is held to the schema too: what it would leave, not only what it adds.
    update = "mutation($i: UpdateAttributesInput!) { updateAttributes(input: $i) { node { attributes } } }"
    refused = await gql.error(update, i={"id": node["id"], "attributes": {"system": "tape"}})
    assert refused["extensions"]["code"] == "BAD_USER_INPUT"
    replaced = await gql.error(update, i={"id": node["id"], "attributes": {"owner": "ml"}, "replace": True})
    assert "'system' is a required property" in replaced["message"]
    merged = await gql(update, i={"id": node["id"], "attributes": {"owner": "ml"}})
    assert merged["updateAttributes"]["node"]["attributes"] == {"system": "postgres", "owner": "ml"}


async def test_links_must_join_the_kinds_declared_and_a_refused_call_writes_nothing(gql: GraphQLClient) -> None:
    pipeline = await record_pipeline(gql, runs=1)
    await _declare(gql, "source_system")
    await _declare(gql, "team")
    await _edge_kind(gql, "dataset_source", "dataset", "source_system", "TO")
    await _edge_kind(gql, "owned_by", "source_system", "team", "NONE")
    team = (await _log(gql, "team", "data-eng"))["node"]["id"]

    # A source linked to the wrong kind: the dataset_source edge's from end is a dataset.
    wrong = await gql.error(
        LOG, i={"kind": "source_system", "name": "warehouse", "links": [{"edgeKind": "dataset_source", "fromId": team}]}
    )
    assert wrong["extensions"]["code"] == "BAD_USER_INPUT" and "from end is a dataset, not a team" in wrong["message"]
    undeclared = await gql.error(
        LOG, i={"kind": "source_system", "name": "warehouse", "links": [{"edgeKind": "feeds", "fromId": pipeline.dataset}]}
    )
    assert undeclared["extensions"]["code"] == "NOT_FOUND" and undeclared["extensions"]["field"] == "links[0].edgeKind"
    both = await gql.error(
        LOG, i={"kind": "source_system", "name": "warehouse", "links": [{"edgeKind": "owned_by", "fromId": team, "toId": team}]}
    )
    assert both["extensions"]["code"] == "BAD_USER_INPUT"
    assert (await gql('{ customNodes(kind: "source_system") { nodes { id } } }'))["customNodes"]["nodes"] == []

    logged = await _log(
        gql,
        "source_system",
        "warehouse",
        links=[{"edgeKind": "dataset_source", "fromId": pipeline.dataset}, {"edgeKind": "owned_by", "toId": team}],
    )
    source = logged["node"]["id"]
    # Logged again with the same links: nothing new; linkNodes of a stored edge: created false.
    assert (await _log(gql, "source_system", "warehouse", links=[{"edgeKind": "owned_by", "toId": team}]))["created"] is False
    linked = await gql(LINK, i={"edgeKind": "dataset_source", "fromId": pipeline.dataset, "toId": source})
    assert linked["linkNodes"] == {
        "created": False,
        "edge": {"kind": "CUSTOM", "customKind": "dataset_source", "from": pipeline.dataset, "to": source},
    }
    turned = await gql.error(LINK, i={"edgeKind": "dataset_source", "fromId": source, "toId": pipeline.dataset})
    assert turned["extensions"]["code"] == "BAD_USER_INPUT"

    # Lineage walks the lineage edge (the dataset was derived from its source) and not the grouping one.
    up = await _lineage(gql, pipeline.dataset, "UPSTREAM")
    assert [(n["node"]["id"], n["depth"], n["node"]["kind"]) for n in up["nodes"]] == [(source, 1, "CUSTOM")]
    assert up["edges"] == [{"kind": "CUSTOM", "customKind": "dataset_source", "from": pipeline.dataset, "to": source}]
    assert _names(await _lineage(gql, source, "UPSTREAM")) == set()


async def test_lineage_runs_from_a_declared_source_through_the_pipeline_to_a_declared_report(gql: GraphQLClient) -> None:
    pipeline = await record_pipeline(gql, runs=1)
    await _declare(gql, "source_system")
    await _declare(gql, "drift_report")
    await _edge_kind(gql, "dataset_source", "dataset", "source_system", "TO")
    # Declared the other way round: the deployment end is upstream of the report's.
    await _edge_kind(gql, "monitors", "deployment", "drift_report", "FROM")
    source = await _log(gql, "source_system", "warehouse", links=[{"edgeKind": "dataset_source", "fromId": pipeline.dataset}])
    report = await _log(gql, "drift_report", "week-48", links=[{"edgeKind": "monitors", "fromId": pipeline.deployment}])
    source_id, report_id = source["node"]["id"], report["node"]["id"]

    down = await _lineage(gql, source_id, "DOWNSTREAM")
    assert {"california-housing", "housing-features", "week-48"} <= _names(down)
    assert {n["node"]["id"]: n["depth"] for n in down["nodes"]}[report_id] > 3
    custom = [e for e in down["edges"] if e["kind"] == "CUSTOM"]
    assert custom == [
        {"kind": "CUSTOM", "customKind": "dataset_source", "from": pipeline.dataset, "to": source_id},
        {"kind": "CUSTOM", "customKind": "monitors", "from": pipeline.deployment, "to": report_id},
    ] or custom == [
        {"kind": "CUSTOM", "customKind": "monitors", "from": pipeline.deployment, "to": report_id},
        {"kind": "CUSTOM", "customKind": "dataset_source", "from": pipeline.dataset, "to": source_id},
    ]
    up = await _lineage(gql, report_id, "UPSTREAM")
    assert {"warehouse", "california-housing", "housing-features"} <= _names(up)
    assert pipeline.deployment in {n["node"]["id"] for n in up["nodes"] if n["depth"] == 1}

    # Kinds filters: the built-in steps a filter leaves out may lead to a declared edge.
    only_custom = await _lineage(gql, report_id, "UPSTREAM", ["CUSTOM"])
    assert [n["node"]["id"] for n in only_custom["nodes"]] == [source_id]
    deployments = await _lineage(gql, source_id, "DOWNSTREAM", ["DEPLOYMENT"])
    assert [n["node"]["id"] for n in deployments["nodes"]] == [pipeline.deployment]
    both = await _lineage(gql, pipeline.runs[0], "BOTH", ["CUSTOM"])
    assert {(n["node"]["id"], n["direction"]) for n in both["nodes"]} == {(source_id, "UPSTREAM"), (report_id, "DOWNSTREAM")}


async def test_a_declared_edge_from_a_kind_a_filter_would_skip_is_walked(gql: GraphQLClient) -> None:
    # Nothing built-in leads from a run's dev perf to a dataset: an export of the
    # evaluation, declared as derived from the dev perf, is found all the same.
    pipeline = await record_pipeline(gql, runs=1)
    await _edge_kind(gql, "exported_from", "dataset", "devperf", "TO")
    export = await gql('mutation { registerDataset(input: {name: "eval-export"}) { dataset { id } } }')
    export_id = export["registerDataset"]["dataset"]["id"]
    await gql(LINK, i={"edgeKind": "exported_from", "fromId": export_id, "toId": pipeline.perfs[0]})
    found = await _lineage(gql, pipeline.runs[0], "DOWNSTREAM", ["DATASET"])
    assert [n["node"]["id"] for n in found["nodes"]] == [export_id]


class _MissesDeclared:
    """A transaction that does not find the declarations named, nor (with ``edges``) any
    stored edge, as one that read before a concurrent writer committed them would."""

    def __init__(self, tx: Tx, names: set[str], *, edges: bool = False) -> None:
        self.tx = tx
        self.names = names
        self.edges = edges

    def __getattr__(self, name: str) -> Any:
        return getattr(self.tx, name)

    async def declared_kinds(self) -> tuple[list[NodeKindDecl], list[EdgeKindDecl]]:
        nodes, edges = await self.tx.declared_kinds()
        return [k for k in nodes if k.name not in self.names], [k for k in edges if k.name not in self.names]

    async def stored_edges(self, edges: Sequence[Edge]) -> list[str | None]:
        return [None] * len(edges) if self.edges else await self.tx.stored_edges(edges)


async def test_a_declaration_or_link_a_racing_writer_made_first_is_answered_as_existing(store: Store) -> None:
    source = await kinds.declare_node_kind(store, name="source_system")
    lineage = await kinds.declare_edge_kind(
        store, name="dataset_source", from_kind="dataset", to_kind="source_system", upstream=End.TO
    )
    dataset = await registry.register_dataset(store, name="raw")
    warehouse = await kinds.log_custom_node(store, kind="source_system", name="warehouse")
    link = await kinds.link_nodes(store, edge_kind="dataset_source", from_id=dataset.node.id, to_id=warehouse.node.id)
    before = await store.count_all()

    def racing(names: set[str], *, edges: bool = False) -> FirstWriteMisses:
        return FirstWriteMisses(store, lambda tx: _MissesDeclared(tx, names, edges=edges))

    # Each first transaction meets the unique index the racing writer filled and is run
    # again, which finds what the racer wrote.
    raced = racing({"source_system"})
    node_kind = await kinds.declare_node_kind(raced, name="source_system")
    assert (raced.transactions, node_kind.created, node_kind.kind) == (2, False, source.kind)
    raced = racing({"dataset_source"})
    edge_kind = await kinds.declare_edge_kind(
        raced, name="dataset_source", from_kind="dataset", to_kind="source_system", upstream=End.TO
    )
    assert (raced.transactions, edge_kind.created, edge_kind.kind) == (2, False, lineage.kind)
    raced = racing(set(), edges=True)
    linked = await kinds.link_nodes(raced, edge_kind="dataset_source", from_id=dataset.node.id, to_id=warehouse.node.id)
    assert (raced.transactions, linked.created, linked.edge) == (2, False, link.edge)
    raced = racing(set(), edges=True)
    relogged = await kinds.log_custom_node(
        raced, kind="source_system", name="warehouse", links=[kinds.LinkSpec("dataset_source", from_id=dataset.node.id)]
    )
    assert (raced.transactions, relogged.created, relogged.node) == (2, False, warehouse.node)
    assert await store.count_all() == before

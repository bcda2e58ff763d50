"""The ArangoDB adapter's translation to and from Arangopipe's layout; no server needed."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from metagate.store import arango_layout as layout
from metagate.store.arango_init import indexes
from metagate.store.model import EDGE_KINDS, Direction, Edge, EdgeKindDecl, End, Kind, Node, NodeKindDecl, Step, format_time

ARANGOPIPE_VERTICES = {
    "project",
    "models",
    "datasets",
    "featuresets",
    "modelparams",
    "run",
    "devperf",
    "servingperf",
    "deployment",
}
ARANGOPIPE_EDGES = {
    "project_models",
    "run_models",
    "run_modelparams",
    "run_datasets",
    "run_devperf",
    "run_featuresets",
    "deployment_servingperf",
    "deployment_model",
    "deployment_modelparams",
    "deployment_featureset",
    "featureset_dataset",
}
# The information hub's collections, beside Arangopipe's (which keep their names).
HUB_VERTICES = {"modelversions", "jobs", "steps", "metagate_custom_nodes"}
HUB_EDGES = {
    "modelversion_model",
    "modelversion_run",
    "deployment_modelversion",
    "job_project",
    "job_model",
    "job_deployment",
    "job_replayof",
    "run_job",
}
# A step's edges: what it read and wrote of each kind, and what it belongs to.
STEP_ASSETS = ("dataset", "featureset", "modelversion", "model", "deployment")
STEP_EDGES = {f"step_{way}_{asset}" for way in ("input", "output") for asset in STEP_ASSETS}
STEP_EDGES |= {"step_job", "step_run", "step_parent"}


def test_every_kind_and_edge_kind_has_its_arangopipe_collection() -> None:
    assert set(layout.VERTEX_COLLECTIONS) == set(Kind)
    assert set(layout.VERTEX_COLLECTIONS.values()) == ARANGOPIPE_VERTICES | HUB_VERTICES
    assert {e.name for e in layout.EDGE_COLLECTIONS.values()} == ARANGOPIPE_EDGES | HUB_EDGES | STEP_EDGES
    assert layout.GRAPH == "enterprise_ml_graph"


def test_run_models_is_stored_model_to_run_under_arangopipes_run_model_key() -> None:
    edge = Edge("run_model", "run/r1", "model/m1", "2026-11-23T00:00:00.000000Z")
    collection, doc = layout.to_edge_document(edge)

    assert collection == "run_models"
    # Arangopipe's log_run writes this link as _key "<runKey>-<modelKey>", _from the model,
    # _to the run: the same link written by both is one edge.
    assert (doc["_from"], doc["_to"], doc["_key"]) == ("models/m1", "run/r1", "r1-m1")
    assert layout.from_edge_document(collection, {**doc, "_id": "run_models/r1-m1"}) == edge
    assert layout.EDGE_COLLECTIONS["run_model"].from_collection == "models"


def test_other_edges_keep_their_direction_and_fromkey_tokey_keys() -> None:
    edge = Edge("featureset_dataset", "featureset/f1", "dataset/d1", "2026-11-23T00:00:00.000000Z")
    collection, doc = layout.to_edge_document(edge)
    assert collection == "featureset_dataset"
    assert (doc["_from"], doc["_to"], doc["_key"]) == ("featuresets/f1", "datasets/d1", "f1-d1")
    assert layout.from_edge_document(collection, doc) == edge


def test_physical_directions_flip_only_for_reversed_collections() -> None:
    assert layout.physical_direction("featureset_dataset", Step.OUT) == "OUTBOUND"
    assert layout.physical_direction("featureset_dataset", Step.IN) == "INBOUND"
    # run -> model logically, model -> run on disk.
    assert layout.physical_direction("run_model", Step.OUT) == "INBOUND"
    assert layout.physical_direction("run_model", Step.IN) == "OUTBOUND"


def test_traversal_directions_follow_the_direction_table() -> None:
    upstream = dict(layout.traversal(Direction.UPSTREAM))
    downstream = dict(layout.traversal(Direction.DOWNSTREAM))

    # Written out from DESIGN.md: upstream of a model are its runs (stored model -> run),
    # of a run its dataset, featureset and params, of a devperf its run.
    assert upstream == {
        "featureset_dataset": "OUTBOUND",
        "run_datasets": "OUTBOUND",
        "run_featuresets": "OUTBOUND",
        "run_modelparams": "OUTBOUND",
        "run_models": "OUTBOUND",
        "run_devperf": "INBOUND",
        "deployment_model": "OUTBOUND",
        "deployment_featureset": "OUTBOUND",
        "deployment_modelparams": "OUTBOUND",
        "deployment_servingperf": "INBOUND",
        # a model version's run; a deployment's version
        "modelversion_run": "OUTBOUND",
        "deployment_modelversion": "OUTBOUND",
        # a replay's original job; a run's train job
        "job_replayof": "OUTBOUND",
        "run_job": "OUTBOUND",
        # a step's inputs are upstream of it (stored step -> input); it is upstream of its
        # outputs (stored step -> output)
        **{f"step_input_{asset}": "OUTBOUND" for asset in STEP_ASSETS},
        **{f"step_output_{asset}": "INBOUND" for asset in STEP_ASSETS},
        # every declared lineage edge, stored from the end derived to the upstream end
        "metagate_custom_lineage": "OUTBOUND",
    }
    assert downstream == {c: ("INBOUND" if d == "OUTBOUND" else "OUTBOUND") for c, d in upstream.items()}
    assert "project_models" not in upstream
    assert "modelversion_model" not in upstream
    assert not {"step_job", "step_run", "step_parent"} & set(upstream)
    assert "metagate_custom_links" not in upstream


def test_a_declared_lineage_edge_is_stored_from_the_end_derived_and_read_back_as_logged() -> None:
    at = "2026-12-02T00:00:00.000000Z"
    # A dataset derived from a source system (upstream: TO): stored as it is.
    source = Edge("custom:dataset_source", "dataset/d1", "custom/s1", at, upstream=End.TO)
    collection, doc = layout.to_edge_document(source)
    assert collection == "metagate_custom_lineage"
    assert (doc["_from"], doc["_to"], doc["_key"]) == ("datasets/d1", "metagate_custom_nodes/s1", "dataset_source-d1-s1")
    assert (doc["kind"], doc["reversed"]) == ("dataset_source", False)
    assert layout.from_edge_document(collection, doc) == source
    # A report of a deployment declared deployment -> report with the deployment upstream
    # (upstream: FROM): stored report -> deployment, reversed, and read back as declared.
    report = Edge("custom:monitors", "deployment/p1", "custom/r1", at, upstream=End.FROM)
    collection, doc = layout.to_edge_document(report)
    assert collection == "metagate_custom_lineage"
    assert (doc["_from"], doc["_to"], doc["reversed"]) == ("metagate_custom_nodes/r1", "deployment/p1", True)
    back = layout.from_edge_document(collection, doc)
    assert (back, back.upstream) == (report, End.FROM)
    # Grouping only: apart, as logged, never walked.
    owned = Edge("custom:owned_by", "custom/s1", "custom/t1", at)
    collection, doc = layout.to_edge_document(owned)
    assert (collection, doc["_from"], doc["_to"]) == (
        "metagate_custom_links",
        "metagate_custom_nodes/s1",
        "metagate_custom_nodes/t1",
    )
    assert layout.from_edge_document(collection, doc) == owned
    assert layout.edge_document_id(owned) == "metagate_custom_links/owned_by-s1-t1"


def test_declarations_round_trip_under_their_names() -> None:
    node_kind = NodeKindDecl("source_system", "raw data", {"type": "object"}, "2026-12-02T00:00:00.000000Z")
    edge_kind = EdgeKindDecl("monitors", "deployment", "drift_report", End.FROM, None, "2026-12-02T00:00:00.000000Z")
    assert layout.to_node_kind_document(node_kind)["_key"] == "source_system"
    assert layout.from_node_kind_document(layout.to_node_kind_document(node_kind)) == node_kind
    assert layout.to_edge_kind_document(edge_kind)["upstream"] == "from"
    assert layout.from_edge_kind_document(layout.to_edge_kind_document(edge_kind)) == edge_kind


def test_ids_map_between_kinds_and_collections() -> None:
    assert layout.document_id("model/abc") == "models/abc"
    assert layout.node_id("models/abc") == "model/abc"
    assert layout.document_id("run/abc") == "run/abc"


def test_metagate_documents_round_trip_with_arangopipe_field_names() -> None:
    run = Node(
        id="run/r1",
        kind=Kind.RUN,
        name="trial-1",
        created_at="2026-11-23T10:00:00.000000Z",
        scope="model/m1",
        tags=("nightly",),
        attributes={"git": "abc123"},
        fields={"status": "COMPLETED", "tag": "search", "deploymentTag": "prod-v1"},
    )
    doc = layout.to_document(run)

    assert doc["_key"] == "r1"
    assert doc["tag"] == "search" and doc["deployment_tag"] == "prod-v1"
    assert doc["fields"] == {"status": "COMPLETED"}
    assert layout.from_document({**doc, "_id": "run/r1"}) == run


def test_documents_written_by_arangopipe_are_served_as_they_are() -> None:
    node = layout.from_document(
        {
            "_id": "run/7",
            "_key": "7",
            "_rev": "x",
            "name": "housing-run",
            "tag": "exp-3",
            "deployment_tag": "Housing_Regressor_Dep",
            "run_id": "c1f2",
            "timestamp": "2021-01-01 10:00",
        }
    )
    assert node.id == "run/7" and node.kind is Kind.RUN and node.name == "housing-run"
    assert node.fields == {"tag": "exp-3", "deploymentTag": "Housing_Regressor_Dep"}
    assert node.attributes == {"run_id": "c1f2", "timestamp": "2021-01-01 10:00"}
    assert node.created_at == layout.UNKNOWN_TIME


def test_init_db_builds_every_index_in_the_background() -> None:
    # A live database keeps taking writes while init-db builds its indexes.
    assert {i.options()["inBackground"] for i in indexes()} == {True}
    assert {(i.options()["name"], i.options()["unique"]) for i in indexes() if i.collection == "run"} >= {
        ("metagate_deployment_tag", True),
        ("metagate_tag", False),
    }


def test_init_db_makes_serving_periods_unique_per_deployment_on_the_fields_metagate_writes() -> None:
    [index] = [i for i in indexes() if i.name == "metagate_serving_period"]
    # Sparse: documents Arangopipe wrote carry no scope or period fields and stay unconstrained.
    assert (index.collection, index.unique, index.sparse) == ("servingperf", True, True)
    node = Node(
        id="servingperf/s1",
        kind=Kind.SERVINGPERF,
        name=None,
        created_at="2026-11-10T00:00:00.000000Z",
        scope="deployment/d1",
        fields={"periodStart": "2026-11-02T00:00:00.000000Z", "periodEnd": "2026-11-09T00:00:00.000000Z", "metrics": {}},
    )
    doc = layout.to_document(node)

    def at(path: str) -> object:
        value: object = doc
        for part in path.split("."):
            assert isinstance(value, dict)
            value = value[part]
        return value

    assert [at(path) for path in index.fields] == ["deployment/d1", "2026-11-02T00:00:00.000000Z", "2026-11-09T00:00:00.000000Z"]
    assert layout.SERVING_DUPLICATES_COLLECTION not in layout.VERTEX_COLLECTIONS.values()


def test_neighbor_pages_come_back_in_request_order_each_cut_to_its_own_size() -> None:
    from metagate.store.arango import neighbor_pages
    from metagate.store.arango_aql import neighbor_groups
    from metagate.store.port import NeighborRequest

    def run(i: int) -> dict[str, object]:
        node = Node(id=f"run/r{i}", kind=Kind.RUN, name=f"t{i}", created_at=f"2026-11-0{i}T00:00:00.000000Z", scope="model/m")
        return {"_id": layout.document_id(node.id), **layout.to_document(node)}  # as the server stores it

    requests = [
        NeighborRequest("model/m", "run_model", Step.IN, 2),
        NeighborRequest("dataset/d", "run_dataset", Step.IN, 5),
        NeighborRequest("model/n", "run_model", Step.IN, 1),
    ]
    assert neighbor_groups(requests) == [[0, 2], [1]]
    # As the query answers: per group, per request, newest first, the group's largest page + 1.
    answered = [
        [[run(i) for i in (3, 2, 1)], [run(4)]],
        [[run(i) for i in (2, 1)]],
    ]
    pages = neighbor_pages(requests, answered)
    assert [[n.id for n, _ in p.items] for p in pages] == [["run/r3", "run/r2"], ["run/r2", "run/r1"], ["run/r4"]]
    assert [p.has_next for p in pages] == [True, False, False]
    assert pages[0].items[0][1] == ("2026-11-03T00:00:00.000000Z", "run/r3")


def test_every_collection_lists_in_the_order_of_an_index() -> None:
    # list_nodes sorts each kind's page by (createdAt, _key): an index in that order.
    paged = {i.collection for i in indexes() if i.fields == ("createdAt", "_key")}
    assert paged == set(layout.VERTEX_COLLECTIONS.values())


def test_a_nodes_typed_fields_are_written_where_arangopipe_reads_them() -> None:
    # A deployment's tag is Arangopipe's top-level field; its status is Metagate's own.
    assert layout.field_changes(Kind.DEPLOYMENT, {"tag": "prod", "status": "RETIRED"}) == {
        "fields": {"status": "RETIRED"},
        "tag": "prod",
    }
    assert layout.field_changes(Kind.MODEL, {"lastVersion": 3}) == {"fields": {"lastVersion": 3}}


def test_history_entries_keep_their_keys_unique_per_subject_topic_and_number() -> None:
    from metagate.store.port import HistoryEntry

    entry = HistoryEntry("deployment/d1", "servedVersion", 2, "2026-12-01T00:00:00.000000Z", {"version": "modelversion/v"})
    doc = layout.to_history_document(entry)
    assert layout.from_history_document(doc) == entry
    assert doc["_key"] == layout.to_history_document(HistoryEntry("deployment/d1", "servedVersion", 2, "later", None))["_key"]
    assert doc["_key"] != layout.to_history_document(HistoryEntry("deployment/d1", "servedVersion", 3, "x", None))["_key"]
    assert any(i.collection == "metagate_history" and i.unique and i.fields == ("subject", "topic", "seq") for i in indexes())


def test_lineage_keeps_the_declared_edges_the_walk_stepped_along() -> None:
    from metagate.store.arango import _walked
    from metagate.store.port import LineageNode, LineageQuery

    at = "2026-12-02T00:00:00.000000Z"

    def reached(node_id: str, kind: Kind, depth: int, direction: Direction) -> LineageNode:
        return LineageNode(Node(id=node_id, kind=kind, name=node_id, created_at=at), depth, direction)

    # Upstream of a dataset: its source system (declared dataset -> source, upstream TO)
    # and the report that watches a deployment (declared deployment -> report, upstream FROM).
    source = Edge("custom:dataset_source", "dataset/d1", "custom/s1", at, upstream=End.TO)
    report = Edge("custom:monitors", "deployment/p1", "custom/r1", at, upstream=End.FROM)
    owned = Edge("custom:owned_by", "dataset/d1", "custom/t1", at)
    up = LineageQuery(start="dataset/d1", direction=Direction.UPSTREAM, depth=3, limit=10)
    kept = {"custom/s1": reached("custom/s1", Kind.CUSTOM, 1, Direction.UPSTREAM)}
    assert _walked(source, up, kept)
    kept["custom/t1"] = reached("custom/t1", Kind.CUSTOM, 1, Direction.UPSTREAM)
    assert not _walked(owned, up, kept)  # grouping only: never walked
    down = LineageQuery(start="deployment/p1", direction=Direction.DOWNSTREAM, depth=1, limit=10)
    assert _walked(report, down, {"custom/r1": reached("custom/r1", Kind.CUSTOM, 1, Direction.DOWNSTREAM)})


# --------------------------------------------------------------------------------------
# Soft delete: a deleted node's document (arango_layout's doc).
# --------------------------------------------------------------------------------------

DELETED_AT = "2026-12-05T10:00:00.000000Z"


def _nodes_of_every_unique_value() -> list[Node]:
    """A node of each kind whose values a unique index holds: named in a scope, a run's
    deployment tag, a deployment's tag, a serving period."""
    at = "2026-11-23T10:00:00.000000Z"
    return [
        Node(
            id="run/r1",
            kind=Kind.RUN,
            name="trial-1",
            created_at=at,
            scope="model/m1",
            tags=("nightly",),
            attributes={"git": "abc123"},
            fields={"status": "COMPLETED", "tag": "search", "deploymentTag": "prod-v1"},
        ),
        Node(id="deployment/d1", kind=Kind.DEPLOYMENT, name="prod", created_at=at, scope="project/p1", fields={"tag": "p-1"}),
        Node(
            id="servingperf/s1",
            kind=Kind.SERVINGPERF,
            name=None,
            created_at=at,
            scope="deployment/d1",
            fields={"periodStart": "2026-11-02T00:00:00.000000Z", "periodEnd": "2026-11-09T00:00:00.000000Z", "metrics": {}},
        ),
        Node(id="dataset/x1", kind=Kind.DATASET, name="raw", created_at=at, tags=("a", "b"), attributes={"rows": 3}),
    ]


def _at(doc: dict[str, object], path: str) -> object:
    value: object = doc
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def test_a_deleted_nodes_document_gives_back_the_node_with_its_real_scope_tags_and_fields() -> None:
    for live in _nodes_of_every_unique_value():
        deleted = replace(live, deleted_at=DELETED_AT, deleted_reason="a duplicate")
        doc = {"_id": layout.document_id(live.id), "_rev": "r", **layout.to_document(deleted)}
        assert layout.from_document(doc) == deleted
        assert (doc[layout.DELETED_AT], doc[layout.DELETED_REASON]) == (DELETED_AT, "a duplicate")
        # Its unique values are set aside, and null where the indexes read them.
        aside = layout.aside_attributes(live.kind)
        assert doc[layout.DELETED_ASIDE] == {a: v for a, v in layout.to_document(live).items() if a in aside}
        assert [doc[a] for a in aside] == [None] * len(aside)
        # The node's attributes are its own, not the deletion's.
        assert layout.from_document(doc).attributes == live.attributes
    # A live node's document has none of it.
    live = _nodes_of_every_unique_value()[0]
    assert not {layout.DELETED_AT, layout.DELETED_REASON, layout.DELETED_ASIDE} & set(layout.to_document(live))
    assert layout.from_document({"_id": "run/r1", **layout.to_document(live)}).deleted_at is None


def test_a_deleted_document_leaves_every_sparse_unique_index_and_a_live_one_is_in_it() -> None:
    by_kind = {n.kind: n for n in _nodes_of_every_unique_value()}
    unique = [i for i in indexes() if i.unique and i.collection in layout.KINDS_BY_COLLECTION]
    assert {i.name for i in unique} == {
        "metagate_scoped_name",
        "metagate_deployment_tag",
        "metagate_tag",
        "metagate_serving_period",
    }
    for index in unique:
        kind = layout.KINDS_BY_COLLECTION[index.collection]
        # Sparse: a document with a null field is not in it.
        assert index.sparse, index
        # Each reads an attribute set aside (its scope, a run's deployment tag, a
        # deployment's tag), whatever the node holds.
        assert {f.split(".")[0] for f in index.fields} & set(layout.aside_attributes(kind)), index
        node = by_kind.get(kind)
        if node is None:
            continue
        live = layout.to_document(node)
        deleted = layout.to_document(replace(node, deleted_at=DELETED_AT))
        if index.name != "metagate_scoped_name" or node.name is not None:
            assert None not in [_at(live, f) for f in index.fields], index
        assert None in [_at(deleted, f) for f in index.fields], index


def test_a_document_arangopipe_wrote_deleted_keeps_its_attributes_and_values_set_aside() -> None:
    doc = {
        "_id": "run/7",
        "_key": "7",
        "name": "housing-run",
        "tag": "exp-3",
        "deployment_tag": None,
        "run_id": "c1f2",
        "scope": None,
        layout.DELETED_AT: DELETED_AT,
        layout.DELETED_REASON: None,
        layout.DELETED_ASIDE: {"deployment_tag": "Housing_Regressor_Dep"},
    }
    node = layout.from_document(doc)
    assert node.fields == {"tag": "exp-3", "deploymentTag": "Housing_Regressor_Dep"}
    assert node.attributes == {"run_id": "c1f2"}
    assert (node.scope, node.deleted_at, node.deleted_reason) == ("", DELETED_AT, None)


def test_init_db_indexes_deleted_nodes_by_when_they_were_deleted() -> None:
    deleted = [i for i in indexes() if i.name == "metagate_deleted"]
    assert {i.collection for i in deleted} == set(layout.VERTEX_COLLECTIONS.values())
    # Sparse (live nodes have no deletedAt), not unique (many may be deleted at once).
    assert {(i.fields, i.unique, i.sparse) for i in deleted} == {((layout.DELETED_AT,), False, True)}


def test_the_edges_of_a_node_are_sought_in_the_collections_that_may_hold_them() -> None:
    dataset = layout.edge_collections_of({Kind.DATASET})
    assert {"featureset_dataset", "run_datasets", "step_input_dataset", "step_output_dataset"} <= set(dataset)
    assert "run_models" not in dataset and "deployment_servingperf" not in dataset
    # A declared edge may join any two kinds.
    assert set(layout.CUSTOM_EDGE_COLLECTIONS) <= set(dataset)
    # Every edge collection, of every kind together.
    every = layout.edge_collections_of(set(Kind))
    assert set(every) == {c.name for c in layout.EDGE_COLLECTIONS.values()} | set(layout.CUSTOM_EDGE_COLLECTIONS)


# --------------------------------------------------------------------------------------
# Reads as of a time: removed edges, deletion spans, timed change marks (arango_layout's
# doc), and what init-db fills them with from the change log.
# --------------------------------------------------------------------------------------

AS_OF = "2026-12-05T10:00:00.000000Z"


def test_a_removed_edge_of_every_kind_is_kept_from_its_derived_end_and_read_back_as_it_was() -> None:
    for kind, e in EDGE_KINDS.items():
        edge = Edge(kind, f"{e.from_kind.value}/a1", f"{e.to_kind.value}/b1", "2026-11-23T00:00:00.000000Z")
        collection, doc = layout.to_removed_edge_document(edge, AS_OF)
        assert layout.read_edge(collection, {**doc, "_id": f"{collection}/k"}) == edge
        assert (doc["kind"], doc["createdAt"], doc["removedAt"]) == (kind, edge.created_at, AS_OF)
        assert doc["removedKey"] == layout.descending_time(AS_OF)
        if e.upstream is None:
            # Grouping only: apart, never walked.
            assert collection == layout.REMOVED_LINKS_COLLECTION
            assert (doc["_from"], doc["_to"]) == (layout.document_id(edge.from_id), layout.document_id(edge.to_id))
            continue
        # Stored from the end derived to the upstream end: a walk upstream goes OUTBOUND,
        # as it goes along the declared lineage edges.
        upstream = edge.to_id if e.upstream is End.TO else edge.from_id
        derived = edge.from_id if e.upstream is End.TO else edge.to_id
        assert collection == layout.REMOVED_LINEAGE_COLLECTION
        assert (doc["_from"], doc["_to"]) == (layout.document_id(derived), layout.document_id(upstream))
        assert dict(layout.traversal(Direction.UPSTREAM, removed=True))[collection] == "OUTBOUND"
        # A neighbour read along it from either end reaches the other.
        for step, near, far in ((Step.OUT, edge.from_id, edge.to_id), (Step.IN, edge.to_id, edge.from_id)):
            hop_collection, direction = layout.removed_hop(kind, step)
            ends = (doc["_from"], doc["_to"]) if direction == "OUTBOUND" else (doc["_to"], doc["_from"])
            assert (hop_collection, ends) == (collection, (layout.document_id(near), layout.document_id(far)))


def test_a_removed_declared_edge_keeps_its_upstream_end() -> None:
    for upstream in (End.TO, End.FROM, None):
        edge = Edge("custom:monitors", "deployment/p1", "custom/r1", "2026-11-23T00:00:00.000000Z", upstream=upstream)
        collection, doc = layout.to_removed_edge_document(edge, AS_OF)
        back = layout.from_removed_edge_document(collection, doc)
        assert back == edge and back.upstream is upstream
        # Like the stored declared edge: from the end derived to the upstream end.
        stored_collection, stored = layout.to_edge_document(edge)
        assert (doc["_from"], doc["_to"], doc["reversed"]) == (stored["_from"], stored["_to"], stored["reversed"])
        assert (stored_collection, collection) in {
            (layout.CUSTOM_LINEAGE_COLLECTION, layout.REMOVED_LINEAGE_COLLECTION),
            (layout.CUSTOM_LINKS_COLLECTION, layout.REMOVED_LINKS_COLLECTION),
        }
    # An edge Arangopipe wrote, of no known time, was there from the start.
    collection, doc = layout.to_removed_edge_document(Edge("run_model", "run/r1", "model/m1", ""), AS_OF)
    assert layout.from_removed_edge_document(collection, {**doc, "createdAt": None}).created_at == layout.UNKNOWN_TIME


@given(st.datetimes(timezones=st.just(dt.UTC)), st.datetimes(timezones=st.just(dt.UTC)))
def test_a_removed_edges_key_orders_as_the_reverse_of_its_time(a: dt.datetime, b: dt.datetime) -> None:
    x, y = format_time(a), format_time(b)
    kx, ky = layout.descending_time(x), layout.descending_time(y)
    assert (kx < ky) == (x > y) and (kx == ky) == (x == y)
    assert len(kx) == len(x) and layout.descending_time(kx) == x


def test_a_node_as_of_a_time_takes_its_parts_and_deletion_from_then() -> None:
    now = Node(
        "run/r1",
        Kind.RUN,
        "trial-1",
        "2026-11-23T10:00:00.000000Z",
        scope="model/m1",
        tags=("b",),
        attributes={"lr": 0.2},
        fields={"status": "COMPLETED", "tag": "search", "deploymentTag": "prod-v2"},
        deleted_at="2026-12-07T00:00:00.000000Z",
        deleted_reason="later",
    )
    doc = {"_id": "run/r1", "_key": "r1", **layout.to_document(now)}
    # Nothing changed since, live then: as it is, but not deleted.
    same = layout.node_as_of(doc, [None, None, None], None, AS_OF)
    assert same == replace(now, deleted_at=None, deleted_reason=None) and same.as_of == AS_OF
    # The parts as a change's before holds them (the logical fields, mapped ones too).
    then = layout.node_as_of(
        doc,
        [[{"lr": 0.1}], [["a", "b"]], [{"status": "RUNNING", "deploymentTag": "prod-v1"}]],
        ["2026-12-01T00:00:00.000000Z", "dup"],
        AS_OF,
    )
    assert (then.attributes, then.tags, then.fields) == (
        {"lr": 0.1},
        ("a", "b"),
        {"status": "RUNNING", "deploymentTag": "prod-v1"},
    )
    assert (then.deleted_at, then.deleted_reason, then.scope, then.name) == (
        "2026-12-01T00:00:00.000000Z",
        "dup",
        "model/m1",
        "trial-1",
    )
    # as_of is no part of a node's value.
    assert replace(then, as_of=None) == then


def test_an_entrys_mark_holds_its_time() -> None:
    from metagate.store.changes import Action, Touch

    mark = layout.to_change_node_document(Touch("run/r1", "run", Action.CHANGED, {"tags": ["a"]}), AS_OF)
    assert mark == {"node": "run/r1", "kind": "run", "action": "changed", "before": {"tags": ["a"]}, "at": AS_OF}
    [index] = [i for i in indexes() if i.name == "metagate_change_nodes_changed"]
    assert index.collection == layout.CHANGE_NODES_COLLECTION and set(index.fields) <= set(mark)


def test_init_db_makes_deletion_spans_from_the_change_log_and_the_nodes_deleted_now() -> None:
    from metagate.store.arango_init import deletion_spans

    def event(seq: int, node: str, action: str, at: str, reason: str | None = None) -> dict[str, object]:
        return {"seq": seq, "node": node, "action": action, "at": at, "reason": reason}

    events = [
        event(1, "run/r1", "deleted", "t1", "dup"),
        event(2, "run/r1", "restored", "t2"),
        event(3, "run/r1", "deleted", "t3", "again"),
        event(4, "dataset/d1", "deleted", "t4"),  # restored where the log did not see it
        event(5, "dataset/d2", "restored", "t5"),  # deleted where the log did not see it
        event(6, "unknown/x", "deleted", "t6"),
        event(7, "run/r2", "deleted", "t7"),
        event(8, "run/r3", "deleted", "t8"),
        event(9, "run/r3", "deleted", "t8b"),  # while deleted: the first one holds
        # After the bound (the counter when the collections were made): writers began
        # these spans themselves, and closed those they began.
        event(11, "run/r2", "restored", "t11"),  # closes the span begun before the bound
        event(12, "run/r4", "deleted", "t12"),
        event(13, "run/r4", "restored", "t13"),
        event(14, "run/r3", "deleted", "t14"),  # a restoration the log did not see before
    ]
    deleted = [
        {"node": "run/r1", "at": "t3-doc", "reason": "again"},
        {"node": "datasets/d3", "at": "t0", "reason": None},  # deleted before the log
        {"node": "run/r3", "at": "t14", "reason": None},
    ]
    closed, open_spans = deletion_spans(events, deleted, 10)
    assert closed == [
        {
            "_key": layout.backfill_key("span", 1, "run/r1"),
            "node": "run/r1",
            "deletedAt": "t1",
            "reason": "dup",
            "restoredAt": "t2",
        },
        {
            "_key": layout.backfill_key("span", 7, "run/r2"),
            "node": "run/r2",
            "deletedAt": "t7",
            "reason": None,
            "restoredAt": "t11",
        },
    ]
    # The open span is the document's deletion (its time is the one reads compare), keyed
    # as the span of the deletion the log holds open would be once closed; the node
    # deleted by a writer after the bound has its writer's span (aql.insert_open_spans
    # adds none where one is open).
    assert open_spans == [
        {
            "_key": layout.backfill_key("span", 3, "run/r1"),
            "node": "run/r1",
            "deletedAt": "t3-doc",
            "reason": "again",
            "restoredAt": None,
        },
        {
            "_key": layout.backfill_key("span", "datasets/d3", "t0"),
            "node": "datasets/d3",
            "deletedAt": "t0",
            "reason": None,
            "restoredAt": None,
        },
        {
            "_key": layout.backfill_key("span", "run/r3", "t14"),
            "node": "run/r3",
            "deletedAt": "t14",
            "reason": None,
            "restoredAt": None,
        },
    ]
    # Once restored, a run after makes the closed span of that key: nothing new.
    again, _ = deletion_spans([*events, event(15, "run/r1", "restored", "t15")], [], 10)
    assert [s["_key"] for s in again] == [s["_key"] for s in closed] + [open_spans[0]["_key"]]
    # The same keys every run; keys ArangoDB takes (letters, digits, -).
    assert deletion_spans(events, deleted, 10) == (closed, open_spans)
    assert all(re.fullmatch(r"backfill-[0-9a-f]{40}", s["_key"]) for s in closed + open_spans)
    assert set(layout.to_deletion_document("run/r1", "t", None)) == {"node", "deletedAt", "reason", "restoredAt"}


def test_init_db_makes_removed_edges_from_the_change_log() -> None:
    from metagate.store.arango_init import removed_edges

    events = [
        {"seq": 1, "edge": ["run_model", "run/r1", "model/m1"], "createdAt": "t1", "at": "t2"},
        {"seq": 2, "edge": ["custom:monitors", "deployment/p1", "custom/r1"], "createdAt": "t3", "at": "t4"},
        {"seq": 2, "edge": ["custom:gone", "deployment/p1", "custom/r1"], "createdAt": "t3", "at": "t4"},  # not declared
        {"seq": 2, "edge": ["no_such_kind", "run/r1", "model/m1"], "createdAt": "t3", "at": "t4"},
        {"seq": 5, "edge": ["run_model", "run/r1", "model/m1"], "createdAt": "t4", "at": "t5"},  # made again, removed again
    ]
    kept = removed_edges(events, {"monitors": End.FROM})

    def keyed(seq: int, edge: Edge, at: str) -> tuple[str, dict[str, object]]:
        collection, doc = layout.to_removed_edge_document(edge, at)
        return collection, {"_key": layout.backfill_key("edge", seq, edge.kind, edge.from_id, edge.to_id), **doc}

    assert kept == [
        keyed(1, Edge("run_model", "run/r1", "model/m1", "t1"), "t2"),
        keyed(2, Edge("custom:monitors", "deployment/p1", "custom/r1", "t3", upstream=End.FROM), "t4"),
        keyed(5, Edge("run_model", "run/r1", "model/m1", "t4"), "t5"),
    ]
    assert len({doc["_key"] for _, doc in kept}) == 3


def test_init_db_creates_what_reads_as_of_a_time_read_with_their_indexes() -> None:
    by_name = {(i.collection, i.name): i for i in indexes()}
    assert by_name[(layout.DELETIONS_COLLECTION, "metagate_deletions_node")].fields == ("node", "deletedAt")
    assert by_name[(layout.DELETIONS_COLLECTION, "metagate_deletions_restored")].sparse
    assert set(layout.REMOVED_EDGE_COLLECTIONS).isdisjoint(layout.EDGE_KINDS_BY_COLLECTION)

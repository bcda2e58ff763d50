"""Arangopipe's physical layout, and the one translation between it and Metagate's
logical kinds and edges. No other module knows a collection name.

Arangopipe's graph ``enterprise_ml_graph`` keeps each kind in its own vertex collection
and each edge kind in its own edge collection. One edge collection points the other
way: ``run_models`` holds model -> run edges, which are Metagate's ``run_model``
(run -> model) edges. Edge keys are ``fromKey-toKey`` of the logical edge, as
Arangopipe writes them: for ``run_models`` that is ``runKey-modelKey``, the stored
``_to`` first (Arangopipe's ``log_run``), so a link written by both is one edge.

A deleted node (``Tx.delete_nodes``) keeps its document, which gains three attributes:

    deletedAt      when it was deleted (format_time text); absent or null: live. A
                   sparse index per vertex collection (``metagate_deleted``) reads the
                   deleted ones by it, for ``metagate gc``.
    deletedReason  the reason given, or null.
    deletedAside   ``{attribute: value}`` of the attributes a sparse unique index reads
                   (``aside_attributes``: its scope; a run's deployment_tag; a
                   deployment's tag), which are null meanwhile: a sparse index leaves out
                   a document with a null field, so the deleted node's name in its scope,
                   its unique tag and its serving period (whose index reads the scope)
                   are free for others. Restoring puts them back, where a unique index
                   refuses a value taken meanwhile.

``from_document`` gives the node back with its real scope and fields. Each edge of a
deleted node holds ``gone: true`` (absent or false: live), and so is hidden from every
read but those that follow a deleted node's edges; restoring the node takes ``gone``
away from each of its edges whose other end is live.

Reads as of a time T (``port.LineageQuery.as_of``) need what the documents no longer
say, kept in the transaction of the write that changes it:

    metagate_deletions        a node's deletion spans: ``{node (document id), deletedAt,
                              reason, restoredAt}``, started by each deletion of a live
                              node, ``restoredAt`` null until it is restored. An open
                              span's ``deletedAt`` is its document's.
    metagate_removed_lineage  each lineage edge ``Tx.delete_edges`` removed, stored from
                              the end derived to its upstream end (``reversed`` when
                              that is the logical to -> from, as declared lineage edges
                              are), so that a walk as of T follows it beside the stored
                              edges; ``kind`` (the logical one), ``createdAt`` (the
                              stored edge's; null: Arangopipe's, of no known time),
                              ``removedAt``, and ``removedKey``: ``descending_time``
                              of removedAt.
    metagate_removed_links    the same, of the grouping edges (never walked).

and each change mark (``metagate_change_nodes``) holds its entry's time, ``at`` (marks
written before hold none: their entry's ``at`` says it).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection
from dataclasses import dataclass, replace
from typing import Any

from metagate.store.changes import PARTS, Change, ChangeItem, Touch
from metagate.store.model import (
    CUSTOM_EDGE_PREFIX,
    EDGE_KINDS,
    Direction,
    Edge,
    EdgeKindDecl,
    End,
    JSONObject,
    Kind,
    Node,
    NodeKindDecl,
    Step,
    key_of,
)
from metagate.store.port import LineageEvent, MetricPoint

GRAPH = "enterprise_ml_graph"

VERTEX_COLLECTIONS: dict[Kind, str] = {
    Kind.PROJECT: "project",
    Kind.MODEL: "models",
    Kind.DATASET: "datasets",
    Kind.FEATURESET: "featuresets",
    Kind.MODELPARAMS: "modelparams",
    Kind.RUN: "run",
    Kind.DEVPERF: "devperf",
    Kind.SERVINGPERF: "servingperf",
    Kind.DEPLOYMENT: "deployment",
    # Metagate's own kinds, beside Arangopipe's.
    Kind.MODELVERSION: "modelversions",
    Kind.JOB: "jobs",
    Kind.STEP: "steps",
    # The nodes of every user-defined kind, each with its kind's name as fields.kind.
    Kind.CUSTOM: "metagate_custom_nodes",
}
KINDS_BY_COLLECTION = {name: kind for kind, name in VERTEX_COLLECTIONS.items()}
# Metagate's own collection beside Arangopipe's: API tokens (hashes only).
TOKENS_COLLECTION = "metagate_tokens"
# The answers of keyed mutations, kept to answer their retries.
IDEMPOTENCY_COLLECTION = "metagate_idempotency"
# Every move of an alias, a deployment's served version or a project's traffic weights.
HISTORY_COLLECTION = "metagate_history"
# Runs' metric histories, one document a point (its id as _key).
METRIC_POINTS_COLLECTION = "metagate_metric_points"
# OpenLineage events as they were received (their key hashed into _key).
OPENLINEAGE_COLLECTION = "metagate_openlineage_events"
# User-defined kinds: the declarations, and the edges of the declared edge kinds. A
# lineage edge is stored from the end derived to its upstream end (``reversed`` when
# that is the logical to -> from), so that one direction of one collection walks every
# declared kind upstream; grouping edges are stored from -> to, apart, never walked.
NODE_KINDS_COLLECTION = "metagate_node_kinds"
EDGE_KINDS_COLLECTION = "metagate_edge_kinds"
CUSTOM_LINEAGE_COLLECTION = "metagate_custom_lineage"
CUSTOM_LINKS_COLLECTION = "metagate_custom_links"
CUSTOM_EDGE_COLLECTIONS = (CUSTOM_LINEAGE_COLLECTION, CUSTOM_LINKS_COLLECTION)
# Serving-perf records that repeated a deployment's period, set aside by init-db before
# it makes periods unique (the record kept is the oldest).
SERVING_DUPLICATES_COLLECTION = "metagate_servingperf_duplicates"
# The change log: an entry a mutation (its seq as _key), and each entry's mark on each
# node it is about. Entries are numbered by the counter document in the sequences
# collection, which every write transaction holds exclusively: they commit one at a
# time, in the order of their numbers, so that a reader resuming after entry n misses
# none committed later.
CHANGES_COLLECTION = "metagate_changes"
CHANGE_NODES_COLLECTION = "metagate_change_nodes"
SEQUENCES_COLLECTION = "metagate_sequences"
CHANGES_COUNTER = "changes"
# Beside the counter, init-db's record of its backfill of the as-of collections from the
# change log: ``{upTo, done}`` (arango_init's doc).
BACKFILL_MARK = "asOfBackfill"
# Reads as of a time (see the module's doc): deletion spans, and removed edges.
DELETIONS_COLLECTION = "metagate_deletions"
REMOVED_LINEAGE_COLLECTION = "metagate_removed_lineage"
REMOVED_LINKS_COLLECTION = "metagate_removed_links"
REMOVED_EDGE_COLLECTIONS = (REMOVED_LINEAGE_COLLECTION, REMOVED_LINKS_COLLECTION)
# The document attributes that identify a serving-perf record (its deployment, as the
# scope, and its period): the fields of the unique index and of the look-up.
SERVING_PERIOD = ("scope", "fields.periodStart", "fields.periodEnd")
# Soft delete (see the module's doc): a deleted node's attributes, and a hidden edge's.
DELETED_AT = "deletedAt"
DELETED_REASON = "deletedReason"
DELETED_ASIDE = "deletedAside"
EDGE_GONE = "gone"


@dataclass(frozen=True)
class EdgeCollection:
    name: str
    from_collection: str
    to_collection: str
    reversed: bool  # True: stored to -> from of the logical edge


def _edge_collection(logical: str, name: str, *, reversed: bool = False) -> EdgeCollection:
    kind = EDGE_KINDS[logical]
    ends = (VERTEX_COLLECTIONS[kind.from_kind], VERTEX_COLLECTIONS[kind.to_kind])
    if reversed:
        ends = ends[::-1]
    return EdgeCollection(name, ends[0], ends[1], reversed)


EDGE_COLLECTIONS: dict[str, EdgeCollection] = {
    "project_model": _edge_collection("project_model", "project_models"),
    "run_model": _edge_collection("run_model", "run_models", reversed=True),
    "run_modelparams": _edge_collection("run_modelparams", "run_modelparams"),
    "run_dataset": _edge_collection("run_dataset", "run_datasets"),
    "run_devperf": _edge_collection("run_devperf", "run_devperf"),
    "run_featureset": _edge_collection("run_featureset", "run_featuresets"),
    "deployment_servingperf": _edge_collection("deployment_servingperf", "deployment_servingperf"),
    "deployment_model": _edge_collection("deployment_model", "deployment_model"),
    "deployment_modelparams": _edge_collection("deployment_modelparams", "deployment_modelparams"),
    "deployment_featureset": _edge_collection("deployment_featureset", "deployment_featureset"),
    "featureset_dataset": _edge_collection("featureset_dataset", "featureset_dataset"),
    "modelversion_model": _edge_collection("modelversion_model", "modelversion_model"),
    "modelversion_run": _edge_collection("modelversion_run", "modelversion_run"),
    "deployment_modelversion": _edge_collection("deployment_modelversion", "deployment_modelversion"),
    "job_project": _edge_collection("job_project", "job_project"),
    "job_model": _edge_collection("job_model", "job_model"),
    "job_deployment": _edge_collection("job_deployment", "job_deployment"),
    "job_replayof": _edge_collection("job_replayof", "job_replayof"),
    "run_job": _edge_collection("run_job", "run_job"),
    # A step's inputs, outputs and parent: an edge collection per edge kind, named as it.
    **{name: _edge_collection(name, name) for name in EDGE_KINDS if name.startswith("step_")},
}
EDGE_KINDS_BY_COLLECTION = {c.name: logical for logical, c in EDGE_COLLECTIONS.items()}


def edge_collections_of(kinds: Collection[Kind]) -> list[str]:
    """The edge collections that may hold an edge of a node of one of ``kinds``: those
    of the built-in edge kinds with an end of such a kind, and the declared edges'."""
    vertices = {VERTEX_COLLECTIONS[k] for k in kinds}
    built_in = [c.name for c in EDGE_COLLECTIONS.values() if {c.from_collection, c.to_collection} & vertices]
    return [*built_in, *CUSTOM_EDGE_COLLECTIONS]


# Top-level document fields Arangopipe gives meaning to, and the typed fields they carry.
_MAPPED_FIELDS: dict[Kind, dict[str, str]] = {
    Kind.RUN: {"tag": "tag", "deploymentTag": "deployment_tag"},
    Kind.DEPLOYMENT: {"tag": "tag"},
}
# Fields Metagate writes besides the mapped ones.
_OWN_FIELDS = {"name", "scope", "createdAt", "tags", "attributes", "fields", DELETED_AT, DELETED_REASON, DELETED_ASIDE}
UNKNOWN_TIME = "1970-01-01T00:00:00.000000Z"
# The mapped fields a unique index holds (arango_init: a run's deployment tag, a
# deployment's tag): set aside, with the scope, while the node is deleted.
_UNIQUE_MAPPED: dict[Kind, tuple[str, ...]] = {Kind.RUN: ("deployment_tag",), Kind.DEPLOYMENT: ("tag",)}


def aside_attributes(kind: Kind) -> tuple[str, ...]:
    """The top-level attributes of a ``kind`` document that a sparse unique index reads,
    null while the node is deleted (and kept under ``deletedAside``): every unique
    index over a vertex collection reads one of them (its scope, for the names in a
    scope and the serving periods)."""
    return ("scope", *_UNIQUE_MAPPED.get(kind, ()))


def non_attribute_fields(kind: Kind) -> list[str]:
    """Top-level fields of a document that are not user attributes."""
    return ["_key", "_id", "_rev", *sorted(_OWN_FIELDS | set(_MAPPED_FIELDS.get(kind, {}).values()))]


def document_id(node_id: str) -> str:
    """``dataset/k`` -> ``datasets/k``."""
    kind, _, key = node_id.partition("/")
    return f"{VERTEX_COLLECTIONS[Kind(kind)]}/{key}"


def node_id(document_id_: str) -> str:
    """``datasets/k`` -> ``dataset/k``."""
    collection, _, key = document_id_.partition("/")
    return f"{KINDS_BY_COLLECTION[collection].value}/{key}"


def field_path(kind: Kind, typed_field: str) -> str:
    """The document attribute holding a typed field that has an index."""
    mapped = _MAPPED_FIELDS.get(kind, {})
    if typed_field not in mapped:
        raise ValueError(f"{kind.value} has no indexed field {typed_field}")
    return mapped[typed_field]


def to_document(node: Node) -> JSONObject:
    mapped = _MAPPED_FIELDS.get(node.kind, {})
    doc: JSONObject = {
        "_key": key_of(node.id),
        "name": node.name,
        "scope": node.scope,
        "createdAt": node.created_at,
        "tags": list(node.tags),
        "attributes": node.attributes,
        "fields": {k: v for k, v in node.fields.items() if k not in mapped},
    }
    for typed, stored in mapped.items():
        if typed in node.fields:
            doc[stored] = node.fields[typed]
    if node.deleted_at is not None:
        # As Tx.delete_nodes leaves it (arango_aql.delete_nodes).
        doc[DELETED_ASIDE] = {a: doc[a] for a in aside_attributes(node.kind) if a in doc}
        doc.update(dict.fromkeys(aside_attributes(node.kind)))
        doc[DELETED_AT] = node.deleted_at
        doc[DELETED_REASON] = node.deleted_reason
    return doc


def field_changes(kind: Kind, fields: JSONObject) -> JSONObject:
    """The document attributes that hold ``fields`` (the whole typed fields of a node of
    ``kind``): ``fields``, and the mapped ones at the top level (null when not given)."""
    mapped = _MAPPED_FIELDS.get(kind, {})
    changes: JSONObject = {"fields": {k: v for k, v in fields.items() if k not in mapped}}
    for typed, stored in mapped.items():
        changes[stored] = fields.get(typed)
    return changes


def to_history_document(entry: Any) -> JSONObject:
    """A history entry's document; its key is made from what makes it unique (subject,
    topic, seq), so that two moves racing for one number conflict."""
    import hashlib

    unique = f"{entry.subject}\x00{entry.topic}\x00{entry.seq}"
    return {
        "_key": hashlib.sha256(unique.encode()).hexdigest(),
        "subject": entry.subject,
        "topic": entry.topic,
        "seq": entry.seq,
        "at": entry.at,
        "value": entry.value,
        "reason": entry.reason,
        "actor": entry.actor,
    }


def from_history_document(doc: dict[str, Any]) -> Any:
    from metagate.store.port import HistoryEntry

    return HistoryEntry(
        doc["subject"], doc["topic"], doc["seq"], doc["at"], doc.get("value"), doc.get("reason"), doc.get("actor")
    )


def from_document(doc: dict[str, Any]) -> Node:
    """A node from a stored document: Metagate's own, or one Arangopipe wrote (whose
    extra top-level fields become the node's attributes)."""
    nid = node_id(doc["_id"])
    kind = Kind(nid.partition("/")[0])
    mapped = _MAPPED_FIELDS.get(kind, {})
    aside = doc.get(DELETED_ASIDE)
    aside = aside if isinstance(aside, dict) else {}

    def held(attribute: str) -> Any:
        # A deleted node's unique values are set aside, their attributes null.
        value = doc.get(attribute)
        return value if value is not None else aside.get(attribute)

    fields = dict(doc.get("fields") or {})
    for typed, stored in mapped.items():
        if held(stored) is not None:
            fields[typed] = held(stored)
    if "attributes" in doc and isinstance(doc["attributes"], dict):
        attributes = doc["attributes"]
    else:
        taken = _OWN_FIELDS | set(mapped.values())
        attributes = {k: v for k, v in doc.items() if not k.startswith("_") and k not in taken}
    name = doc.get("name")
    deleted_at, reason = doc.get(DELETED_AT), doc.get(DELETED_REASON)
    return Node(
        id=nid,
        kind=kind,
        name=name if isinstance(name, str) else None,
        created_at=doc.get("createdAt") or UNKNOWN_TIME,
        scope=held("scope") or "",
        tags=tuple(doc.get("tags") or ()),
        attributes=attributes,
        fields=fields,
        deleted_at=deleted_at if isinstance(deleted_at, str) else None,
        deleted_reason=reason if isinstance(reason, str) else None,
    )


def to_edge_document(edge: Edge) -> tuple[str, JSONObject]:
    """The collection and document of a logical edge."""
    if edge.kind.startswith(CUSTOM_EDGE_PREFIX):
        return _custom_edge_document(edge)
    collection = EDGE_COLLECTIONS[edge.kind]
    key = f"{key_of(edge.from_id)}-{key_of(edge.to_id)}"
    src, dst = document_id(edge.from_id), document_id(edge.to_id)
    if collection.reversed:
        src, dst = dst, src
    return collection.name, {
        "_key": key,
        "_from": src,
        "_to": dst,
        "createdAt": edge.created_at,
    }


def _custom_edge_document(edge: Edge) -> tuple[str, JSONObject]:
    name = edge.kind.removeprefix(CUSTOM_EDGE_PREFIX)
    src, dst = document_id(edge.from_id), document_id(edge.to_id)
    reversed_ = edge.upstream is End.FROM
    if reversed_:
        src, dst = dst, src
    collection = CUSTOM_LINKS_COLLECTION if edge.upstream is None else CUSTOM_LINEAGE_COLLECTION
    # Declared names are [a-z0-9_]: the key stays unique per kind and pair of ends.
    key = f"{name}-{key_of(edge.from_id)}-{key_of(edge.to_id)}"
    return collection, {"_key": key, "_from": src, "_to": dst, "kind": name, "reversed": reversed_, "createdAt": edge.created_at}


def from_edge_document(collection: str, doc: dict[str, Any]) -> Edge:
    if collection in CUSTOM_EDGE_COLLECTIONS:
        src, dst = node_id(doc["_from"]), node_id(doc["_to"])
        upstream = None if collection == CUSTOM_LINKS_COLLECTION else End.TO
        if doc.get("reversed"):
            src, dst, upstream = dst, src, End.FROM
        kind = CUSTOM_EDGE_PREFIX + doc["kind"]
        return Edge(kind=kind, from_id=src, to_id=dst, created_at=doc.get("createdAt") or UNKNOWN_TIME, upstream=upstream)
    logical = EDGE_KINDS_BY_COLLECTION[collection]
    src, dst = node_id(doc["_from"]), node_id(doc["_to"])
    if EDGE_COLLECTIONS[logical].reversed:
        src, dst = dst, src
    return Edge(kind=logical, from_id=src, to_id=dst, created_at=doc.get("createdAt") or UNKNOWN_TIME)


def _step_direction(step: Step) -> str:
    return "OUTBOUND" if step is Step.OUT else "INBOUND"


def physical_direction(edge_kind: str, step: Step) -> str:
    """AQL's OUTBOUND or INBOUND for following ``edge_kind`` in ``step``."""
    collection = EDGE_COLLECTIONS[edge_kind]
    if collection.reversed:
        step = step.reverse()
    return _step_direction(step)


def traversal(direction: Direction, *, removed: bool = False) -> list[tuple[str, str]]:
    """(edge collection, OUTBOUND|INBOUND) for a walk in ``direction``, from the
    direction table: the per-collection directions of one AQL traversal; ``removed``:
    and the removed lineage edges' last (a walk as of a time)."""
    out = []
    for logical, collection in EDGE_COLLECTIONS.items():
        kind = EDGE_KINDS[logical]
        if kind.upstream is None:
            continue
        out.append((collection.name, physical_direction(logical, kind.step(direction))))
    # Declared lineage edges point from what was derived to what it was derived from,
    # and so do removed lineage edges.
    derived = "OUTBOUND" if direction is Direction.UPSTREAM else "INBOUND"
    out.append((CUSTOM_LINEAGE_COLLECTION, derived))
    if removed:
        out.append((REMOVED_LINEAGE_COLLECTION, derived))
    return out


def to_node_kind_document(k: NodeKindDecl) -> JSONObject:
    return {"_key": k.name, "description": k.description, "schema": k.schema, "createdAt": k.created_at}


def from_node_kind_document(doc: JSONObject) -> NodeKindDecl:
    return NodeKindDecl(doc["_key"], doc.get("description"), doc.get("schema"), doc["createdAt"])


def to_edge_kind_document(k: EdgeKindDecl) -> JSONObject:
    return {
        "_key": k.name,
        "fromKind": k.from_kind,
        "toKind": k.to_kind,
        "upstream": k.upstream.value if k.upstream is not None else None,
        "description": k.description,
        "createdAt": k.created_at,
    }


def from_edge_kind_document(doc: JSONObject) -> EdgeKindDecl:
    upstream = End(doc["upstream"]) if doc.get("upstream") is not None else None
    return EdgeKindDecl(doc["_key"], doc["fromKind"], doc["toKind"], upstream, doc.get("description"), doc["createdAt"])


def edge_document_id(edge: Edge) -> str:
    collection, doc = to_edge_document(edge)
    return f"{collection}/{doc['_key']}"


def to_token_document(token: Any) -> JSONObject:
    return {
        "_key": token.id,
        "name": token.name,
        "role": token.role,
        "projects": list(token.projects),
        "secretHash": token.secret_hash,
        "createdAt": token.created_at,
        "revokedAt": token.revoked_at,
    }


def from_token_document(doc: dict[str, Any]) -> Any:
    from metagate.store.port import Token

    return Token(
        id=doc["_key"],
        name=doc["name"],
        role=doc["role"],
        projects=tuple(doc.get("projects") or ()),
        secret_hash=doc["secretHash"],
        created_at=doc["createdAt"],
        revoked_at=doc.get("revokedAt"),
    )


def to_lineage_event_document(document_key: str, event: LineageEvent) -> JSONObject:
    return {
        "_key": document_key,
        "key": event.key,
        "kind": event.kind,
        "eventTime": event.event_time,
        "receivedAt": event.received_at,
        "event": event.event,
    }


def from_lineage_event_document(doc: JSONObject) -> LineageEvent:
    return LineageEvent(doc["key"], doc["kind"], doc["eventTime"], doc["receivedAt"], doc["event"])


def to_metric_point_document(point: MetricPoint, seq: int) -> JSONObject:
    """The document of ``point`` stored at position ``seq`` of its history."""
    return {
        "_key": point.id,
        "run": point.run_id,
        "key": point.key,
        "step": point.step,
        "timestamp": point.timestamp,
        "value": point.value,
        "seq": seq,
    }


def from_metric_point_document(doc: JSONObject) -> MetricPoint:
    # A value is a Float (float(value), as SQLite's REAL): JSON writes 3.0 as 3.
    return MetricPoint(doc["run"], doc["key"], float(doc["value"]), doc["step"], doc["timestamp"], doc["_key"], doc["seq"])


def to_change_document(origin: Any, at: str, items: list[ChangeItem]) -> JSONObject:
    """An entry's document, but for its number (given it in the query that takes one)."""
    return {
        "at": at,
        "operation": origin.operation,
        "tokenId": origin.token_id,
        "tokenName": origin.token_name,
        "items": [i.to_json() for i in items],
    }


def from_change_document(doc: JSONObject) -> Change:
    items = tuple(ChangeItem.from_json(i) for i in doc["items"])
    return Change(doc["seq"], doc["at"], doc.get("operation"), doc.get("tokenId"), doc.get("tokenName"), items)


def to_change_node_document(touch: Touch, at: str) -> JSONObject:
    """An entry's mark on a node, but for the entry's number; ``at``: the entry's time
    (a read as of a time finds a node's changes after it by its marks alone)."""
    return {
        "node": document_id(touch.node),
        "kind": touch.kind,
        "action": touch.action.value if touch.action else None,
        "before": touch.before,
        "at": at,
    }


# --------------------------------------------------------------------------------------
# Reads as of a time (see the module's doc).
# --------------------------------------------------------------------------------------

_DESCENDING = str.maketrans("0123456789", "9876543210")


def descending_time(at: str) -> str:
    """``at`` (format_time text) with each digit d written 9 - d: fixed-width text whose
    order is the reverse of time order. A removed edge's ``removedKey``: a walk keeps the
    edges removed after T by ``e.removedKey < descending_time(T)``, which a stored edge
    (without one: null, less than any text) passes too, one comparison the optimizer
    moves into the traversal (an OR it would not)."""
    return at.translate(_DESCENDING)


def backfill_key(*parts: Any) -> str:
    """The _key of what init-db's backfill makes of the change log (a deletion span, a
    removed edge) from what makes it that one (the number of its entry and its node or
    edge; an open span the log holds no deletion of, its node and time): the same in
    every run, so that a run after an interrupted one inserts nothing twice."""
    made_of = json.dumps(parts, separators=(",", ":"), ensure_ascii=False)
    return "backfill-" + hashlib.sha256(made_of.encode()).hexdigest()[:40]


def to_deletion_document(node_id: str, at: str, reason: str | None, restored_at: str | None = None) -> JSONObject:
    """A deletion span of the node ``node_id`` (a logical id)."""
    return {"node": document_id(node_id), "deletedAt": at, "reason": reason, "restoredAt": restored_at}


def _upstream_of(edge: Edge) -> End | None:
    return edge.upstream if edge.kind.startswith(CUSTOM_EDGE_PREFIX) else EDGE_KINDS[edge.kind].upstream


def removed_edges_collection(edge_kind: str, upstream: End | None) -> tuple[str, bool]:
    """Where an ``edge_kind`` edge is kept once removed, and whether it is stored there
    to -> from of the logical edge (a lineage edge whose upstream end is its from end)."""
    if upstream is None:
        return REMOVED_LINKS_COLLECTION, False
    return REMOVED_LINEAGE_COLLECTION, upstream is End.FROM


def to_removed_edge_document(edge: Edge, removed_at: str) -> tuple[str, JSONObject]:
    """The collection and document that keep ``edge`` (its logical kind, its ends and
    its ``created_at``), removed at ``removed_at``."""
    collection, reversed_ = removed_edges_collection(edge.kind, _upstream_of(edge))
    src, dst = document_id(edge.from_id), document_id(edge.to_id)
    if reversed_:
        src, dst = dst, src
    return collection, {
        "_from": src,
        "_to": dst,
        "kind": edge.kind,
        "reversed": reversed_,
        "createdAt": edge.created_at,
        "removedAt": removed_at,
        "removedKey": descending_time(removed_at),
    }


def from_removed_edge_document(collection: str, doc: JSONObject) -> Edge:
    """The logical edge a removed edge's document keeps (as ``from_edge_document`` gives
    it: a declared edge with its upstream end, a built-in one without)."""
    src, dst = node_id(doc["_from"]), node_id(doc["_to"])
    reversed_ = bool(doc.get("reversed"))
    if reversed_:
        src, dst = dst, src
    kind = doc["kind"]
    upstream = None
    if kind.startswith(CUSTOM_EDGE_PREFIX) and collection == REMOVED_LINEAGE_COLLECTION:
        upstream = End.FROM if reversed_ else End.TO
    return Edge(kind=kind, from_id=src, to_id=dst, created_at=doc.get("createdAt") or UNKNOWN_TIME, upstream=upstream)


def read_edge(collection: str, doc: JSONObject) -> Edge:
    """The logical edge of a document of any edge collection: stored, or removed."""
    if collection in REMOVED_EDGE_COLLECTIONS:
        return from_removed_edge_document(collection, doc)
    return from_edge_document(collection, doc)


def removed_hop(edge_kind: str, step: Step) -> tuple[str, str]:
    """(collection, OUTBOUND|INBOUND) for following removed ``edge_kind`` edges (a
    built-in kind) in ``step``."""
    collection, reversed_ = removed_edges_collection(edge_kind, EDGE_KINDS[edge_kind].upstream)
    return collection, _step_direction(step.reverse() if reversed_ else step)


def node_as_of(doc: JSONObject, parts: list[Any], deleted: list[Any] | None, at: str) -> Node:
    """A node as it was at ``at``, from its document as it is and what a read as of ``at``
    found (``arango_aql.node_state``): ``parts``, for each of ``changes.PARTS`` in order,
    ``[value]`` (the part then: the ``before`` of the first change of it after ``at``)
    or null (as it is now); ``deleted``: ``[deletedAt, reason]`` of the deletion span
    that held ``at``, or null (live then)."""
    node = from_document(doc)
    then = {part: held[0] for part, held in zip(PARTS, parts) if held is not None}
    return replace(
        node,
        attributes=then.get("attributes", node.attributes),
        tags=tuple(then["tags"]) if "tags" in then else node.tags,
        fields=then.get("fields", node.fields),
        deleted_at=deleted[0] if deleted else None,
        deleted_reason=deleted[1] if deleted else None,
        as_of=at,
    )

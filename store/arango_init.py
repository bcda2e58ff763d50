"""``metagate init-db``: creates Metagate's database objects in ArangoDB, idempotently.

Run on an empty server it creates the database, Arangopipe's collections, the graph
``enterprise_ml_graph`` and Metagate's indexes; run again it changes nothing; run on an
existing Arangopipe database it only adds what is missing (Arangopipe created no
indexes of its own), building indexes in the background so that the pipelines writing
to it go on meanwhile. One thing it moves: before making serving periods unique per
deployment, it keeps the oldest record of a period logged more than once and moves the
others out of the graph, whole, into ``metagate_servingperf_duplicates``.

Other values Arangopipe let repeat where Metagate makes them unique (a run's deployment
tag, a deployment's tag) it does not touch: which documents share them is for their
owners to settle. Before building each such index it looks for repeated values; for
each one found it names the documents that share it, leaves that index unbuilt, builds
every other, and ends with ``RepeatedValues``: run again once the values are unique.

Reads as of a time keep what they need beside the graph (arango_layout's doc): deletion
spans, removed edges, and the time on each change mark. When init-db creates those
collections it fills them from the change log, so that a database written before them
reads as of a time too: a span for each deletion and restoration the log holds (the
open span of a node deleted now takes its document's time and reason), a removed edge
for each removal; none of a node (or an edge's end) that is gone. The change marks
written before they held a time are read with their entry's.

Writers go on meanwhile, and once the collections exist they keep spans and removed
edges themselves. So before it creates them init-db records, beside the change-log
counter, the counter's value (``aql.begin_backfill``): the backfill makes spans of the
deletions and removed edges of the removals logged up to it, no later (a restoration
logged later still closes a span begun before), and adds a node's open span only where
it has none (its writer's). What it inserts has a key made of the entry's number and the
item (``layout.backfill_key``), and a key there already is left: the record says
``done`` only once the backfill has run to its end, and until then each init-db runs
it again, inserting only what the run cut short did not.

No vertex-centric edge indexes. The one edge attribute traversals test is ``gone``
(a deleted node's hidden edges, arango_layout's doc), and the live test is
``gone != true`` (Arangopipe's edges lack the attribute), which no index range serves:
ArangoDB's built-in edge index on _from/_to reads a node's edges, and the test drops
the hidden ones. The reads of a deleted node's hidden edges (``gone == true``) are rare
enough to read the same way.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, cast

import arangoasync.errno as errno
from arangoasync.auth import Auth
from arangoasync.client import ArangoClient
from arangoasync.exceptions import ArangoServerError
from arangoasync.graph import Graph
from arangoasync.typings import CollectionType, IndexProperties

from metagate.store import arango_aql as aql
from metagate.store import arango_layout as layout
from metagate.store.arango import ArangoSettings, map_errors
from metagate.store.changes import Action
from metagate.store.errors import Conflict
from metagate.store.model import CUSTOM_EDGE_PREFIX, EDGE_KINDS, Edge, End, JSONObject, Kind

# Of a repeated value, the documents named; of an index, the repeated values named.
_SHOWN_DOCUMENTS = 10
_SHOWN_VALUES = 100


class RepeatedValues(Conflict):
    """init-db built every index but those whose values repeat: ``lines`` says, one line
    for each repeated value, which documents share it (and last, what to do); ``done``
    is what init-db did before."""

    def __init__(self, lines: Sequence[str], done: Sequence[str]) -> None:
        super().__init__("; ".join(lines))
        self.lines = list(lines)
        self.done = list(done)


@dataclass(frozen=True)
class Index:
    collection: str
    fields: tuple[str, ...]
    name: str
    unique: bool = False
    sparse: bool = False

    def options(self) -> dict[str, Any]:
        # inBackground: the collection is write-locked only briefly while the index is
        # built (ArangoDB's persistent index API), not for the whole build.
        return {"name": self.name, "unique": self.unique, "sparse": self.sparse, "inBackground": True}


def indexes() -> list[Index]:
    out = []
    for kind, collection in layout.VERTEX_COLLECTIONS.items():
        out += [
            # Names are unique within their scope; sparse, so unnamed kinds (and
            # documents without a scope) are not constrained.
            Index(collection, ("scope", "name"), "metagate_scoped_name", unique=True, sparse=True),
            Index(collection, ("name",), "metagate_name", sparse=True),
            # Lists page by (createdAt, _key), newest or oldest first: read in index order.
            Index(collection, ("createdAt", "_key"), "metagate_created_key"),
            Index(collection, ("tags[*]",), "metagate_tags"),
            # Deleted nodes by when they were deleted (gc counts and purges the oldest);
            # sparse: live nodes (no deletedAt) are not in it.
            Index(collection, (layout.DELETED_AT,), "metagate_deleted", sparse=True),
        ]
        if kind is Kind.RUN:
            out += [
                Index(collection, ("deployment_tag",), "metagate_deployment_tag", unique=True, sparse=True),
                Index(collection, ("tag",), "metagate_tag", sparse=True),
            ]
        if kind is Kind.DEPLOYMENT:
            out.append(Index(collection, ("tag",), "metagate_tag", unique=True, sparse=True))
        if kind is Kind.SERVINGPERF:
            # One record per deployment and period; sparse, so Arangopipe's own records
            # (no scope, no period fields) are not constrained.
            out.append(Index(collection, layout.SERVING_PERIOD, "metagate_serving_period", unique=True, sparse=True))
    # A subject's moves of a topic, by number: one move per number, read newest first.
    out.append(Index(layout.HISTORY_COLLECTION, ("subject", "topic", "seq"), "metagate_history_seq", unique=True))
    # A run's points of a key by their position in (step, timestamp, _key) order: a page
    # reads from its cursor's position, a sampled history only the positions it keeps;
    # unique, so that two writers appending at one position cannot both commit.
    out.append(Index(layout.METRIC_POINTS_COLLECTION, ("run", "key", "seq"), "metagate_metric_seq", unique=True))
    # Kept OpenLineage events, in the order they were received.
    out.append(Index(layout.OPENLINEAGE_COLLECTION, ("receivedAt", "_key"), "metagate_openlineage_received"))
    # The change log: entries by number (a page, a subscription's cursor) and by token;
    # a node's marks by number (its history), and an entry's marks by kind (the kinds
    # filter). The filters by operation and by time read the log newest first.
    out += [
        Index(layout.CHANGES_COLLECTION, ("seq",), "metagate_changes_seq", unique=True),
        Index(layout.CHANGES_COLLECTION, ("tokenId", "seq"), "metagate_changes_token"),
        Index(layout.CHANGE_NODES_COLLECTION, ("node", "seq"), "metagate_change_nodes_node", unique=True),
        Index(layout.CHANGE_NODES_COLLECTION, ("seq", "kind"), "metagate_change_nodes_seq"),
    ]
    # Reads as of a time: a node's changes after a time (its CHANGED marks by time; those
    # written before marks held one, at null); a node's deletion spans by their start;
    # the spans closed after a time (sparse: open spans have no restoredAt).
    out += [
        Index(layout.CHANGE_NODES_COLLECTION, ("node", "action", "at"), "metagate_change_nodes_changed"),
        Index(layout.DELETIONS_COLLECTION, ("node", "deletedAt"), "metagate_deletions_node"),
        Index(layout.DELETIONS_COLLECTION, ("restoredAt",), "metagate_deletions_restored", sparse=True),
    ]
    return out


def edge_definitions() -> list[dict[str, Any]]:
    vertices = sorted(set(layout.VERTEX_COLLECTIONS.values()))
    return [
        *({"collection": e.name, "from": [e.from_collection], "to": [e.to_collection]} for e in layout.EDGE_COLLECTIONS.values()),
        # A declared edge kind may join any two kinds.
        *({"collection": name, "from": vertices, "to": vertices} for name in layout.CUSTOM_EDGE_COLLECTIONS),
    ]


async def _database_exists(db: Any) -> bool:
    try:
        await db.version()
    except ArangoServerError as error:
        if error.error_code == errno.DATABASE_NOT_FOUND:
            return False
        raise
    return True


async def _rows(db: Any, query: aql.Query) -> list[Any]:
    cursor = await db.aql.execute(query.text, bind_vars=query.bind)
    try:
        return [row async for row in cursor]
    except BaseException:
        if cursor.has_more:  # abandoned: deleted now, not at its time-to-live
            with contextlib.suppress(Exception):  # the first failure is the one to report
                await cursor.close(ignore_missing=True)
        raise


async def set_aside_repeated_periods(db: Any) -> int:
    """Before periods are unique, a period may have been logged more than once: keeps its
    oldest record and moves the others, whole and beside the id of the record kept, out
    of the graph into their own collection, in one transaction. Returns how many moved."""
    servingperf = layout.VERTEX_COLLECTIONS[Kind.SERVINGPERF]
    edge_kinds = [k for k in layout.EDGE_COLLECTIONS if EDGE_KINDS[k].to_kind is Kind.SERVINGPERF]
    trx = await db.begin_transaction(
        write=[servingperf, layout.SERVING_DUPLICATES_COLLECTION, *(layout.EDGE_COLLECTIONS[k].name for k in edge_kinds)]
    )
    try:
        repeated = await _rows(trx, aql.repeated_serving_periods())
        if repeated:
            aside = [
                {**{k: v for k, v in r["doc"].items() if k not in ("_id", "_rev")}, "keptId": layout.node_id(r["kept"])}
                for r in repeated
            ]
            await _rows(trx, aql.insert_documents(layout.SERVING_DUPLICATES_COLLECTION, aside))
            ids = [r["doc"]["_id"] for r in repeated]
            for edge_kind in edge_kinds:
                await _rows(trx, aql.remove_edges_to(edge_kind, ids))
            await _rows(trx, aql.remove_documents(servingperf, [r["doc"]["_key"] for r in repeated]))
    except BaseException:
        await trx.abort_transaction()
        raise
    await trx.commit_transaction()
    return len(repeated)


def _checked(index: Index) -> bool:
    """Whether init-db looks for repeated values before building ``index``: every unique
    index but the serving periods' (whose repeats it sets aside first), the history's
    (a collection only Metagate writes, its keys made from the same fields), the
    metric points' positions (only Metagate writes them, each history numbered once) and
    the change log's (numbered by one counter)."""
    return index.unique and index.name not in _UNCHECKED


_UNCHECKED = frozenset(
    {
        "metagate_serving_period",
        "metagate_history_seq",
        "metagate_metric_seq",
        "metagate_changes_seq",
        "metagate_change_nodes_node",
    }
)


def repeated_value_lines(index: Index, rows: list[dict[str, Any]]) -> list[str]:
    """One line for each repeated value of ``index`` (``aql.repeated_values``' rows):
    the documents that share it, by their Metagate ids."""
    kind = layout.KINDS_BY_COLLECTION[index.collection]
    attributes = ", ".join(index.fields)
    lines = []
    for row in rows[:_SHOWN_VALUES]:
        ids = [f"{kind.value}/{key}" for key in row["keys"]]
        more = row["count"] - len(ids)
        holders = f"{', '.join(ids)} and {more} more" if more > 0 else f"{', '.join(ids[:-1])} and {ids[-1]}"
        value = ", ".join(json.dumps(v, ensure_ascii=False) for v in row["value"])
        lines.append(f"{holders} share {attributes} {value}: index {index.name} on {index.collection} is not built")
    if len(rows) > _SHOWN_VALUES:
        lines.append(f"more values of {attributes} repeat in {index.collection} than the {_SHOWN_VALUES} named")
    return lines


async def _build(db: Any, index: Index, existing: set[str]) -> tuple[bool, list[str]]:
    """Builds ``index`` unless its values repeat: (whether it was created, the lines
    naming the repeated values)."""
    if index.name in existing:
        return False, []
    if _checked(index):
        query = aql.repeated_values(
            index.collection, index.fields, sparse=index.sparse, shown=_SHOWN_DOCUMENTS, most=_SHOWN_VALUES
        )
        lines = repeated_value_lines(index, await _rows(db, query))
        if lines:
            return False, lines
    try:
        # A standard database answers the value itself (Result also covers async jobs).
        created = cast(
            IndexProperties, await db.collection(index.collection).add_index("persistent", list(index.fields), index.options())
        )
    except ArangoServerError as error:
        if error.error_code != errno.UNIQUE_CONSTRAINT_VIOLATED:
            raise
        # Written between the look and the build.
        return False, [f"index {index.name} on {index.collection} is not built: a value repeats (ArangoDB error 1210)"]
    return bool(created.get("isNewlyCreated")), []


def deletion_spans(
    events: Sequence[dict[str, Any]], deleted: Sequence[dict[str, Any]], up_to: int
) -> tuple[list[JSONObject], list[JSONObject]]:
    """The deletion spans, (closed, open), of what the change log says
    (``aql.logged_deletions``' rows, in log order) and the nodes deleted now
    (``aql.deleted_documents``' rows), each with its ``layout.backfill_key``.

    Each deletion logged up to ``up_to`` (a later one's span its writer began) closed by
    the node's next restoration, logged when it may be (a writer restoring a node finds
    no span to close when the backfill has not made it yet); a later deletion of a node
    whose earlier one is still open says a restoration the log did not see, and so ends
    the earlier one unsaid. For each node deleted now, one open span of its document's
    time and reason, keyed as the closed span of the deletion the log holds open would
    be (once restored, a run after sees that one, and inserts nothing), or by the node
    and its time; ``aql.insert_open_spans`` adds it only where the node has no open
    span (one a writer began)."""
    opened: dict[str, tuple[int, JSONObject]] = {}
    closed: list[JSONObject] = []
    for event in events:
        try:
            node = layout.document_id(event["node"])
        except (KeyError, ValueError):
            continue  # no node of a kind known here
        if event["action"] == Action.DELETED.value:
            if event["seq"] > up_to:
                opened.pop(node, None)
            elif node not in opened:
                span = {"node": node, "deletedAt": event["at"], "reason": event.get("reason")}
                opened[node] = (event["seq"], span)
        elif node in opened:
            seq, span = opened.pop(node)
            closed.append({"_key": layout.backfill_key("span", seq, node), **span, "restoredAt": event["at"]})
    open_spans = []
    for d in deleted:
        logged = opened.get(d["node"])
        key = layout.backfill_key("span", logged[0], d["node"]) if logged else layout.backfill_key("span", d["node"], d["at"])
        open_spans.append({"_key": key, "node": d["node"], "deletedAt": d["at"], "reason": d.get("reason"), "restoredAt": None})
    return closed, open_spans


def removed_edges(events: Sequence[dict[str, Any]], declared: dict[str, End | None]) -> list[tuple[str, JSONObject]]:
    """The removed edges' (collection, document) of what the change log says
    (``aql.logged_edge_removals``' rows): each stored from its first time to its
    entry's, keyed by its entry's number and its edge (``layout.backfill_key``).
    ``declared``: the upstream end of each declared edge kind, by name (one not
    declared, or of an edge kind not known here, is left out)."""
    out = []
    for event in events:
        kind, from_id, to_id = event["edge"]
        upstream = None
        if kind.startswith(CUSTOM_EDGE_PREFIX):
            name = kind.removeprefix(CUSTOM_EDGE_PREFIX)
            if name not in declared:
                continue
            upstream = declared[name]
        elif kind not in EDGE_KINDS:
            continue
        try:
            edge = Edge(kind, from_id, to_id, event["createdAt"], upstream=upstream)
            collection, doc = layout.to_removed_edge_document(edge, event["at"])
        except (KeyError, ValueError):
            continue  # an end of no kind known here
        out.append((collection, {"_key": layout.backfill_key("edge", event["seq"], kind, from_id, to_id), **doc}))
    return out


_BATCH = 5000  # a bind value is held whole in the server's memory


async def _insert(db: Any, query: Callable[[list[JSONObject]], aql.Query], documents: list[JSONObject]) -> int:
    """``documents`` inserted by ``query`` (``aql.insert_absent``'s or
    ``aql.insert_open_spans``' form), in batches; returns how many were inserted."""
    inserted = 0
    for start in range(0, len(documents), _BATCH):
        keys = await _rows(db, query(documents[start : start + _BATCH]))
        inserted += sum(1 for key in keys if key is not None)
    return inserted


async def _existing(db: Any, document_ids: set[str]) -> set[str]:
    found: set[str] = set()
    ids = sorted(document_ids)
    for start in range(0, len(ids), _BATCH):
        found.update(await _rows(db, aql.existing_documents(ids[start : start + _BATCH])))
    return found


async def backfill_deletions(db: Any, up_to: int) -> int:
    """Fills ``metagate_deletions`` from the change log and the nodes deleted now (see
    ``deletion_spans``), but for nodes that are gone and spans there already (by key,
    or an open one of the node); returns how many spans it inserted."""
    events = await _rows(db, aql.logged_deletions())
    deleted = await _rows(db, aql.deleted_documents())
    closed, open_spans = deletion_spans(events, deleted, up_to)
    present = await _existing(db, {s["node"] for s in closed})
    closed = [s for s in closed if s["node"] in present]
    inserted = await _insert(db, partial(aql.insert_absent, layout.DELETIONS_COLLECTION), closed)
    return inserted + await _insert(db, aql.insert_open_spans, open_spans)


async def backfill_removed_edges(db: Any, up_to: int) -> int:
    """Fills the removed edges' collections from the change log's entries up to
    ``up_to`` (see ``removed_edges``), but for edges with an end that is gone and those
    there already (by key); returns how many edges it inserted."""
    events = await _rows(db, aql.logged_edge_removals(up_to))
    [kinds] = await _rows(db, aql.declared_kinds())
    declared = {k["_key"]: End(k["upstream"]) if k.get("upstream") else None for k in kinds["edges"]}
    kept = removed_edges(events, declared)
    present = await _existing(db, {end for _, doc in kept for end in (doc["_from"], doc["_to"])})
    by_collection: dict[str, list[JSONObject]] = {}
    for collection, doc in kept:
        if doc["_from"] in present and doc["_to"] in present:
            by_collection.setdefault(collection, []).append(doc)
    inserted = 0
    for collection, docs in by_collection.items():
        inserted += await _insert(db, partial(aql.insert_absent, collection), docs)
    return inserted


async def _backfill_bound(db: Any, collections: Collection[str]) -> int | None:
    """Where the backfill of the as-of ``collections`` stops (``aql.begin_backfill``),
    recorded when one of them is missing (before init-db creates it), or as a run before
    recorded it; None when it is done, or when they were there without a record."""
    missing = [c for c in collections if not await db.has_collection(c)]
    if missing:
        await _rows(db, aql.begin_backfill())
    marks = await _rows(db, aql.backfill_mark())
    if not marks or marks[0].get("done"):
        return None
    return int(marks[0]["upTo"])


async def init_db(settings: ArangoSettings) -> list[str]:
    """Brings the database up to Metagate's layout; returns what it did. Raises
    ``RepeatedValues`` (after building every other index) when values repeat where an
    index would make them unique."""
    done: list[str] = []
    refused: list[str] = []
    auth = Auth(username=settings.username, password=settings.password)
    with map_errors():
        async with ArangoClient(hosts=settings.hosts) as client:
            db = await client.db(settings.database, auth=auth)
            # A user with rights on this database alone need not reach _system.
            if not await _database_exists(db):
                system = await client.db("_system", auth=auth, verify=True)
                await system.create_database(settings.database)
                done.append(f"created database {settings.database}")
                db = await client.db(settings.database, auth=auth, verify=True)
            for collection in layout.VERTEX_COLLECTIONS.values():
                if not await db.has_collection(collection):
                    await db.create_collection(collection)
                    done.append(f"created vertex collection {collection}")
            # Before the as-of collections exist (and writers, which write them, can
            # write), where their backfill from the change log stops: the counter now.
            if not await db.has_collection(layout.SEQUENCES_COLLECTION):
                await db.create_collection(layout.SEQUENCES_COLLECTION)
                done.append(f"created collection {layout.SEQUENCES_COLLECTION}")
            up_to = await _backfill_bound(db, (layout.DELETIONS_COLLECTION, *layout.REMOVED_EDGE_COLLECTIONS))
            edge_collections = (
                *(e.name for e in layout.EDGE_COLLECTIONS.values()),
                *layout.CUSTOM_EDGE_COLLECTIONS,
                *layout.REMOVED_EDGE_COLLECTIONS,
            )
            for name in edge_collections:
                if not await db.has_collection(name):
                    await db.create_collection(name, col_type=CollectionType.EDGE)
                    done.append(f"created edge collection {name}")
            for own in (
                layout.TOKENS_COLLECTION,
                layout.IDEMPOTENCY_COLLECTION,
                layout.SERVING_DUPLICATES_COLLECTION,
                layout.HISTORY_COLLECTION,
                layout.OPENLINEAGE_COLLECTION,
                layout.METRIC_POINTS_COLLECTION,
                layout.NODE_KINDS_COLLECTION,
                layout.EDGE_KINDS_COLLECTION,
                layout.CHANGES_COLLECTION,
                layout.CHANGE_NODES_COLLECTION,
                layout.SEQUENCES_COLLECTION,
                layout.DELETIONS_COLLECTION,
            ):
                if not await db.has_collection(own):
                    await db.create_collection(own)
                    done.append(f"created collection {own}")
            if not await db.has_graph(settings.graph):
                await db.create_graph(settings.graph, edge_definitions=edge_definitions())
                done.append(f"created graph {settings.graph}")
            else:
                graph: Graph[Any, Any, Any] = db.graph(settings.graph)
                for definition in edge_definitions():
                    if not await graph.has_edge_definition(definition["collection"]):
                        await graph.create_edge_definition(definition["collection"], definition["from"], definition["to"])
                        done.append(f"added edge definition {definition['collection']}")
            # The unique index over serving periods cannot be built while a period repeats.
            moved = await set_aside_repeated_periods(db)
            if moved:
                done.append(
                    f"moved {moved} serving-perf records that repeated a period to {layout.SERVING_DUPLICATES_COLLECTION}"
                    " (the oldest record of each period is kept)"
                )
            existing: dict[str, set[str]] = {}
            for index in indexes():
                if index.collection not in existing:
                    listed = await db.collection(index.collection).indexes()
                    existing[index.collection] = {i.get("name") for i in cast(list[IndexProperties], listed)}
                created, lines = await _build(db, index, existing[index.collection])
                if created:
                    done.append(f"created index {index.name} on {index.collection}")
                refused += lines
            # Once the indexes are built; to the end, whatever ran before (a run cut
            # short does it again, inserting only what is not there yet).
            if up_to is not None:
                spans = await backfill_deletions(db, up_to)
                if spans:
                    done.append(f"filled {layout.DELETIONS_COLLECTION} with {spans} deletion spans from the change log")
                removed = await backfill_removed_edges(db, up_to)
                if removed:
                    filled = " and ".join(layout.REMOVED_EDGE_COLLECTIONS)
                    done.append(f"filled {filled} with {removed} removed edges from the change log")
                await _rows(db, aql.end_backfill())
    if refused:
        refused.append("make those values unique and run `metagate init-db` again: every other index is built")
        raise RepeatedValues(refused, done)
    return done

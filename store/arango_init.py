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
from collections.abc import Sequence
from dataclasses import dataclass
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
from metagate.store.errors import Conflict
from metagate.store.model import EDGE_KINDS, Kind

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
            for name in (*(e.name for e in layout.EDGE_COLLECTIONS.values()), *layout.CUSTOM_EDGE_COLLECTIONS):
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
    if refused:
        refused.append("make those values unique and run `metagate init-db` again: every other index is built")
        raise RepeatedValues(refused, done)
    return done

"""Soft delete: ``deleteNode`` marks a node deleted, with the nodes that exist only
through it (the data dictionary's: a run's model params and dev performance, a
deployment's serving performance), and ``restoreNode`` brings them back. A deleted node
keeps its parts, its edges and its history; every read but one by id leaves it out, and
its name is free for another. ``purge`` removes nodes deleted long enough ago for good
(``metagate gc``)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from metagate.resolvers.authz import check_project
from metagate.resolvers.hub import reason as checked_reason
from metagate.store.errors import Conflict, MetagateError, NotFound
from metagate.store.model import EDGE_KINDS, KINDS, Edge, Kind, Node, Step, format_time, utcnow
from metagate.store.port import NameKey, NeighborRequest, ServingPeriod, Store, Tx, atomically

# The nodes that exist only through a node of a kind: the edges that lead to them.
DEPENDENTS: dict[Kind, tuple[str, ...]] = {
    Kind.RUN: ("run_modelparams", "run_devperf"),
    Kind.DEPLOYMENT: ("deployment_servingperf",),
}
# The edge that leads to a dependent from the node it exists through, by its kind.
OWNER_EDGE: dict[Kind, str] = {
    Kind.MODELPARAMS: "run_modelparams",
    Kind.DEVPERF: "run_devperf",
    Kind.SERVINGPERF: "deployment_servingperf",
}
_PAGE = 1000
# The edge kinds a node has at most one of at its from end (a run's model, a
# deployment's served version): the navigation fields that lead to one node.
ONE_EACH = frozenset(
    n.edge_kind
    for spec in KINDS.values()
    for n in spec.navigation
    if n.step is Step.OUT and not n.many and n.edge_kind in EDGE_KINDS
)
# How many of the nodes a call deleted or restored its answer lists (it counts them all).
LISTED = 100


@dataclass
class Deletion:
    """The node asked for, as it is now, and every node the call deleted or restored
    (the node first; none when it was so already)."""

    node: Node
    nodes: list[Node]


async def _dependents(tx: Tx, node: Node) -> list[Node]:
    """The nodes that exist through ``node``, read along its live edges (or, when it is
    deleted, its hidden ones), every page of them."""
    found: list[Node] = []
    for edge_kind in DEPENDENTS.get(node.kind, ()):
        after = None
        while True:
            request = NeighborRequest(node.id, edge_kind, Step.OUT, _PAGE, after, from_deleted=node.deleted_at is not None)
            [page] = await tx.neighbors([request])
            found.extend(n for n, _ in page.items)
            if not page.has_next:
                break
            after = page.items[-1][1]
    return found


async def _shared(tx: Tx, nodes: list[Node]) -> set[str]:
    """Those of a run's dependents that a live deployment uses too (its model params):
    they exist through more than the run, and stay."""
    params = [n for n in nodes if n.kind is Kind.MODELPARAMS]
    pages = await tx.neighbors([NeighborRequest(n.id, "deployment_modelparams", Step.IN, 1) for n in params])
    return {n.id for n, page in zip(params, pages, strict=True) if page.items}


async def _node(tx: Tx, node_id: str) -> Node:
    [node] = await tx.get_nodes([node_id], deleted=True)
    if node is None:
        raise NotFound("id: no node with this id", field="id")
    return node


async def delete_node(
    store: Store, *, node_id: str, reason: str | None = None, allowed_projects: frozenset[str] | None = None
) -> Deletion:
    """Deletes a live node and its dependents; one deleted already is answered as it is."""
    why = checked_reason(reason)

    async def work(tx: Tx) -> Deletion:
        node = await _node(tx, node_id)
        if node.deleted_at is not None:
            return Deletion(node, [])
        await check_project(tx, allowed_projects, node)
        dependents = await _dependents(tx, node)
        shared = await _shared(tx, dependents)
        ids = [node.id, *(d.id for d in dependents if d.id not in shared)]
        await tx.delete_nodes(ids, utcnow(), why)
        deleted = await tx.get_nodes(ids, deleted=True)
        return Deletion(await _node(tx, node_id), [n for n in deleted if n is not None])

    return await atomically(store, work)


async def _owner(tx: Tx, node: Node) -> Node | None:
    """The node a dependent exists through, read along its hidden edge."""
    edge_kind = OWNER_EDGE.get(node.kind)
    if edge_kind is None:
        return None
    [page] = await tx.neighbors([NeighborRequest(node.id, edge_kind, Step.IN, 1, from_deleted=True)])
    if not page.items:
        return None
    [owner] = await tx.get_nodes([page.items[0][0].id], deleted=True)
    return owner


async def _taken(tx: Tx, node: Node) -> str | None:
    """What a live node holds that ``node`` would hold again: its name in its scope, a
    run's deploymentTag, a deployment's tag, a serving period. None when nothing is."""
    if node.name is not None:
        [named] = await tx.find_named([NameKey(node.kind, node.name, node.scope)])
        if named:
            return f"its name {node.name!r} is taken by another {node.kind.value}"
    unique = {Kind.RUN: "deploymentTag", Kind.DEPLOYMENT: "tag"}.get(node.kind)
    value = node.fields.get(unique) if unique else None
    if unique and isinstance(value, str) and value and await tx.find_by_field(node.kind, unique, value):
        return f"its {unique} {value!r} is another {node.kind.value}'s now"
    start, end = node.fields.get("periodStart"), node.fields.get("periodEnd")
    if node.kind is Kind.SERVINGPERF and isinstance(start, str) and isinstance(end, str) and node.scope:
        [held] = await tx.find_serving_perf([ServingPeriod(node.scope, start, end)])
        if held is not None:
            return "its period was logged again for the deployment"
    return None


async def restore_node(store: Store, *, node_id: str, allowed_projects: frozenset[str] | None = None) -> Deletion:
    """Restores a deleted node and the dependents deleted with it; a live one is answered
    as it is. CONFLICT when what it held is another's now, or it exists through a
    deleted node (restore that one)."""

    async def work(tx: Tx) -> Deletion:
        node = await _node(tx, node_id)
        if node.deleted_at is None:
            return Deletion(node, [])
        owner = await _owner(tx, node)
        if owner is not None and owner.deleted_at is not None:
            raise Conflict(f"id: it exists through a deleted {owner.kind.value}: restore that one", field="id")
        # The dependents deleted with it (a dependent deleted on its own before stays so).
        together = [d for d in await _dependents(tx, node) if d.deleted_at == node.deleted_at]
        for n in (node, *together):
            taken = await _taken(tx, n)
            if taken is not None:
                raise Conflict(f"id: cannot restore it: {taken}", field="id")
        ids = [node.id, *(d.id for d in together)]
        await _drop_replaced(tx, [node, *together])
        await tx.restore_nodes(ids)
        # Checked live, as the node is now: a writer restores in its own projects only.
        restored = await _node(tx, node_id)
        await check_project(tx, allowed_projects, restored)
        return Deletion(restored, [n for n in await tx.get_nodes(ids) if n is not None])

    return await atomically(store, work)


log = logging.getLogger("metagate")


async def _drop_replaced(tx: Tx, nodes: list[Node]) -> None:
    """Removes the hidden edges to ``nodes`` whose live from end has one of that kind
    again: a deployment served another version while the one restored was deleted (or
    a run logged another dev perf). Restored, they would give it two."""
    asked = [(n, kind) for n in nodes for kind in sorted(ONE_EACH) if EDGE_KINDS[kind].to_kind is n.kind]
    pages = await tx.neighbors([NeighborRequest(n.id, kind, Step.IN, _PAGE, from_deleted=True) for n, kind in asked])
    held = [(n, kind, other) for (n, kind), page in zip(asked, pages, strict=True) for other, _ in page.items]
    held = [(n, kind, other) for n, kind, other in held if other.deleted_at is None]
    if not held:
        return
    live = await tx.neighbors([NeighborRequest(other.id, kind, Step.OUT, 1) for _, kind, other in held])
    replaced = [Edge(kind, other.id, n.id, "") for (n, kind, other), page in zip(held, live, strict=True) if page.items]
    await tx.delete_edges(replaced)


@dataclass
class Purged:
    nodes: int
    batches: int


async def purge(
    store: Store,
    older_than: dt.timedelta,
    *,
    batch: int = 500,
    pause: float = 0.0,
    progress: Callable[[int], None] | None = None,
    now: dt.datetime | None = None,
) -> Purged:
    """Removes for good every node deleted more than ``older_than`` ago, ``batch`` nodes
    a transaction (each short: readers and writers go on between them, ``pause``
    seconds apart); ``progress`` hears how many each batch removed."""
    before = format_time((now or dt.datetime.now(dt.UTC)) - older_than)
    total = batches = 0
    while True:
        removed = await store.purge_deleted(before, batch)
        if not removed:
            return Purged(total, batches)
        total += len(removed)
        batches += 1
        if progress is not None:
            progress(len(removed))
        if pause:
            await asyncio.sleep(pause)


async def retain(store: Store, retention: dt.timedelta, *, every: float = 3600.0, batch: int = 500) -> None:
    """Runs ``purge`` of nodes deleted longer than ``retention`` ago every ``every``
    seconds, for as long as it is not cancelled (the gateway's retention setting)."""
    while True:
        try:
            done = await purge(store, retention, batch=batch, pause=0.05)
            if done.nodes:
                log.info("retention: purged %d nodes deleted over %s ago", done.nodes, retention)
        except MetagateError as error:
            log.warning("retention: purging deleted nodes failed, tried again later: %s", error.message)
        await asyncio.sleep(every)

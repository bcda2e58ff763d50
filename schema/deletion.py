"""deleteNode and restoreNode: soft delete that keeps the graph."""

from __future__ import annotations

import strawberry

from metagate.resolvers import deletion
from metagate.resolvers.ids import decode_id
from metagate.schema.context import Info
from metagate.schema.types import NodeType, wrap


@strawberry.input
class DeleteNodeInput:
    id: strawberry.ID
    reason: str | None = strawberry.field(default=None, description="Why: kept with the node and in its history.")


@strawberry.input
class RestoreNodeInput:
    id: strawberry.ID


@strawberry.type
class DeleteNodePayload:
    node: NodeType = strawberry.field(description="The node, with its deletedAt.")
    deleted: list[NodeType] = strawberry.field(
        description="What this call deleted: the node and the nodes that exist only through it (a run's model"
        " params and dev performance, a deployment's serving performance), the first 100 of them. Empty when it"
        " was deleted already."
    )
    count: int = strawberry.field(description="How many nodes this call deleted.")


@strawberry.type
class RestoreNodePayload:
    node: NodeType
    restored: list[NodeType] = strawberry.field(
        description="What this call restored: the node and its dependents deleted with it, the first 100 of them."
        " Empty when it was live."
    )
    count: int = strawberry.field(description="How many nodes this call restored.")


@strawberry.type
class DeletionMutation:
    @strawberry.mutation(
        description="Deletes a node, and the nodes that exist only through it. Deleted nodes keep their parts,"
        " edges and history: node(id) answers them with deletedAt; lists, search, navigation and lineage leave"
        " them out unless asked to includeDeleted. Their names are free to register again. `metagate gc`"
        " removes them for good once they are old enough."
    )
    async def delete_node(self, info: Info, input: DeleteNodeInput) -> DeleteNodePayload:
        ctx = info.context
        done = await deletion.delete_node(
            ctx.store, node_id=decode_id(input.id), reason=input.reason, allowed_projects=ctx.allowed_projects
        )
        ctx.loaders.clear()
        listed = [wrap(n) for n in done.nodes[: deletion.LISTED]]
        return DeleteNodePayload(node=wrap(done.node), deleted=listed, count=len(done.nodes))

    @strawberry.mutation(
        description="Restores a deleted node and what was deleted with it. CONFLICT when its name (or a run's"
        " deploymentTag, a deployment's tag, a serving period) was registered again meanwhile, or when it exists"
        " only through a node that is still deleted."
    )
    async def restore_node(self, info: Info, input: RestoreNodeInput) -> RestoreNodePayload:
        ctx = info.context
        done = await deletion.restore_node(ctx.store, node_id=decode_id(input.id), allowed_projects=ctx.allowed_projects)
        ctx.loaders.clear()
        listed = [wrap(n) for n in done.nodes[: deletion.LISTED]]
        return RestoreNodePayload(node=wrap(done.node), restored=listed, count=len(done.nodes))

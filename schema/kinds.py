"""User-defined kinds: an admin's declareNodeKind and declareEdgeKind, a writer's
logCustomNode and linkNodes, and the queries nodeKinds, edgeKinds and customNodes. Every
node of a declared kind is a CustomNode: the schema does not change when a kind is
declared."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

import strawberry
from strawberry.scalars import JSON

from metagate.resolvers import kinds, queries
from metagate.resolvers.ids import decode_id, encode_id
from metagate.resolvers.registry import Then
from metagate.schema.context import Context, Info
from metagate.schema.inputs import NodeFilter, NodeOrder
from metagate.schema.types import TYPES, Connection, EdgeKindEnum, LineageEdge, connection, wrap
from metagate.store.model import EdgeKindDecl, End, Kind, NodeKindDecl, parse_time

CustomNode = TYPES[Kind.CUSTOM]
_KEY_HELP = "A retry with the same key writes nothing and answers with what the first call wrote."


def _key(ctx: Context, key: str | None) -> str | None:
    from metagate.schema.mutation import _key as namespaced

    return namespaced(ctx, key)


@strawberry.enum(description="Which end of a declared edge is upstream: what the other end was derived from.")
class EdgeUpstream(enum.Enum):
    FROM = "from"
    TO = "to"
    NONE = "none"


@strawberry.type(description="A node kind an admin declared; its nodes are CustomNodes with this customKind.")
class NodeKindDeclaration:
    name: str
    description: str | None
    schema: JSON | None = strawberry.field(description="The JSON Schema its nodes' attributes meet; null: any object.")
    created_at: dt.datetime


@strawberry.type(description="An edge kind an admin declared between two kinds (built-in or declared).")
class EdgeKindDeclaration:
    name: str
    from_kind: str = strawberry.field(description="A built-in kind (dataset, model, ...) or a declared node kind.")
    to_kind: str
    upstream: EdgeUpstream = strawberry.field(description="NONE: grouping only, lineage does not walk it.")
    description: str | None
    created_at: dt.datetime


def _node_kind(k: NodeKindDecl) -> NodeKindDeclaration:
    schema = JSON(k.schema) if k.schema is not None else None
    return NodeKindDeclaration(name=k.name, description=k.description, schema=schema, created_at=parse_time(k.created_at))


def _edge_kind(k: EdgeKindDecl) -> EdgeKindDeclaration:
    upstream = EdgeUpstream.NONE if k.upstream is None else EdgeUpstream(k.upstream.value)
    return EdgeKindDeclaration(
        name=k.name,
        from_kind=k.from_kind,
        to_kind=k.to_kind,
        upstream=upstream,
        description=k.description,
        created_at=parse_time(k.created_at),
    )


@strawberry.input(
    description="A node kind: its name (a-z, 0-9, _; not a built-in kind's) and, optionally, the JSON Schema"
    " (draft 2020-12 unless it names another with $schema) that its nodes' attributes must meet on every write."
)
class DeclareNodeKindInput:
    name: str
    description: str | None = None
    schema: JSON | None = None


@strawberry.input(
    description="An edge kind from one kind to another (each a built-in kind such as dataset, or a declared node"
    " kind), and its upstream end: TO when the from end was derived from the to end, FROM the other way round,"
    " NONE for grouping only."
)
class DeclareEdgeKindInput:
    name: str
    from_kind: str
    to_kind: str
    upstream: EdgeUpstream
    description: str | None = None


@strawberry.type
class DeclareNodeKindPayload:
    kind: NodeKindDeclaration
    created: bool = strawberry.field(description="False when the same declaration was stored already.")


@strawberry.type
class DeclareEdgeKindPayload:
    kind: EdgeKindDeclaration
    created: bool = strawberry.field(description="False when the same declaration was stored already.")


@strawberry.input(description="A link of the node logged: fromId links from that node to it, toId from it to that node.")
class CustomLinkInput:
    edge_kind: str
    from_id: strawberry.ID | None = None
    to_id: strawberry.ID | None = None


@strawberry.input(
    description="A node of a declared kind, with its links, in one write. A name its kind has already returns the"
    " stored node (created: false) and adds the links it does not have yet."
)
class LogCustomNodeInput:
    kind: str
    name: str
    tags: list[str] | None = None
    attributes: JSON | None = None
    links: list[CustomLinkInput] | None = None
    idempotency_key: str | None = strawberry.field(default=None, description=_KEY_HELP)


@strawberry.type
class LogCustomNodePayload:
    node: CustomNode  # type: ignore[valid-type]
    created: bool


@strawberry.input(description="An edge of a declared kind between two nodes of its two kinds.")
class LinkNodesInput:
    edge_kind: str
    from_id: strawberry.ID
    to_id: strawberry.ID


@strawberry.type
class LinkNodesPayload:
    edge: LineageEdge
    created: bool = strawberry.field(description="False when the edge was stored already.")


def _links(given: list[CustomLinkInput] | None) -> list[kinds.LinkSpec]:
    out = []
    for i, link in enumerate(given or ()):
        out.append(
            kinds.LinkSpec(
                link.edge_kind,
                decode_id(link.from_id, field=f"links[{i}].fromId") if link.from_id is not None else None,
                decode_id(link.to_id, field=f"links[{i}].toId") if link.to_id is not None else None,
            )
        )
    return out


async def _log_custom_node(ctx: Context, input: LogCustomNodeInput, then: Then | None = None) -> Any:
    return await kinds.log_custom_node(
        ctx.store,
        kind=input.kind,
        name=input.name,
        tags=input.tags,
        attributes=input.attributes,
        links=_links(input.links),
        allowed_projects=ctx.allowed_projects,
        idempotency_key=_key(ctx, input.idempotency_key),
        then=then,
    )


# The writes as the compiled path runs them (schema.mutation.WRITES takes these in).
KIND_WRITES: dict[str, tuple[Any, Any]] = {
    "logCustomNode": (_log_custom_node, lambda r: {"node": r.node.id, "created": r.created}),
}


@strawberry.type
class KindMutation:
    @strawberry.mutation(description="Declares a node kind (admin). The same declaration again changes nothing.")
    async def declare_node_kind(self, info: Info, input: DeclareNodeKindInput) -> DeclareNodeKindPayload:
        r = await kinds.declare_node_kind(info.context.store, name=input.name, description=input.description, schema=input.schema)
        assert isinstance(r.kind, NodeKindDecl)
        return DeclareNodeKindPayload(kind=_node_kind(r.kind), created=r.created)

    @strawberry.mutation(
        description="Declares an edge kind (admin); lineage walks it from then on, its upstream end as declared."
    )
    async def declare_edge_kind(self, info: Info, input: DeclareEdgeKindInput) -> DeclareEdgeKindPayload:
        upstream = None if input.upstream is EdgeUpstream.NONE else End(input.upstream.value)
        r = await kinds.declare_edge_kind(
            info.context.store,
            name=input.name,
            from_kind=input.from_kind,
            to_kind=input.to_kind,
            upstream=upstream,
            description=input.description,
        )
        assert isinstance(r.kind, EdgeKindDecl)
        return DeclareEdgeKindPayload(kind=_edge_kind(r.kind), created=r.created)

    @strawberry.mutation(description="Logs a node of a declared kind with its links, in one write.")
    async def log_custom_node(self, info: Info, input: LogCustomNodeInput) -> LogCustomNodePayload:
        r = await _log_custom_node(info.context, input)
        info.context.loaders.clear()
        return LogCustomNodePayload(node=wrap(r.node), created=r.created)

    @strawberry.mutation(description="Links two nodes by a declared edge kind; linking them again changes nothing.")
    async def link_nodes(self, info: Info, input: LinkNodesInput) -> LinkNodesPayload:
        r = await kinds.link_nodes(
            info.context.store,
            edge_kind=input.edge_kind,
            from_id=decode_id(input.from_id, field="fromId"),
            to_id=decode_id(input.to_id, field="toId"),
            allowed_projects=info.context.allowed_projects,
        )
        info.context.loaders.clear()
        e = r.edge
        edge = LineageEdge(
            id=strawberry.ID(encode_id(e.id)),
            kind=EdgeKindEnum("custom"),
            custom_kind=input.edge_kind,
            from_id=strawberry.ID(encode_id(e.from_id)),
            to_id=strawberry.ID(encode_id(e.to_id)),
            created_at=parse_time(e.created_at),
        )
        return LinkNodesPayload(edge=edge, created=r.created)


@strawberry.type
class KindQuery:
    @strawberry.field(description="The declared node kinds, by name.")
    async def node_kinds(self, info: Info) -> list[NodeKindDeclaration]:
        nodes, _ = await info.context.store.declared_kinds()
        return [_node_kind(k) for k in nodes]

    @strawberry.field(description="The declared edge kinds, by name.")
    async def edge_kinds(self, info: Info) -> list[EdgeKindDeclaration]:
        _, edges = await info.context.store.declared_kinds()
        return [_edge_kind(k) for k in edges]

    @strawberry.field(description="The nodes of one declared kind, newest first unless ordered otherwise.")
    async def custom_nodes(
        self,
        info: Info,
        kind: str,
        filter: NodeFilter | None = None,
        order_by: NodeOrder | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[CustomNode]:  # type: ignore[valid-type]
        f = filter.to_filter() if filter else queries.Filter()
        f.scope = kind
        args = queries.ListArgs(
            kinds=(Kind.CUSTOM,),
            filter=f,
            order=order_by.to_order() if order_by else queries.Order(),
            first=first,
            after=after,
        )
        return connection(await queries.list_nodes(info.context.store, info.context.limits, args))

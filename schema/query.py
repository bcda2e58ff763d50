"""The root Query."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import strawberry

from metagate.resolvers import queries, validate
from metagate.resolvers.ids import decode_id
from metagate.schema.changes import AuditQuery
from metagate.schema.context import Info
from metagate.schema.hub import HubQuery
from metagate.schema.inputs import (
    AttributeInput,
    DeploymentFilter,
    ModelFilter,
    NodeFilter,
    NodeOrder,
    RunFilter,
    RunOrder,
)
from metagate.schema.kinds import KindQuery
from metagate.schema.types import (
    Connection,
    Dataset,
    Deployment,
    Featureset,
    Lineage,
    Model,
    NodeType,
    Project,
    ProjectSummary,
    Run,
    connection,
    lineage,
    wrap,
)
from metagate.schema.where import DatasetWhere, DeploymentWhere, FeaturesetWhere, ModelWhere, ProjectWhere, RunWhere, to_where
from metagate.store.model import Direction, Kind

INCLUDE_DELETED = "Deleted nodes too (left out otherwise), with their deletedAt."
AS_OF = (
    "Answer from the graph as it was at this time: nodes created by then and not deleted then, with their"
    " attributes, tags and fields as they were, along the edges that stood then; the nodes answered lead to"
    " their neighbours as of the same time. Purged nodes are gone for every time."
)


async def _by_name(info: Info, kind: Kind, name: str, scope: str | None = None) -> NodeType | None:
    node = await queries.by_name(info.context.store, kind, name, scope)
    return wrap(node) if node is not None else None


def list_args(
    kind: Kind,
    filter: NodeFilter | None,
    order_by: NodeOrder | RunOrder | None,
    first: int | None,
    after: str | None,
    where: Any = None,
    include_deleted: bool = False,
) -> queries.ListArgs:
    return queries.ListArgs(
        kinds=(kind,),
        filter=filter.to_filter() if filter else queries.Filter(),
        order=order_by.to_order() if order_by else queries.Order(),
        first=first,
        after=after,
        where=to_where(kind, where) if where is not None else None,
        include_deleted=include_deleted,
    )


def search_args(
    text: str | None,
    tag: str | None,
    attribute: AttributeInput | None,
    deployment_tag: str | None,
    kinds: list[Kind] | None,
    first: int | None,
    after: str | None,
    include_deleted: bool = False,
) -> queries.ListArgs:
    f = NodeFilter(name_contains=validate.text_in_names(text, field="text"), tag=tag, attribute=attribute).to_filter()
    f.deployment_tag = deployment_tag
    kinds_asked = tuple(kinds) if kinds else tuple(Kind)
    return queries.ListArgs(kinds=kinds_asked, filter=f, first=first, after=after, include_deleted=include_deleted)


async def _list(
    info: Info,
    kind: Kind,
    filter: NodeFilter | None,
    order_by: NodeOrder | RunOrder | None,
    first: int | None,
    after: str | None,
    where: Any,
    include_deleted: bool,
) -> Connection[Any]:
    args = list_args(kind, filter, order_by, first, after, where, include_deleted)
    return connection(await queries.list_nodes(info.context.store, info.context.limits, args))


@strawberry.type
class Query(HubQuery, KindQuery, AuditQuery):
    @strawberry.field(description="A node by its global id; NOT_FOUND if there is none.")
    async def node(
        self,
        info: Info,
        id: strawberry.ID,
        as_of: Annotated[dt.datetime | None, strawberry.argument(description=AS_OF)] = None,
    ) -> NodeType:
        if as_of is not None:
            at = validate.time(as_of, field="asOf")
            return wrap(await queries.get_node_at(info.context.store, decode_id(id), at))
        return wrap(await queries.get_node(info.context.loaders, decode_id(id)))

    @strawberry.field(description="Nodes by global id, in the order asked; null where unknown.")
    async def nodes(self, info: Info, ids: list[strawberry.ID]) -> list[NodeType | None]:
        found = await queries.get_nodes(info.context.loaders, info.context.limits, [decode_id(i, field="ids") for i in ids])
        return [wrap(n) if n is not None else None for n in found]

    @strawberry.field
    async def project(self, info: Info, name: str) -> Project | None:
        return await _by_name(info, Kind.PROJECT, name)  # type: ignore[return-value]

    @strawberry.field
    async def dataset(self, info: Info, name: str) -> Dataset | None:
        return await _by_name(info, Kind.DATASET, name)  # type: ignore[return-value]

    @strawberry.field
    async def featureset(self, info: Info, name: str) -> Featureset | None:
        return await _by_name(info, Kind.FEATURESET, name)  # type: ignore[return-value]

    @strawberry.field(description="Model names are unique per project; give projectId if several share it.")
    async def model(self, info: Info, name: str, project_id: strawberry.ID | None = None) -> Model | None:
        scope = decode_id(project_id, Kind.PROJECT, field="projectId") if project_id else None
        return await _by_name(info, Kind.MODEL, name, scope)  # type: ignore[return-value]

    @strawberry.field(description="Run names are unique per model.")
    async def run(self, info: Info, name: str, model_id: strawberry.ID | None = None) -> Run | None:
        scope = decode_id(model_id, Kind.MODEL, field="modelId") if model_id else None
        return await _by_name(info, Kind.RUN, name, scope)  # type: ignore[return-value]

    @strawberry.field
    async def deployment(self, info: Info, name: str) -> Deployment | None:
        return await _by_name(info, Kind.DEPLOYMENT, name)  # type: ignore[return-value]

    @strawberry.field
    async def projects(
        self,
        info: Info,
        filter: NodeFilter | None = None,
        order_by: NodeOrder | None = None,
        first: int | None = None,
        after: str | None = None,
        where: ProjectWhere | None = None,
        include_deleted: Annotated[bool, strawberry.argument(description=INCLUDE_DELETED)] = False,
    ) -> Connection[Project]:
        return await _list(info, Kind.PROJECT, filter, order_by, first, after, where, include_deleted)

    @strawberry.field
    async def datasets(
        self,
        info: Info,
        filter: NodeFilter | None = None,
        order_by: NodeOrder | None = None,
        first: int | None = None,
        after: str | None = None,
        where: DatasetWhere | None = None,
        include_deleted: Annotated[bool, strawberry.argument(description=INCLUDE_DELETED)] = False,
    ) -> Connection[Dataset]:
        return await _list(info, Kind.DATASET, filter, order_by, first, after, where, include_deleted)

    @strawberry.field
    async def featuresets(
        self,
        info: Info,
        filter: NodeFilter | None = None,
        order_by: NodeOrder | None = None,
        first: int | None = None,
        after: str | None = None,
        where: FeaturesetWhere | None = None,
        include_deleted: Annotated[bool, strawberry.argument(description=INCLUDE_DELETED)] = False,
    ) -> Connection[Featureset]:
        return await _list(info, Kind.FEATURESET, filter, order_by, first, after, where, include_deleted)

    @strawberry.field
    async def models(
        self,
        info: Info,
        filter: ModelFilter | None = None,
        order_by: NodeOrder | None = None,
        first: int | None = None,
        after: str | None = None,
        where: ModelWhere | None = None,
        include_deleted: Annotated[bool, strawberry.argument(description=INCLUDE_DELETED)] = False,
    ) -> Connection[Model]:
        return await _list(info, Kind.MODEL, filter, order_by, first, after, where, include_deleted)

    @strawberry.field(
        description='Runs, e.g. filter {metric: {name: "rmse", lt: 0.5}} ordered by'
        ' {field: METRIC, metric: "rmse", direction: ASC}: the best candidates first.'
    )
    async def runs(
        self,
        info: Info,
        filter: RunFilter | None = None,
        order_by: RunOrder | None = None,
        first: int | None = None,
        after: str | None = None,
        where: RunWhere | None = None,
        include_deleted: Annotated[bool, strawberry.argument(description=INCLUDE_DELETED)] = False,
    ) -> Connection[Run]:
        return await _list(info, Kind.RUN, filter, order_by, first, after, where, include_deleted)

    @strawberry.field
    async def deployments(
        self,
        info: Info,
        filter: DeploymentFilter | None = None,
        order_by: NodeOrder | None = None,
        first: int | None = None,
        after: str | None = None,
        where: DeploymentWhere | None = None,
        include_deleted: Annotated[bool, strawberry.argument(description=INCLUDE_DELETED)] = False,
    ) -> Connection[Deployment]:
        return await _list(info, Kind.DEPLOYMENT, filter, order_by, first, after, where, include_deleted)

    @strawberry.field(
        description="Nodes of any kind by name (substring), tag, attribute value or deployment"
        " tag (runs carrying it, the models they trained, the deployment registered from it)."
    )
    async def search(
        self,
        info: Info,
        text: str | None = None,
        tag: str | None = None,
        attribute: AttributeInput | None = None,
        deployment_tag: str | None = None,
        kinds: list[Kind] | None = None,
        first: int | None = None,
        after: str | None = None,
        include_deleted: Annotated[bool, strawberry.argument(description=INCLUDE_DELETED)] = False,
    ) -> Connection[NodeType]:
        args = search_args(text, tag, attribute, deployment_tag, kinds, first, after, include_deleted)
        return connection(await queries.list_nodes(info.context.store, info.context.limits, args))

    @strawberry.field(
        description="The nodes reachable from `id` in `direction`, at most `depth` edges away,"
        " optionally only of `kinds`, with the edges walked. BOTH is the union of UPSTREAM"
        " and DOWNSTREAM; the walk never turns around."
    )
    async def lineage(
        self,
        info: Info,
        id: strawberry.ID,
        direction: Direction = Direction.UPSTREAM,
        depth: int | None = None,
        kinds: list[Kind] | None = None,
        limit: int | None = None,
        include_deleted: Annotated[
            bool, strawberry.argument(description="Walk through and to deleted nodes too, and answer them with their deletedAt.")
        ] = False,
        as_of: Annotated[dt.datetime | None, strawberry.argument(description=AS_OF)] = None,
    ) -> Lineage:
        ctx = info.context
        query, depth_cut = queries.lineage_query(
            ctx.limits,
            node_id=decode_id(id),
            direction=direction,
            depth=depth,
            kinds=kinds,
            limit=limit,
            include_deleted=include_deleted,
            as_of=as_of,
        )
        return lineage(await queries.lineage(ctx.store, ctx.loaders, query, depth_cut))

    @strawberry.field(description="Counts of a project's assets.")
    async def project_summary(self, info: Info, project_id: strawberry.ID) -> ProjectSummary:
        ctx = info.context
        project, counts = await queries.project_counts(
            ctx.store, ctx.loaders, decode_id(project_id, Kind.PROJECT, field="projectId")
        )
        return ProjectSummary(
            project=wrap(project),  # type: ignore[arg-type]
            models=counts.models,
            runs=counts.runs,
            datasets=counts.datasets,
            featuresets=counts.featuresets,
            deployments=counts.deployments,
        )

"""The planner: a validated query operation and its variables become a read plan
(``store.plan``) that the store answers in one query.

Fields are collected as the GraphQL executor collects them (fragments, ``... on Type``,
``@include``/``@skip``, fields merged under one response key), arguments are coerced
and converted as the resolvers receive them and checked by the same functions the
resolvers call. Whatever the plan cannot say (introspection, a mutation, an argument
the resolvers would refuse, a caller who may not read) makes no plan: the executor
answers that operation, with its errors.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import strawberry
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLIncludeDirective,
    GraphQLObjectType,
    GraphQLSkipDirective,
    InlineFragmentNode,
    OperationType,
    SelectionSetNode,
    get_named_type,
    get_operation_ast,
    is_abstract_type,
)
from graphql.execution.values import VariableValues, get_argument_values, get_directive_values
from strawberry.types.arguments import convert_arguments

from metagate.resolvers import queries, validate
from metagate.resolvers.authz import Principal, required_role
from metagate.resolvers.ids import decode_id
from metagate.schema.hub import jobs_args, zoo_args
from metagate.schema.mutation import WRITES
from metagate.schema.query import list_args, search_args
from metagate.schema.variables import variable_values
from metagate.store import plan as p
from metagate.store.errors import MetagateError
from metagate.store.model import KIND_OF_TYPE, KINDS, Kind, ValueType, kind_of
from metagate.store.port import NameKey

_BASE_FIELDS = frozenset({"id", "kind", "name", "createdAt", "deletedAt", "deletedReason", "tags", "attributes", "__typename"})
_LISTS = {
    "projects": Kind.PROJECT,
    "datasets": Kind.DATASET,
    "featuresets": Kind.FEATURESET,
    "models": Kind.MODEL,
    "runs": Kind.RUN,
    "deployments": Kind.DEPLOYMENT,
}
_LOOKUPS = {
    "project": (Kind.PROJECT, None, None),
    "dataset": (Kind.DATASET, None, None),
    "featureset": (Kind.FEATURESET, None, None),
    "deployment": (Kind.DEPLOYMENT, None, None),
    "model": (Kind.MODEL, "project_id", Kind.PROJECT),
    "run": (Kind.RUN, "model_id", Kind.MODEL),
}
_ALL_KINDS = tuple(Kind)


class NotPlanned(Exception):
    """The operation is answered by the executor."""


@dataclass(frozen=True)
class PayloadNode:
    """A payload field that answers a node: the write's result names its id (or None)."""

    key: str
    field: str
    select: p.Selection


@dataclass(frozen=True)
class PayloadList:
    """A payload field that answers a list of payload objects (``logRuns { runs }``)."""

    key: str
    field: str
    parts: tuple[Any, ...]


@dataclass(frozen=True)
class MutationField:
    """One mutation field: the write it runs with its ``input``, and its payload's parts
    (``Const``, ``PayloadNode``, ``PayloadList``, or (key, name) of a value the write's
    result gives, such as ``created``)."""

    key: str
    name: str
    input: Any
    parts: tuple[Any, ...]
    nodes: tuple[FieldNode, ...] = ()  # where its error points, as the executor's does


@dataclass(frozen=True)
class MutationPlan:
    """A mutation operation: each mutation field's write with its payload read in the
    write's transaction, in order, beside any ``__typename``. ``nodes``: each root's field
    nodes, from which the executor can be given the fields not run yet."""

    roots: tuple[p.Const | MutationField, ...]
    nodes: tuple[tuple[FieldNode, ...], ...] = ()


Fields = dict[str, list[FieldNode]]


class _Request:
    """One operation's planning: its fragments and coerced variables."""

    def __init__(self, planner: Planner, fragments: Mapping[str, FragmentDefinitionNode], variables: VariableValues) -> None:
        self.planner = planner
        self.schema = planner.graphql_schema
        self.limits = planner.limits
        self.fragments = fragments
        self.variables = variables

    # -- collecting fields, as the executor does ----------------------------------------

    def collect(self, runtime: GraphQLObjectType, sets: Iterable[SelectionSetNode | None]) -> Fields:
        fields: Fields = {}
        visited: set[str] = set()
        for selection_set in sets:
            if selection_set is not None:
                self._gather(runtime, selection_set, fields, visited)
        return fields

    def _gather(self, runtime: GraphQLObjectType, selection_set: SelectionSetNode, fields: Fields, visited: set[str]) -> None:
        for selection in selection_set.selections:
            if not self._included(selection):
                continue
            if isinstance(selection, FieldNode):
                key = selection.alias.value if selection.alias else selection.name.value
                fields.setdefault(key, []).append(selection)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                if condition is None or self._applies(condition.name.value, runtime):
                    self._gather(runtime, selection.selection_set, fields, visited)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if name in visited or fragment is None:
                    continue
                visited.add(name)
                if self._applies(fragment.type_condition.name.value, runtime):
                    self._gather(runtime, fragment.selection_set, fields, visited)

    def _included(self, node: Any) -> bool:
        skip = get_directive_values(GraphQLSkipDirective, node, self.variables)
        if skip is not None and skip.get("if") is True:
            return False
        include = get_directive_values(GraphQLIncludeDirective, node, self.variables)
        return not (include is not None and include.get("if") is False)

    def _applies(self, condition: str, runtime: GraphQLObjectType) -> bool:
        if condition == runtime.name:
            return True
        conditional = self.schema.get_type(condition)
        return conditional is not None and is_abstract_type(conditional) and self.schema.is_sub_type(conditional, runtime)

    def _object(self, name: str) -> GraphQLObjectType:
        found = self.schema.get_type(name)
        assert isinstance(found, GraphQLObjectType), name
        return found

    # -- arguments ------------------------------------------------------------------------

    def arguments(self, parent: str, nodes: list[FieldNode]) -> dict[str, Any]:
        """The arguments of a field as its resolver receives them (Python names, input
        types built)."""
        node = nodes[0]
        name = node.name.value
        parent_type = self._object(parent)
        raw = get_argument_values(parent_type.fields[name], node, self.variables)
        field = self.planner.strawberry_schema.get_field_for_type(name, parent)
        if field is None:
            raise NotPlanned(f"{parent}.{name}")
        return convert_arguments(
            raw,
            field.arguments,
            scalar_registry=self.planner.strawberry_schema.schema_converter.scalar_registry,
            config=self.planner.strawberry_schema.config,
        )

    # -- nodes ----------------------------------------------------------------------------

    def selection(self, kinds: Iterable[Kind], nodes: list[FieldNode]) -> p.Selection:
        by_kind: dict[Kind, tuple[p.NodeField, ...]] = {}
        for kind in kinds:
            spec = KINDS[kind]
            fields = self.collect(self._object(spec.graphql), (n.selection_set for n in nodes))
            by_kind[kind] = tuple(self._node_field(kind, key, found) for key, found in fields.items())
        return p.Selection(by_kind)

    def _node_field(self, kind: Kind, key: str, nodes: list[FieldNode]) -> p.NodeField:
        name = nodes[0].name.value
        if name in _BASE_FIELDS:
            return p.Base(key, name)
        spec = KINDS[kind]
        typed = spec.typed_field(name)
        if typed is not None:
            argument = self.arguments(spec.graphql, nodes)["name"] if typed.type is ValueType.METRIC else None
            return p.Typed(key, typed.key, typed.type, argument, typed.default)
        navigation = spec.navigation_field(name)
        if navigation is None:
            raise NotPlanned(f"{spec.graphql}.{name}")
        if not navigation.many:
            return p.Follow(key, navigation.edge_kind, navigation.step, self.selection([navigation.target], nodes))
        args = self.arguments(spec.graphql, nodes)
        first, after = queries.neighbor_page_args(self.limits, args.get("first"), args.get("after"))
        parent = self._object(spec.graphql).fields[name]
        page = self.page(parent, [navigation.target], nodes, has_previous=after is not None)
        return p.FollowPage(key, navigation.edge_kind, navigation.step, first, after, page)

    # -- the objects around nodes (pages, edges, lineage, summaries) -------------------

    def parts(
        self,
        field: GraphQLField,
        nodes: list[FieldNode],
        special: Mapping[str, Callable[[str, list[FieldNode]], Any]],
        *,
        plain: bool = True,
    ) -> tuple[Any, ...]:
        """The selected fields of the object ``field`` answers, in answer order:
        ``__typename`` as Const, the fields named in ``special`` as their handler makes
        them from (key, field nodes), any other as (key, name), or not planned unless
        ``plain``."""
        object_type = get_named_type(field.type)
        assert isinstance(object_type, GraphQLObjectType)
        out: list[Any] = []
        for key, found in self.collect(object_type, (n.selection_set for n in nodes)).items():
            name = found[0].name.value
            if name == "__typename":
                out.append(p.Const(key, object_type.name))
            elif name in special:
                out.append(special[name](key, found))
            elif plain:
                out.append((key, name))
            else:
                raise NotPlanned(f"{object_type.name}.{name}")
        return tuple(out)

    def node_at(self, kinds: Sequence[Kind]) -> Callable[[str, list[FieldNode]], p.NodeAt]:
        return lambda key, found: p.NodeAt(key, self.selection(kinds, found))

    def page(self, field: GraphQLField, kinds: Sequence[Kind], nodes: list[FieldNode], *, has_previous: bool) -> p.PageSelection:
        connection = get_named_type(field.type)
        assert isinstance(connection, GraphQLObjectType)
        edge_fields = {"cursor": lambda key, found: p.Cursor(key), "node": self.node_at(kinds)}
        special: dict[str, Callable[[str, list[FieldNode]], Any]] = {
            "nodes": lambda key, found: p.Nodes(key, self.selection(kinds, found)),
            "edges": lambda key, found: p.Edges(key, self.parts(connection.fields["edges"], found, edge_fields)),
            "pageInfo": lambda key, found: p.PageInfo(key, self.parts(connection.fields["pageInfo"], found, {})),
        }
        return p.PageSelection(self.parts(field, nodes, special, plain=False), has_previous)

    # -- roots ----------------------------------------------------------------------------

    def root(self, key: str, nodes: list[FieldNode]) -> p.Root:
        name = nodes[0].name.value
        query_type = self.schema.query_type
        assert query_type is not None
        if name == "__typename":
            return p.Const(key, query_type.name)
        field = query_type.fields.get(name)
        if field is None or name.startswith("__"):
            raise NotPlanned(name)
        args = self.arguments(query_type.name, nodes)
        if name == "node":
            node_id = decode_id(args["id"])
            as_of = validate.time(args.get("as_of"), field="asOf")
            return p.NodeRoot(key, node_id, self.selection(self._kinds_of_ids([node_id]), nodes), as_of)
        if name == "nodes":
            ids = args["ids"]
            if len(ids) > self.limits.max_ids:
                raise NotPlanned("too many ids")
            node_ids = tuple(decode_id(i, field="ids") for i in ids)
            return p.NodesRoot(key, node_ids, self.selection(self._kinds_of_ids(node_ids), nodes))
        if name in _LOOKUPS:
            kind, scope_argument, scope_kind = _LOOKUPS[name]
            given = args.get(scope_argument) if scope_argument else None
            field_name = "projectId" if scope_argument == "project_id" else "modelId"
            scope = decode_id(given, scope_kind, field=field_name) if given and scope_kind else None
            return p.NamedRoot(key, NameKey(kind, validate.name(args["name"]), scope), self.selection([kind], nodes))
        if name in _LISTS or name in ("search", "jobs", "modelZoo"):
            if name == "modelZoo":
                list_arguments = zoo_args(args.get("where"), args.get("first"), args.get("after"))
            elif name == "jobs":
                list_arguments = jobs_args(
                    args.get("status"), args.get("type"), args.get("project_id"), args.get("first"), args.get("after")
                )
            elif name == "search":
                list_arguments = search_args(
                    args.get("text"),
                    args.get("tag"),
                    args.get("attribute"),
                    args.get("deployment_tag"),
                    args.get("kinds"),
                    args.get("first"),
                    args.get("after"),
                    args.get("include_deleted", False),
                )
            else:
                list_arguments = list_args(
                    _LISTS[name],
                    args.get("filter"),
                    args.get("order_by"),
                    args.get("first"),
                    args.get("after"),
                    args.get("where"),
                    args.get("include_deleted", False),
                )
            query = queries.list_query(self.limits, list_arguments)
            page = self.page(field, query.kinds, nodes, has_previous=list_arguments.after is not None)
            return p.ListRoot(key, query, page)
        if name == "lineage":
            return self._lineage(key, field, args, nodes)
        if name == "projectSummary":
            return self._summary(key, field, args, nodes)
        raise NotPlanned(name)

    def mutation_root(self, key: str, nodes: list[FieldNode]) -> p.Const | MutationField:
        name = nodes[0].name.value
        mutation_type = self.schema.mutation_type
        assert mutation_type is not None
        if name == "__typename":
            return p.Const(key, mutation_type.name)
        write = WRITES.get(name)
        if write is None:
            raise NotPlanned(name)
        field = mutation_type.fields[name]
        if write.raw_input:
            given = get_argument_values(field, nodes[0], self.variables)["input"]
        else:
            given = self.arguments(mutation_type.name, nodes)["input"]
        # A payload's `node` (updateAttributes, addTags) is of the kind of the input's id.
        node_id = getattr(given, "id", None)
        kinds = self._kinds_of_ids([decode_id(node_id)]) if node_id is not None else _ALL_KINDS
        return MutationField(key, name, given, self.payload(field, nodes, kinds), tuple(nodes))

    def payload(self, field: GraphQLField, nodes: list[FieldNode], node_kinds: Sequence[Kind]) -> tuple[Any, ...]:
        object_type = get_named_type(field.type)
        assert isinstance(object_type, GraphQLObjectType)
        special: dict[str, Callable[[str, list[FieldNode]], Any]] = {}
        for name, inner in object_type.fields.items():
            named = get_named_type(inner.type)
            if named.name in KIND_OF_TYPE or is_abstract_type(named):
                kinds = [KIND_OF_TYPE[named.name]] if named.name in KIND_OF_TYPE else node_kinds
                special[name] = self._payload_node(name, kinds)
            elif isinstance(named, GraphQLObjectType):
                special[name] = self._payload_list(name, inner, node_kinds)
        return self.parts(field, nodes, special)

    def _payload_node(self, name: str, kinds: Sequence[Kind]) -> Callable[[str, list[FieldNode]], PayloadNode]:
        return lambda key, found: PayloadNode(key, name, self.selection(kinds, found))

    def _payload_list(
        self, name: str, field: GraphQLField, node_kinds: Sequence[Kind]
    ) -> Callable[[str, list[FieldNode]], PayloadList]:
        return lambda key, found: PayloadList(key, name, self.payload(field, found, node_kinds))

    @staticmethod
    def _kinds_of_ids(ids: Iterable[str]) -> tuple[Kind, ...]:
        kinds = {kind_of(i) for i in ids}
        return tuple(k for k in _ALL_KINDS if k in kinds)

    def _lineage(self, key: str, field: GraphQLField, args: dict[str, Any], nodes: list[FieldNode]) -> p.LineageRoot:
        start = decode_id(args["id"])
        query, depth_cut = queries.lineage_query(
            self.limits,
            node_id=start,
            direction=args["direction"],
            depth=args.get("depth"),
            kinds=args.get("kinds"),
            limit=args.get("limit"),
            include_deleted=args.get("include_deleted", False),
            as_of=args.get("as_of"),
        )
        lineage_type = get_named_type(field.type)
        assert isinstance(lineage_type, GraphQLObjectType)
        entry = {"node": self.node_at(query.kinds or _ALL_KINDS)}
        special: dict[str, Callable[[str, list[FieldNode]], Any]] = {
            "root": self.node_at(self._kinds_of_ids([start])),
            "nodes": lambda key, found: p.LineageNodes(key, self.parts(lineage_type.fields["nodes"], found, entry)),
            "edges": lambda key, found: p.LineageEdges(key, self.parts(lineage_type.fields["edges"], found, {})),
        }
        return p.LineageRoot(key, query, depth_cut, self.parts(field, nodes, special))

    def _summary(self, key: str, field: GraphQLField, args: dict[str, Any], nodes: list[FieldNode]) -> p.SummaryRoot:
        project_id = decode_id(args["project_id"], Kind.PROJECT, field="projectId")
        return p.SummaryRoot(key, project_id, self.parts(field, nodes, {"project": self.node_at([Kind.PROJECT])}))


class Planner:
    def __init__(self, schema: strawberry.Schema, limits: queries.Limits, cache_size: int = 512) -> None:
        self.strawberry_schema = schema
        self.graphql_schema = schema._schema
        self.limits = limits
        self.cache_size = cache_size
        self._cache: OrderedDict[tuple[str, str | None, bytes, str], p.Plan | None] = OrderedDict()

    def cached(
        self,
        query: str,
        document: DocumentNode,
        operation_name: str | None,
        variables: Mapping[str, Any] | None,
        principal: Principal | None,
    ) -> p.Plan | None:
        """``plan``, remembered for the same text, operation, variables and role: a page
        asked again (a UI polling, a client paging through the same list) is planned once.
        A plan is a value of those alone; the store is read afresh each time."""
        operation = get_operation_ast(document, operation_name)
        if principal is None or operation is None or operation.operation is not OperationType.QUERY:
            return None  # a mutation's variables (a batch of runs) are not worth keying
        try:
            key = (query, operation_name, orjson.dumps(variables or {}, option=orjson.OPT_SORT_KEYS), principal.role.value)
        except TypeError:
            return self.plan(document, operation_name, variables, principal)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        found = self._cache[key] = self.plan(document, operation_name, variables, principal)
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return found

    def plan(
        self,
        document: DocumentNode,
        operation_name: str | None,
        variables: Mapping[str, Any] | None,
        principal: Principal | None,
    ) -> p.Plan | None:
        """The plan of a validated query operation, or None when the executor answers it."""
        roots = self._roots(document, operation_name, variables, principal, OperationType.QUERY)
        return p.Plan(tuple(root for root, _ in roots)) if roots is not None else None

    def mutation(
        self,
        document: DocumentNode,
        operation_name: str | None,
        variables: Mapping[str, Any] | None,
        principal: Principal | None,
    ) -> MutationPlan | None:
        """The plan of a validated mutation operation, or None when the executor runs it."""
        roots = self._roots(document, operation_name, variables, principal, OperationType.MUTATION)
        if roots is None or not any(isinstance(r, MutationField) for r, _ in roots):
            return None
        return MutationPlan(tuple(root for root, _ in roots), tuple(tuple(nodes) for _, nodes in roots))

    def _roots(
        self,
        document: DocumentNode,
        operation_name: str | None,
        variables: Mapping[str, Any] | None,
        principal: Principal | None,
        kind: OperationType,
    ) -> list[tuple[Any, list[FieldNode]]] | None:
        """The planned root fields of an operation of ``kind`` with their field nodes, or None."""
        operation = get_operation_ast(document, operation_name)
        if operation is None or operation.operation is not kind or principal is None:
            return None
        coerced = variable_values(self.graphql_schema, operation.variable_definitions or (), variables or {})
        if not isinstance(coerced, VariableValues):
            return None
        fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        request = _Request(self, fragments, coerced)
        root_type = self.graphql_schema.query_type if kind is OperationType.QUERY else self.graphql_schema.mutation_type
        assert root_type is not None
        plan_root = request.root if kind is OperationType.QUERY else request.mutation_root
        try:
            roots = []
            for key, nodes in request.collect(root_type, [operation.selection_set]).items():
                name = nodes[0].name.value
                if name != "__typename" and not self._may(principal, root_type.name, name):
                    return None
                roots.append((plan_root(key, nodes), nodes))
        except (NotPlanned, MetagateError, GraphQLError):
            return None
        return roots

    @staticmethod
    def _may(principal: Principal, parent: str, field: str) -> bool:
        needed = required_role(parent, field)
        return needed is not None and principal.may(needed)

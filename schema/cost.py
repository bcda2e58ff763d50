"""The cost limit: before an operation runs, the most objects its answer can hold, and a
refusal with nothing read from the store when that is above ``Limits.max_query_cost``.

Every object the answer can hold counts 1 (connections, edges, pageInfo, payloads and
single objects alike); scalars and enums, and lists of them, count 0. A list of objects
holds its size, and sizes multiply down each path:

- a connection (any field with `first`): `first`, or the default page size, for its
  `nodes` and for its `edges`; `nodes(ids:)`: the number of ids; `lineage`: its `limit`,
  or the default, for its `nodes` and again for its `edges`; `logRuns`: one payload per
  input run. A size above its own limit counts as that limit: it is refused by itself.
- Introspection counts what this schema's answer holds, list by list.

Each response key counts once: aliases each count, fields merged under one key once.
Fragments count for the types they apply to, a field of an abstract type costs as its
costliest possible type, and `@include` / `@skip` are honoured, variables included.

The cost of a document, as a function of its variables, is made once and cached; a
request reads only the variables that cost depends on and evaluates it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, cast

from graphql import (
    BooleanValueNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLCompositeType,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    NamedTypeNode,
    NullValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    ValueNode,
    VariableNode,
    get_named_type,
    get_operation_ast,
    introspection_types,
    is_abstract_type,
    is_composite_type,
    is_introspection_type,
    parse,
    type_from_ast,
    value_from_ast,
)
from graphql import ExecutionResult as GraphQLExecutionResult
from strawberry.extensions import SchemaExtension

from metagate.resolvers import deletion, hub, kinds, steps
from metagate.resolvers.queries import Limits
from metagate.schema.changes import ITEMS_DEFAULT, ITEMS_MOST
from metagate.schema.types import MAX_CURVE_POINTS
from metagate.store.errors import BadUserInput

# --------------------------------------------------------------------------------------
# What sets the size of a list.
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sizing:
    """An argument that sets a list's size: a number, or the length of a list, at `path`
    inside an input object."""

    argument: str
    path: tuple[str, ...]
    length: bool
    default: int  # when the argument is absent or null
    maximum: int  # anything larger is refused on its own


def _fixed(size: int) -> Sizing:
    """The size of a list no argument sets: at most ``size``, always counted as that."""
    return Sizing("", (), length=False, default=size, maximum=size)


def _measure(value: Any, sizing: Sizing) -> int:
    if value is None:
        size = sizing.default
    elif sizing.length:
        size = len(value) if isinstance(value, (list, tuple)) else 1  # a lone value coerces to a list of one
    elif isinstance(value, float) and value.is_integer():
        size = int(value)  # as Int coerces 5.0
    elif isinstance(value, int) and not isinstance(value, bool):
        size = value
    else:
        size = sizing.default  # not an Int: refused before any field resolves
    return max(0, min(size, sizing.maximum))


@dataclass(frozen=True)
class FromVariable:
    """A size read from a variable when the request comes."""

    variable: str
    path: tuple[str, ...]
    sizing: Sizing

    def of(self, values: Mapping[str, Any]) -> int:
        value = values.get(self.variable)
        for key in self.path:
            value = value.get(key) if isinstance(value, Mapping) else None
        return _measure(value, self.sizing)


Size = int | FromVariable

# --------------------------------------------------------------------------------------
# The cost as an expression of the variables: constants fold as it is built, so a
# document whose cost reads no variable is a single number.
# --------------------------------------------------------------------------------------

# Variables and the values that keep a part: (name, True) for @include(if: $name).
Conjunction = frozenset[tuple[str, bool]]
ALWAYS: Conjunction = frozenset()


@dataclass(frozen=True, eq=False)
class Const:
    value: int


@dataclass(frozen=True, eq=False)
class Sum:
    terms: tuple[Expr, ...]


@dataclass(frozen=True, eq=False)
class Times:
    size: Size
    each: Expr


@dataclass(frozen=True, eq=False)
class Largest:
    options: tuple[Expr, ...]


@dataclass(frozen=True, eq=False)
class When:
    any_of: tuple[Conjunction, ...]
    then: Expr


Expr = Const | Sum | Times | Largest | When
ZERO = Const(0)
ONE = Const(1)


def _sum(terms: Sequence[Expr]) -> Expr:
    total = sum(t.value for t in terms if isinstance(t, Const))
    rest = tuple(t for t in terms if not isinstance(t, Const))
    if not rest:
        return Const(total)
    if total == 0 and len(rest) == 1:
        return rest[0]
    return Sum((Const(total), *rest) if total else rest)


def _times(size: Size, each: Expr) -> Expr:
    if isinstance(each, Const) and each.value == 0:
        return ZERO
    if isinstance(size, int):
        if isinstance(each, Const):
            return Const(size * each.value)
        if size <= 1:
            return each if size == 1 else ZERO
    return Times(size, each)


def _largest(options: Sequence[Expr]) -> Expr:
    if not options:
        return ZERO
    if all(isinstance(o, Const) for o in options):
        return Const(max(cast(Const, o).value for o in options))
    if len(options) == 1:
        return options[0]
    return Largest(tuple(options))


def _when(any_of: Sequence[Conjunction], then: Expr) -> Expr:
    if ALWAYS in any_of or (isinstance(then, Const) and then.value == 0):
        return then
    return When(tuple(dict.fromkeys(any_of)), then)


def _holds(conjunction: Conjunction, values: Mapping[str, Any]) -> bool:
    # A variable without a boolean value keeps its part: the cost stays an upper bound.
    return not any(isinstance(values.get(name), bool) and values[name] != wanted for name, wanted in conjunction)


def evaluate(expr: Expr, values: Mapping[str, Any], seen: dict[int, int] | None = None) -> int:
    """The value of `expr` for the variable `values`. Fragments make the
    expression a graph that shares parts; `seen` evaluates each of them once."""
    if isinstance(expr, Const):
        return expr.value
    seen = {} if seen is None else seen
    known = seen.get(id(expr))
    if known is not None:
        return known
    if isinstance(expr, Sum):
        value = sum(evaluate(t, values, seen) for t in expr.terms)
    elif isinstance(expr, Times):
        size = expr.size if isinstance(expr.size, int) else expr.size.of(values)
        value = size * evaluate(expr.each, values, seen) if size else 0
    elif isinstance(expr, Largest):
        value = max(evaluate(o, values, seen) for o in expr.options)
    else:
        value = evaluate(expr.then, values, seen) if any(_holds(c, values) for c in expr.any_of) else 0
    seen[id(expr)] = value
    return value


@dataclass(frozen=True)
class Estimate:
    """The cost of one operation of a document, the variables it reads and their
    defaults."""

    operation: OperationDefinitionNode
    expression: Expr
    reads: tuple[str, ...]
    defaults: Mapping[str, Any]

    def values(self, variables: Mapping[str, Any] | None) -> dict[str, Any]:
        """The values the cost reads. Taken as sent rather than coerced: for what it
        reads (numbers, booleans, the lengths of lists) they are what coercion gives,
        and a value that does not coerce is refused before any field resolves.
        Coercing them here would take about 20 ms for a batch of 1,000 runs."""
        given = variables or {}
        return {name: given[name] if name in given else self.defaults.get(name) for name in self.reads}

    def cost(self, variables: Mapping[str, Any] | None = None) -> int:
        return evaluate(self.expression, self.values(variables))


# --------------------------------------------------------------------------------------
# Compiling a document.
# --------------------------------------------------------------------------------------

Occurrence = tuple[FieldNode, Conjunction]
Sets = tuple[tuple[SelectionSetNode, Conjunction], ...]


class _Introspecting(NamedTuple):
    """What graphql-core's introspection resolvers read of their `info`."""

    schema: GraphQLSchema


def _list_levels(type_: GraphQLOutputType) -> int:
    """How many list levels wrap the named type."""
    levels = 0
    while isinstance(type_, (GraphQLNonNull, GraphQLList)):
        levels += isinstance(type_, GraphQLList)
        type_ = type_.of_type
    return levels


def _argument(node: FieldNode, name: str) -> ValueNode | None:
    return next((a.value for a in node.arguments or () if a.name.value == name), None)


def _identity(value: Any) -> int:
    # Introspection answers a type's fields as fresh (name, field) pairs; the field is
    # what decides the cost, and it lives as long as the schema.
    return id(value[-1]) if isinstance(value, tuple) else id(value)


class _Compiler:
    def __init__(self, costs: QueryCosts, fragments: Mapping[str, FragmentDefinitionNode]) -> None:
        self.costs = costs
        self.schema = costs.schema
        self.fragments = fragments
        self.reads: set[str] = set()
        # The same fragment, reached again by another path, is compiled once.
        self.memo: dict[tuple[Any, ...], Expr] = {}
        self.collected: dict[tuple[Any, ...], dict[str, list[Occurrence]]] = {}
        self.info = _Introspecting(costs.schema)

    def selections(self, sets: Sets, parent: GraphQLCompositeType, inner: Size | None) -> Expr:
        """The cost of what `sets` select of one object of type `parent`."""
        key = ("select", tuple((id(s), c) for s, c in sets), parent.name, inner)
        if key in self.memo:
            return self.memo[key]
        runtime = self.schema.get_possible_types(parent) if is_abstract_type(parent) else [cast(GraphQLObjectType, parent)]
        # An object of an abstract type is one of its possible types: the costliest.
        result = _largest([self._object(self._collect(sets, t), t, inner) for t in runtime])
        self.memo[key] = result
        return result

    def _collect(self, sets: Sets, runtime: GraphQLObjectType) -> dict[str, list[Occurrence]]:
        """The fields `sets` select of an object of type `runtime`, by response key."""
        key = (tuple((id(s), c) for s, c in sets), runtime.name)
        if key in self.collected:
            return self.collected[key]
        fields: dict[str, dict[tuple[int, Conjunction], Occurrence]] = {}
        for selection_set, conjunction in sets:
            self._gather(selection_set, runtime, conjunction, fields, set())
        found = self.collected[key] = {k: list(v.values()) for k, v in fields.items()}
        return found

    def _gather(
        self,
        selection_set: SelectionSetNode,
        runtime: GraphQLObjectType,
        conjunction: Conjunction,
        fields: dict[str, dict[tuple[int, Conjunction], Occurrence]],
        visited: set[tuple[str, Conjunction]],
    ) -> None:
        for selection in selection_set.selections or ():
            kept = self._condition(selection, conjunction)
            if kept is None:
                continue
            if isinstance(selection, FieldNode):
                key = (selection.alias or selection.name).value
                fields.setdefault(key, {})[(id(selection), kept)] = (selection, kept)
            elif isinstance(selection, InlineFragmentNode):
                if self._applies(selection.type_condition, runtime):
                    self._gather(selection.selection_set, runtime, kept, fields, visited)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                if fragment is None or (fragment.name.value, kept) in visited:
                    continue
                visited.add((fragment.name.value, kept))
                if self._applies(fragment.type_condition, runtime):
                    self._gather(fragment.selection_set, runtime, kept, fields, visited)

    def _condition(self, selection: Any, conjunction: Conjunction) -> Conjunction | None:
        """The variables `selection` is kept under, or None if it never is."""
        added: list[tuple[str, bool]] = []
        for directive in selection.directives or ():
            if directive.name.value not in ("include", "skip"):
                continue
            keeps = directive.name.value == "include"  # the value of `if` that keeps it
            condition = next((a.value for a in directive.arguments or () if a.name.value == "if"), None)
            if isinstance(condition, BooleanValueNode) and condition.value != keeps:
                return None
            if isinstance(condition, VariableNode):
                added.append((condition.name.value, keeps))
        if not added:
            return conjunction
        combined = conjunction | frozenset(added)
        if len({name for name, _ in combined}) < len(combined):
            return None  # one variable asked to be both true and false
        self.reads.update(name for name, _ in added)
        return combined

    def _applies(self, condition: NamedTypeNode | None, runtime: GraphQLObjectType) -> bool:
        if condition is None:
            return True
        named = type_from_ast(self.schema, condition)
        return named is runtime or (is_abstract_type(named) and self.schema.is_sub_type(cast(Any, named), runtime))

    def _object(self, fields: dict[str, list[Occurrence]], runtime: GraphQLObjectType, inner: Size | None) -> Expr:
        terms = []
        for occurrences in fields.values():
            node = occurrences[0][0]
            name = node.name.value
            if name in ("__schema", "__type"):
                each = self._meta(node, self._sets(occurrences))
            else:
                field = runtime.fields.get(name)
                named = get_named_type(field.type) if field is not None else None
                if field is None or not is_composite_type(named):
                    continue  # scalars and enums, __typename among them
                items = self.costs.sizing_of_items(runtime.name, name, field)
                child_inner = self._sized(items, node) if items is not None else None
                one = _sum([ONE, self.selections(self._sets(occurrences), named, child_inner)])
                each = _times(self._list_size(runtime, name, field, node, inner), one) if _list_levels(field.type) else one
            terms.append(_when([c for _, c in occurrences], each))
        return _sum(terms)

    @staticmethod
    def _sets(occurrences: list[Occurrence]) -> Sets:
        return tuple((node.selection_set, c) for node, c in occurrences if node.selection_set is not None)

    def _list_size(self, runtime: GraphQLObjectType, name: str, field: GraphQLField, node: FieldNode, inner: Size | None) -> Size:
        own = self.costs.sizing_of_list(runtime.name, name)
        if own is not None:
            return self._sized(own, node)
        if inner is None:
            # QueryCosts refuses to start with a list nothing sizes; this is a bug.
            raise LookupError(f"{runtime.name}.{name}: no size for this list")
        return inner

    def _sized(self, sizing: Sizing, node: FieldNode) -> Size:
        """The size `sizing` reads from the arguments of `node`: known now, or when the
        request brings its variables."""
        value = _argument(node, sizing.argument)
        path = sizing.path
        while path and isinstance(value, ObjectValueNode):
            value = next((f.value for f in value.fields or () if f.name.value == path[0]), None)
            path = path[1:]
        if isinstance(value, VariableNode):
            self.reads.add(value.name.value)
            return FromVariable(value.name.value, path, sizing)
        if path or value is None or isinstance(value, NullValueNode):
            return _measure(None, sizing)
        if sizing.length:
            return _measure((value.values or ()) if isinstance(value, ListValueNode) else [value], sizing)
        return _measure(int(value.value) if isinstance(value, IntValueNode) else None, sizing)

    # Introspection: the schema is known, so each list counts exactly what it holds.

    def _meta(self, node: FieldNode, sets: Sets) -> Expr:
        if node.name.value == "__schema":
            return _sum([ONE, self._introspect(sets, introspection_types["__Schema"], self.schema)])
        type_type = cast(GraphQLObjectType, introspection_types["__Type"])
        name = _argument(node, "name")
        if isinstance(name, StringValueNode):
            named = self.schema.get_type(name.value)
            return _sum([ONE, self._introspect(sets, type_type, named)]) if named is not None else ONE
        # A name from a variable: the costliest type.
        return _sum([ONE, _largest([self._introspect(sets, type_type, t) for t in self.schema.type_map.values()])])

    def _introspect(self, sets: Sets, itype: Any, value: Any) -> Expr:
        key = ("introspect", tuple((id(s), c) for s, c in sets), itype.name, _identity(value))
        if key in self.memo:
            return self.memo[key]
        terms = []
        for occurrences in self._collect(sets, itype).values():
            field = itype.fields.get(occurrences[0][0].name.value)
            named = get_named_type(field.type) if field is not None else None
            if field is None or field.resolve is None or not isinstance(named, GraphQLObjectType):
                continue
            # Deprecated items too: at most what the answer can hold.
            options = {"includeDeprecated": True} if "includeDeprecated" in field.args else {}
            found = field.resolve(value, cast(Any, self.info), **options)
            if found is None:
                continue
            child_sets = self._sets(occurrences)
            items = list(found) if _list_levels(field.type) else [found]
            each = _sum([_sum([ONE, self._introspect(child_sets, named, item)]) for item in items])
            terms.append(_when([c for _, c in occurrences], each))
        result = _sum(terms)
        self.memo[key] = result
        return result


# --------------------------------------------------------------------------------------
# Per schema: the sizes of its lists, and the estimates of recent documents.
# --------------------------------------------------------------------------------------


class QueryCosts:
    def __init__(self, schema: GraphQLSchema, limits: Limits, cache_size: int = 256) -> None:
        self.schema = schema
        self.limit = limits.max_query_cost
        self._page = Sizing("first", (), length=False, default=limits.default_page, maximum=limits.max_page)
        # Lists sized by an argument of their own field.
        self._lists = {
            ("Query", "nodes"): Sizing("ids", (), length=True, default=0, maximum=limits.max_ids),
            # The information hub's histories page by `first`; the rest are bounded by
            # what the writes allow (hub.MAX_TRAFFIC weights, hub.MAX_ALIASES aliases) or
            # by what the resolver answers (a page of live deployments).
            ("Project", "trafficHistory"): self._page,
            ("Model", "aliasHistory"): self._page,
            ("Deployment", "versionHistory"): self._page,
            ("Job", "statusHistory"): self._page,
            ("Run", "metricCurve"): Sizing("maxPoints", (), length=False, default=500, maximum=MAX_CURVE_POINTS),
            ("Project", "traffic"): _fixed(hub.MAX_TRAFFIC),
            ("Project", "trafficAt"): _fixed(hub.MAX_TRAFFIC),
            ("TrafficChange", "weights"): _fixed(hub.MAX_TRAFFIC),
            ("Model", "aliases"): _fixed(hub.MAX_ALIASES),
            ("Project", "servingStatus"): _fixed(limits.max_page),
            ("Query", "nodeKinds"): _fixed(kinds.MAX_KINDS),
            ("Query", "edgeKinds"): _fixed(kinds.MAX_KINDS),
            ("Change", "items"): Sizing("first", (), length=False, default=ITEMS_DEFAULT, maximum=ITEMS_MOST),
            # What one change can log: a batch of runs, a period's record.
            ("RunLogged", "runs"): _fixed(limits.max_batch_runs),
            ("ServingPerfLogged", "servingPerf"): _fixed(1),
            ("DeleteNodePayload", "deleted"): _fixed(deletion.LISTED),
            ("RestoreNodePayload", "restored"): _fixed(deletion.LISTED),
        }
        # Fields whose argument sizes the lists of the object they return (as `first`
        # does for a connection's nodes and edges).
        self._items = {
            ("Query", "lineage"): Sizing(
                "limit", (), length=False, default=limits.default_lineage_nodes, maximum=limits.max_lineage_nodes
            ),
            ("Mutation", "logRuns"): Sizing("input", ("runs",), length=True, default=0, maximum=limits.max_batch_runs),
            ("Run", "metricHistory"): Sizing("first", (), length=False, default=limits.default_page, maximum=MAX_CURVE_POINTS),
            ("Mutation", "logSteps"): Sizing("input", ("steps",), length=True, default=0, maximum=steps.MAX_STEPS),
        }
        self._cache_size = cache_size
        self._estimates: OrderedDict[tuple[str, str | None], Estimate | None] = OrderedDict()
        unsized = self._unsized_lists()
        if unsized:
            raise ValueError(f"nothing sets the size of these lists; give each a Sizing in schema/cost.py: {', '.join(unsized)}")

    def sizing_of_list(self, parent: str, field: str) -> Sizing | None:
        return self._lists.get((parent, field))

    def sizing_of_items(self, parent: str, name: str, field: GraphQLField) -> Sizing | None:
        return self._page if "first" in field.args else self._items.get((parent, name))

    def _unsized_lists(self) -> list[str]:
        """Every list of objects must have a size: its own argument, or one of every
        field that returns its type."""
        types = [
            t
            for t in self.schema.type_map.values()
            if isinstance(t, (GraphQLObjectType, GraphQLInterfaceType)) and not is_introspection_type(t)
        ]
        sized_by: dict[str, list[bool]] = {}
        for t in types:
            for name, field in t.fields.items():
                returned = get_named_type(field.type)
                sizes = self.sizing_of_items(t.name, name, field) is not None
                targets = [returned, *self.schema.get_possible_types(returned)] if is_abstract_type(returned) else [returned]
                for target in targets:
                    sized_by.setdefault(target.name, []).append(sizes)
        unsized = []
        for t in types:
            for name, field in t.fields.items():
                levels = _list_levels(field.type)
                if not levels or not is_composite_type(get_named_type(field.type)):
                    continue
                parents = sized_by.get(t.name, [])
                if levels > 1 or not (self.sizing_of_list(t.name, name) or (parents and all(parents))):
                    unsized.append(f"{t.name}.{name}")
        return unsized

    def estimate(self, document: DocumentNode, operation_name: str | None = None, query: str | None = None) -> Estimate | None:
        """The estimate of `document`'s operation (None if it has no such operation),
        cached by the document's text `query` when given."""
        if query is None:
            return self._compile(document, operation_name)
        key = (query, operation_name)
        if key in self._estimates:
            self._estimates.move_to_end(key)
            return self._estimates[key]
        found = self._estimates[key] = self._compile(document, operation_name)
        if len(self._estimates) > self._cache_size:
            self._estimates.popitem(last=False)
        return found

    def _compile(self, document: DocumentNode, operation_name: str | None) -> Estimate | None:
        operation = get_operation_ast(document, operation_name)
        root = self.schema.get_root_type(operation.operation) if operation is not None else None
        if operation is None or root is None:
            return None
        fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        compiler = _Compiler(self, fragments)
        expression = compiler.selections(((operation.selection_set, ALWAYS),), root, None)
        defaults = {}
        for definition in operation.variable_definitions or ():
            name = definition.variable.name.value
            if name in compiler.reads and definition.default_value is not None:
                type_ = type_from_ast(self.schema, definition.type)
                defaults[name] = value_from_ast(definition.default_value, cast(Any, type_)) if type_ is not None else None
        return Estimate(operation, expression, tuple(sorted(compiler.reads)), defaults)

    def cost(self, query: str, variables: Mapping[str, Any] | None = None, operation_name: str | None = None) -> int:
        """The cost of a document's operation, for tools and tests."""
        estimate = self.estimate(parse(query), operation_name, query)
        if estimate is None:
            raise ValueError(f"the document has no operation {operation_name or ''}".rstrip())
        return estimate.cost(variables)

    def refusal(
        self,
        document: DocumentNode,
        operation_name: str | None,
        variables: Mapping[str, Any] | None,
        query: str | None = None,
    ) -> GraphQLError | None:
        """The error refusing the operation, if its cost is above the limit."""
        estimate = self.estimate(document, operation_name, query)
        if estimate is None:
            return None  # no such operation: execution says so
        cost = estimate.cost(variables)
        if cost <= self.limit:
            return None
        error = BadUserInput(
            f"the {estimate.operation.operation.value} may return {cost:,} objects, more than the limit of"
            f" {self.limit:,}; ask for smaller pages (first:), fewer levels or fewer aliases",
            cost=cost,
            limit=self.limit,
        )
        return GraphQLError(error.message, nodes=[estimate.operation], original_error=error)


class CostLimit(SchemaExtension):
    """Refuses an operation whose cost is above the limit before any field resolves.
    An extension, not a validation rule: the cost depends on the variables."""

    def __init__(self, costs: QueryCosts) -> None:
        self.costs = costs

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        if context.graphql_document is not None and context.result is None:
            error = self.costs.refusal(context.graphql_document, context.operation_name, context.variables, context.query)
            if error is not None:
                # strawberry executes nothing when the result is already there.
                context.result = GraphQLExecutionResult(data=None, errors=[error])
        yield

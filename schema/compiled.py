"""The compiled path: a query operation the planner can plan is answered by the store in
one query, and each field of a mutation runs its write and reads its payload in one query
inside the write's transaction; no field resolver runs. A write that fails is answered
with its error as the executor would answer it. Any other operation, and any plan whose
answer needs an error, goes to the executor."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from inspect import isawaitable
from typing import Any, cast

import orjson
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    OperationDefinitionNode,
    SelectionSetNode,
    execute,
    get_operation_ast,
    located_error,
)
from graphql import ExecutionResult as GraphQLExecutionResult
from strawberry.extensions import SchemaExtension

from metagate.schema.context import Context, writing
from metagate.schema.cost import QueryCosts
from metagate.schema.errors import coded, masked, request_id_of
from metagate.schema.mutation import WRITES
from metagate.schema.planner import MutationField, MutationPlan, PayloadList, PayloadNode, Planner
from metagate.store import plan as p
from metagate.store.errors import MetagateError
from metagate.store.model import KINDS, JSONObject, kind_of
from metagate.store.port import Tx


class _NotAnswered(Exception):
    """The store could not answer a payload: the write is rolled back and the executor runs it."""


class FastPath:
    """The compiled path for a document strawberry's pipeline has parsed, validated and
    let through (the cost limit included) before: answered again straight from its plan,
    without that pipeline around it (its extensions' hooks and its parse and validation
    caches took about a third of a logRun request's time in process; see bench/notes.md).
    A document is remembered by its text, which is what validation judged (against a
    schema that does not change); the cost limit, which depends on the variables, is
    asked again every time. What the compiled path cannot answer (a refusal, a plan it
    does not make, a payload the store cannot read, which rolls its write back) goes to
    strawberry instead, so that the answer is the one strawberry gives. Documents longer
    than ``longest`` characters (a write's large values written into its text, rather
    than sent as variables) are not remembered: each would hold its text and syntax tree
    here, beside strawberry's own parse cache. A short text can still make a large tree
    (thousands of fields, ~1.5 MB): ``size`` is kept to the documents a client's calls
    are, 64."""

    def __init__(self, planner: Planner, costs: QueryCosts, size: int = 64, longest: int = 16_384) -> None:
        self.planner = planner
        self.costs = costs
        self.size = size
        self.longest = longest
        self._known: OrderedDict[str, DocumentNode] = OrderedDict()
        self.taken = 0  # operations answered here: for tests and the bench

    def remember(self, query: str, document: DocumentNode) -> None:
        if len(query) > self.longest:
            return
        self._known[query] = document
        self._known.move_to_end(query)
        if len(self._known) > self.size:
            self._known.popitem(last=False)

    async def answer(
        self, query: str, operation_name: str | None, variables: dict[str, Any] | None, ctx: Context
    ) -> GraphQLExecutionResult | None:
        """The operation's result, or None when strawberry must answer it."""
        document = self._known.get(query)
        if document is None or self.costs.refusal(document, operation_name, variables, query) is not None:
            return None
        self._known.move_to_end(query)
        try:
            result = await compiled_result(self.planner, ctx, query, document, operation_name, variables)
        except Exception as error:
            # What strawberry answers for a failure of its own: INTERNAL, masked, logged
            # with the request id. Not handed to strawberry: a write may have landed.
            unexpected = GraphQLError(str(error), original_error=error)
            return GraphQLExecutionResult(data=None, errors=[masked(unexpected, request_id_of(ctx))])
        if result is None:
            return None
        self.taken += 1
        if result.errors:
            request_id = request_id_of(ctx)
            result.errors = [coded(e, request_id) for e in result.errors]
        return result


class CompiledOperations(SchemaExtension):
    def __init__(self, fast: FastPath) -> None:
        self.fast = fast

    async def on_execute(self) -> AsyncIterator[None]:
        context = self.execution_context
        if context.graphql_document is not None and context.result is None:
            ctx: Context = context.context
            document, name, variables = context.graphql_document, context.operation_name, context.variables
            context.result = await compiled_result(self.fast.planner, ctx, context.query or "", document, name, variables)
            if context.result is not None and isinstance(context.query, str):
                # Only what the compiled path answered: a document it does not plan would
                # be planned twice per request, by the fast path and again here.
                self.fast.remember(context.query, document)
        yield


async def compiled_result(
    planner: Planner,
    ctx: Context,
    query: str,
    document: DocumentNode,
    name: str | None,
    variables: dict[str, Any] | None,
) -> GraphQLExecutionResult | None:
    """A validated operation's result on the compiled path, or None when the executor
    must run it (nothing written then)."""
    plan = planner.cached(query, document, name, variables, ctx.principal)
    if plan is not None:
        try:
            data = await _answer(ctx, plan)
        except MetagateError:
            return None  # the executor meets the same failure and reports it per field
        return GraphQLExecutionResult(data=data, errors=None) if data is not None else None
    if ctx.store.compiled_reads:
        mutation = planner.mutation(document, name, variables, ctx.principal)
        if mutation is not None:
            return await _mutate(ctx, mutation, _rest(planner, document, name, variables, ctx))
    return None


def _rest(
    planner: Planner, document: DocumentNode, name: str | None, variables: dict[str, Any] | None, ctx: Context
) -> Callable[[list[FieldNode]], Awaitable[GraphQLExecutionResult]]:
    """The executor's run of some of the operation's root fields, for the fields after a
    written one whose payload the store could not answer."""

    async def rest(fields: list[FieldNode]) -> GraphQLExecutionResult:
        operation = get_operation_ast(document, name)
        assert operation is not None
        only = OperationDefinitionNode(
            operation=operation.operation,
            name=operation.name,
            variable_definitions=operation.variable_definitions,
            directives=operation.directives,
            selection_set=SelectionSetNode(selections=tuple(fields)),
        )
        fragments = tuple(d for d in document.definitions if isinstance(d, FragmentDefinitionNode))
        executed = execute(
            planner.graphql_schema,
            DocumentNode(definitions=(only, *fragments)),
            context_value=ctx,
            variable_values=variables,
            operation_name=name,
        )
        return await executed if isawaitable(executed) else executed

    return rest


async def _answer(ctx: Context, plan: p.Plan) -> JSONObject | None:
    if not ctx.encoded_answers:
        return await ctx.store.answer(plan)
    # The store's JSON text goes into the response as it is: not parsed here to be
    # encoded again there.
    text = await ctx.store.answer_text(plan)
    return cast(JSONObject, orjson.Fragment(text)) if text is not None else None


async def _mutate(
    ctx: Context, plan: MutationPlan, rest: Callable[[list[FieldNode]], Awaitable[GraphQLExecutionResult]]
) -> GraphQLExecutionResult | None:
    """The operation's result, the mutation fields run one after the other as the executor
    runs them; None when the executor must run it all (the first write's payload the store
    could not answer: that write was rolled back). A write's coded error is answered as
    the executor answers it: at the field, the whole data null (every mutation field is
    non-null), the writes before it standing. A later field whose payload the store could
    not answer is rolled back and run by the executor, with every field after it."""
    data: JSONObject = {}
    wrote = False
    for index, root in enumerate(plan.roots):
        if isinstance(root, p.Const):
            data[root.key] = root.value
            continue
        try:
            data[root.key] = await _write(ctx, root)
        except _NotAnswered:
            if not wrote:
                return None
            executed = await rest([node for nodes in plan.nodes[index:] for node in nodes])
            if executed.data is None:
                return executed
            return GraphQLExecutionResult(data={**data, **executed.data}, errors=executed.errors)
        except MetagateError as error:
            return GraphQLExecutionResult(data=None, errors=[located_error(error, list(root.nodes), [root.key])])
        wrote = True
    return GraphQLExecutionResult(data=data, errors=None)


async def _write(ctx: Context, field: MutationField) -> JSONObject:
    write = WRITES[field.name]
    answered: list[JSONObject] = []

    async def then(tx: Tx, result: Any) -> None:
        # Run again when the transaction is (after a write conflict): the last one counts.
        answered[:] = [await _payload(tx, field.parts, write.values(result))]

    with writing(ctx, field.name):
        await write.write(ctx, field.input, then)
    return answered[0]


async def _payload(tx: Tx, parts: tuple[Any, ...], values: dict[str, Any]) -> JSONObject:
    """The payload object ``parts`` select, its nodes read in one query in ``tx``."""
    wanted: dict[int, tuple[PayloadNode, list[str]]] = {}  # by id(): a Selection holds dicts
    _gather(parts, values, wanted)
    found: dict[int, Iterator[Any]] = {}
    for key, (part, ids) in list(wanted.items()):
        told = [_told_by_id(part.select, node_id) for node_id in ids]
        if all(node is not None for node in told):
            # `run { id }`, as a step that logs a run asks: nothing to read.
            found[key] = iter(told)
            del wanted[key]
    if wanted:
        roots = tuple(p.NodesRoot(f"n{key}", tuple(ids), part.select) for key, (part, ids) in wanted.items())
        answer = await tx.answer(p.Plan(roots))
        if answer is None:
            raise _NotAnswered
        found.update({key: iter(answer[f"n{key}"]) for key in wanted})
    return _build(parts, values, found)


def _told_by_id(select: p.Selection, node_id: str) -> JSONObject | None:
    """The node's answer when its id tells all of it (``id``, ``kind``, ``__typename``)."""
    kind = kind_of(node_id)
    fields = select.by_kind.get(kind) if kind is not None else None
    if kind is None or fields is None:
        return None
    values = {"id": p.encode_id(node_id), "kind": kind.name, "__typename": KINDS[kind].graphql}
    told: JSONObject = {}
    for f in fields:
        if isinstance(f, p.Const):
            told[f.key] = f.value
        elif isinstance(f, p.Base) and f.field in values:
            told[f.key] = values[f.field]
        else:
            return None
    return told


def _gather(parts: tuple[Any, ...], values: dict[str, Any], wanted: dict[int, tuple[PayloadNode, list[str]]]) -> None:
    for part in parts:
        if isinstance(part, PayloadNode) and values[part.field] is not None:
            wanted.setdefault(id(part), (part, []))[1].append(values[part.field])
        elif isinstance(part, PayloadList):
            for inner in values[part.field]:
                _gather(part.parts, inner, wanted)


def _build(parts: tuple[Any, ...], values: dict[str, Any], found: dict[int, Iterator[Any]]) -> JSONObject:
    """The payload in answer order; nodes are taken from ``found`` in the order ``_gather`` asked for them."""
    out: JSONObject = {}
    for part in parts:
        if isinstance(part, p.Const):
            out[part.key] = part.value
        elif isinstance(part, PayloadNode):
            out[part.key] = next(found[id(part)]) if values[part.field] is not None else None
        elif isinstance(part, PayloadList):
            out[part.key] = [_build(part.parts, inner, found) for inner in values[part.field]]
        else:
            key, name = part
            out[key] = values[name]
    return out

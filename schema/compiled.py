"""The compiled read path: a query operation the planner can plan is answered by the
store in one query, and no field resolver runs; any other operation, and any plan whose
answer needs an error, goes to the executor."""

from __future__ import annotations

from collections.abc import AsyncIterator

from graphql import ExecutionResult as GraphQLExecutionResult
from strawberry.extensions import SchemaExtension

from metagate.schema.planner import Planner
from metagate.store.errors import MetagateError


class CompiledReads(SchemaExtension):
    def __init__(self, planner: Planner) -> None:
        self.planner = planner

    async def on_execute(self) -> AsyncIterator[None]:
        context = self.execution_context
        if context.graphql_document is not None and context.result is None:
            ctx = context.context
            plan = self.planner.cached(
                context.query or "", context.graphql_document, context.operation_name, context.variables, ctx.principal
            )
            if plan is not None:
                try:
                    data = await ctx.store.answer(plan)
                except MetagateError:
                    data = None  # the executor meets the same failure and reports it per field
                if data is not None:
                    context.result = GraphQLExecutionResult(data=data, errors=None)
        yield

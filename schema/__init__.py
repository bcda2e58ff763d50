"""Metagate's GraphQL schema, built on strawberry."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from pathlib import Path
from typing import Any

import strawberry
from graphql.error import GraphQLError
from graphql.validation import ASTValidationRule
from strawberry.extensions import AddValidationRules, MaxTokensLimiter, ParserCache, ValidationCache
from strawberry.extensions.max_aliases import create_validator as alias_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule
from strawberry.types import ExecutionContext

from metagate.resolvers.queries import Limits
from metagate.schema.compiled import CompiledOperations, FastPath
from metagate.schema.context import recorded
from metagate.schema.cost import CostLimit, QueryCosts
from metagate.schema.errors import CodedErrors, coded, request_id_of
from metagate.schema.guard import guard
from metagate.schema.mutation import Mutation, resolve_log_runs
from metagate.schema.planner import Planner
from metagate.schema.query import Query
from metagate.schema.subscription import Subscription
from metagate.schema.types import TYPES

SCHEMA_FILE = Path(__file__).with_name("schema.graphql")


class MetagateSchema(strawberry.Schema):
    fast: FastPath  # the compiled path for documents seen before (set by build_schema)

    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        # CodedErrors logs the errors that need it (internal ones) with the request id;
        # expected errors are answers, not incidents.
        return None

    async def stream(
        self, query: str | None, variable_values: Any = None, context_value: Any = None, *args: Any, **kw: Any
    ) -> Any:
        """A subscription's results with their errors coded as an operation's are (the
        extensions' hook sees only the first, before the stream begins)."""
        source = await super().stream(query, variable_values, context_value, *args, **kw)
        return _coded_stream(source, request_id_of(context_value))


async def _coded_stream(source: AsyncGenerator[Any, None], request_id: str) -> AsyncGenerator[Any, None]:
    async with aclosing(source):
        async for result in source:
            if getattr(result, "errors", None):
                result.errors = [coded(e, request_id) for e in result.errors]
            yield result


def build_schema(limits: Limits | None = None, **options: Any) -> MetagateSchema:
    limits = limits or Limits()
    # strawberry's own depth and alias rules, made once: the validation cache knows a
    # document by its rules too, so rules made anew per request would never hit it.
    rules: list[type[ASTValidationRule]] = [depth_rule(limits.max_query_depth, None), alias_rule(limits.max_aliases)]
    schema = MetagateSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=list(TYPES.values()),
        extensions=[
            CodedErrors,
            lambda: MaxTokensLimiter(max_token_count=limits.max_query_tokens),
            lambda: ParserCache(maxsize=256),
            lambda: AddValidationRules(rules),
            lambda: ValidationCache(maxsize=256),
            # `costs` reads the built schema, so it is made just below; extensions are
            # made per request, by when it is there.
            lambda: CostLimit(costs),
            lambda: CompiledOperations(fast),
        ],
        **options,
    )
    mutation_type = schema._schema.mutation_type
    assert mutation_type is not None
    mutation_type.fields["logRuns"].resolve = resolve_log_runs
    for name, field in mutation_type.fields.items():
        field.resolve = recorded(name, field.resolve)
    guard(schema._schema)  # after every resolver is in place
    costs = QueryCosts(schema._schema, limits)
    fast = schema.fast = FastPath(Planner(schema, limits), costs)
    return schema


def printed() -> str:
    return build_schema().as_str() + "\n"

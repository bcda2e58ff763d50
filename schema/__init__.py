"""Metagate's GraphQL schema, built on strawberry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import strawberry
from graphql.error import GraphQLError
from strawberry.extensions import (
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.types import ExecutionContext

from resolvers.queries import Limits
from schema.errors import CodedErrors
from schema.guard import Guard
from schema.mutation import Mutation
from schema.query import Query
from schema.types import TYPES

SCHEMA_FILE = Path(__file__).with_name("schema.graphql")


class MetagateSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # CodedErrors logs the errors that need it (internal ones) with the request id;
        # expected errors are answers, not incidents.
        return None


def build_schema(limits: Limits | None = None, **options: Any) -> strawberry.Schema:
    limits = limits or Limits()
    return MetagateSchema(
        query=Query,
        mutation=Mutation,
        types=list(TYPES.values()),
        extensions=[
            CodedErrors,
            Guard,
            lambda: MaxTokensLimiter(max_token_count=limits.max_query_tokens),
            lambda: ParserCache(maxsize=256),
            lambda: QueryDepthLimiter(max_depth=limits.max_query_depth),
            lambda: MaxAliasesLimiter(max_alias_count=limits.max_aliases),
            lambda: ValidationCache(maxsize=256),
        ],
        **options,
    )


def printed() -> str:
    return build_schema().as_str() + "\n"

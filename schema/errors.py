"""Turns every error of an operation into a coded one. Metagate's own errors keep their
message and code; errors found before execution (syntax, validation, variable values)
pass as they are, and the HTTP layer codes them BAD_USER_INPUT with any other uncoded
error; anything else is INTERNAL, masked, and logged with the request id."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from graphql import ExecutionResult as GraphQLExecutionResult
from graphql.error import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.types.execution import ExecutionResult

from metagate.store.errors import MetagateError

log = logging.getLogger("metagate.errors")


def request_id_of(context: object) -> str:
    return str(getattr(context, "request_id", "-"))


def unexpected(error: GraphQLError) -> bool:
    """An error raised before execution that no document or variable explains: an
    exception of an extension's own (strawberry wraps it with its message as is), which
    is the server's fault and must not show its message. The client's errors point at
    the document (syntax, validation, a variable's definition) or are GraphQL's own."""
    original = error.original_error
    return error.nodes is None and original is not None and not isinstance(original, (GraphQLError, MetagateError))


class CodedErrors(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if isinstance(result, (GraphQLExecutionResult, ExecutionResult)) and result.errors:
            request_id = request_id_of(self.execution_context.context)
            result.errors = [coded(e, request_id) for e in result.errors]


def coded(error: GraphQLError, request_id: str) -> GraphQLError:
    """The error as the operation answers it: Metagate's own with its code, the client's
    document's as it is, anything else masked."""
    original = error.original_error
    if isinstance(original, MetagateError):
        return GraphQLError(
            original.message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            original_error=original,
            extensions={"code": original.code, **original.details},
        )
    if error.path is None and not unexpected(error):
        # Raised before execution (syntax, validation, variables): the client's
        # document is at fault; the HTTP layer gives it its code with every other.
        return error
    return masked(error, request_id)


def masked(error: GraphQLError, request_id: str) -> GraphQLError:
    """The error as a client sees an unexpected one: INTERNAL, no detail, and logged
    with the request id."""
    log.error(
        "internal error in %s (request %s)",
        ".".join(str(p) for p in error.path or ["the operation"]),
        request_id,
        exc_info=error.original_error or error,
        extra={"request_id": request_id},
    )
    return GraphQLError(
        f"Internal server error (request id {request_id}).",
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions={"code": "INTERNAL", "requestId": request_id},
    )

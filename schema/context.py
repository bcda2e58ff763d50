from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from inspect import isawaitable
from typing import Any

import strawberry

from metagate.resolvers.authz import LOCAL_ADMIN, Principal
from metagate.resolvers.queries import Limits, Loaders
from metagate.store.changes import Origin, origin
from metagate.store.errors import MetagateError
from metagate.store.port import Store


@dataclass
class Context:
    store: Store
    loaders: Loaders
    limits: Limits
    request_id: str
    principal: Principal | None = LOCAL_ADMIN
    auth_error: MetagateError | None = None  # why there is no principal
    # The compiled path's answer as the store's JSON text (an orjson.Fragment in
    # ``data``), for a response that is encoded next; a dict otherwise.
    encoded_answers: bool = False
    # A WebSocket's connection_init payload (graphql-transport-ws), where its token may be.
    connection_params: dict[str, Any] | None = None

    @property
    def allowed_projects(self) -> frozenset[str] | None:
        return self.principal.allowed_projects if self.principal else frozenset()


Info = strawberry.Info[Context, None]


def make_context(
    store: Store,
    limits: Limits,
    request_id: str,
    principal: Principal | None = LOCAL_ADMIN,
    auth_error: MetagateError | None = None,
    *,
    encoded_answers: bool = False,
) -> Context:
    return Context(
        store=store,
        loaders=Loaders(store),
        limits=limits,
        request_id=request_id,
        principal=principal,
        auth_error=auth_error,
        encoded_answers=encoded_answers,
    )


def writing(ctx: Context, operation: str) -> AbstractContextManager[Origin]:
    """The writes made inside are the mutation field ``operation``'s, by the caller's token."""
    p = ctx.principal
    return origin(operation=operation, token_id=p.token_id if p else None, token_name=p.token_name if p else None)


def recorded(operation: str, resolve: Any) -> Any:
    """The resolver of the mutation field ``operation``, its writes named after it."""

    async def resolved(root: Any, info: Any, **arguments: Any) -> Any:
        with writing(info.context, operation):
            result = resolve(root, info, **arguments)
            return await result if isawaitable(result) else result

    resolved.__wrapped__ = resolve  # type: ignore[attr-defined]
    return resolved

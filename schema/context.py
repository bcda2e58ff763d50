from __future__ import annotations

from dataclasses import dataclass

import strawberry

from metagate.resolvers.authz import LOCAL_ADMIN, Principal
from metagate.resolvers.queries import Limits, Loaders
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

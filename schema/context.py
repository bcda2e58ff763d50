from __future__ import annotations

from dataclasses import dataclass

import strawberry

from resolvers.queries import Limits, Loaders
from store.port import Store


@dataclass
class Context:
    store: Store
    loaders: Loaders
    limits: Limits
    request_id: str


Info = strawberry.Info[Context, None]


def make_context(store: Store, limits: Limits, request_id: str) -> Context:
    return Context(store=store, loaders=Loaders(store), limits=limits, request_id=request_id)

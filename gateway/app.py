"""The Starlette application: /graphql (with GraphiQL), /healthz and /readyz."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

import orjson
from graphql.error import GraphQLError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult

from metagate.gateway.auth import ADMIN_TOKEN_BANNER, VerifiedTokens, authenticate, bootstrap_admin
from metagate.gateway.config import Settings
from metagate.gateway.middleware import BodyLimit, RequestId
from metagate.gateway.observability import Metrics, Observe
from metagate.resolvers.authz import LOCAL_ADMIN, Principal
from metagate.schema import build_schema
from metagate.schema.context import Context, make_context
from metagate.schema.errors import masked, unexpected
from metagate.store.errors import DeadlineExceeded, MetagateError
from metagate.store.factory import store_from_url
from metagate.store.port import Store

log = logging.getLogger("metagate")


_LONG_DIGITS = re.compile(rb"\d{19,}")


def _int64(text: str) -> int:
    value = int(text)
    if not -(2**63) <= value < 2**64:
        raise json.JSONDecodeError("integer beyond 64 bits", text, 0)
    return value


def _not_json(text: str) -> None:
    raise json.JSONDecodeError(f"{text} is not JSON", text, 0)


class MetagateGraphQL(GraphQL[Context, None]):
    def __init__(self, settings: Settings, verified: VerifiedTokens, **options: Any) -> None:
        super().__init__(build_schema(settings.LIMITS), **options)
        self.limits = settings.LIMITS
        self.auth = settings.AUTH
        self.verified = verified

    async def execute_operation(
        self, request: Any, request_adapter: Any, request_data: Any, context: Any, root_value: Any, sub_response: Any
    ) -> Any:
        # The deadline cancels the store query in flight (the SQLite adapter interrupts
        # it; ArangoDB stops it at maxRuntime) and a write rolls back whole.
        try:
            async with asyncio.timeout(self.limits.deadline_seconds):
                return await super().execute_operation(request, request_adapter, request_data, context, root_value, sub_response)
        except TimeoutError:
            error = DeadlineExceeded(f"the request ran past its {self.limits.deadline_seconds:g} s deadline")
            return ExecutionResult(
                data=None,
                errors=[GraphQLError(error.message, original_error=error, extensions={"code": error.code})],
            )

    async def get_context(self, request: Any, response: Any = None) -> Context:
        store = request.app.state.store
        principal: Principal | None = LOCAL_ADMIN
        error: MetagateError | None = None
        if self.auth:
            try:
                principal = await authenticate(store, request.headers.get("authorization"), self.verified)
            except MetagateError as failed:
                # Refused per field by the guard, so public introspection still answers.
                principal, error = None, failed
        return make_context(store, self.limits, request.state.request_id, principal, error)

    async def process_result(self, request: Any, result: ExecutionResult) -> GraphQLHTTPResponse:
        if result.errors:
            # An extension that fails before the operation starts is reported outside the
            # schema's own error coding: masked here, as the schema masks the rest.
            request_id = request.state.request_id
            result.errors = [masked(e, request_id) if unexpected(e) else e for e in result.errors]
        response = await super().process_result(request, result)
        # The one place that codes what the schema left uncoded: errors in the document
        # or its variables (some found before the schema's extensions run at all).
        metrics = getattr(request.app.state, "metrics", None)
        for error in response.get("errors") or []:
            extensions = cast(dict[str, Any], error).setdefault("extensions", {})
            extensions.setdefault("code", "BAD_USER_INPUT")
            if metrics is not None:
                metrics.errors.labels(extensions["code"]).inc()
        return response

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    def decode_json(self, data: str | bytes) -> object:
        raw = data.encode() if isinstance(data, str) else data
        if _LONG_DIGITS.search(raw):
            # orjson would read an integer beyond 64 bits as a float, silently changing
            # it; the standard library sees it, and such a request is refused.
            decoded = json.loads(raw, parse_int=_int64, parse_constant=_not_json)
            try:
                orjson.dumps(decoded)  # what orjson refuses (lone surrogates) is not taken either
            except TypeError as error:
                raise json.JSONDecodeError(str(error), raw.decode(errors="replace"), 0) from error
            return decoded
        return orjson.loads(raw)


def create_app(settings: Settings, store: Store | None = None) -> Starlette:
    """``store``: an opened store to serve (its owner closes it); by default the app
    opens the store of ``settings.STORE`` on start and closes it on shutdown."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if store is not None:
            app.state.store = store
            yield
            return
        owned = store_from_url(settings.STORE, max_runtime=settings.LIMITS.deadline_seconds)
        await owned.open()
        app.state.store = owned
        if settings.AUTH:
            # On the store this app serves (an in-memory one included), not another.
            issued = await bootstrap_admin(owned)
            if issued is not None:
                print(ADMIN_TOKEN_BANNER.format(token=issued.secret), flush=True)
        try:
            yield
        finally:
            await owned.close()

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        try:
            await request.app.state.store.ping()
        except (MetagateError, OSError) as error:
            log.warning("store not ready: %s", error)
            return JSONResponse({"status": "unavailable", "store": "unreachable"}, status_code=503)
        return JSONResponse({"status": "ready", "store": "reachable"})

    verified = VerifiedTokens()
    graphql = MetagateGraphQL(settings, verified, graphql_ide="graphiql", allow_queries_via_get=False)
    holder: dict[str, Starlette] = {}
    metrics = Metrics(lambda: getattr(holder["app"].state, "store", None))
    app = Starlette(
        routes=[
            Route("/graphql", graphql),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics.endpoint),
        ],
        middleware=[
            Middleware(RequestId),
            Middleware(Observe, metrics=metrics),
            Middleware(BodyLimit, max_bytes=settings.LIMITS.max_body_bytes),
        ],
        lifespan=lifespan,
    )
    holder["app"] = app
    app.state.metrics = metrics
    app.state.verified_tokens = verified
    if store is not None:
        app.state.store = store
    return app

"""The Starlette application: /graphql (with GraphiQL), /api/v1/lineage (OpenLineage events), /healthz and /readyz."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import re
import sys
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

import orjson
from cross_web import HTTPException
from graphql import OperationDefinitionNode, OperationType, get_operation_ast, parse
from graphql.error import GraphQLError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter, GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.types import ExecutionResult

from metagate.gateway import openlineage
from metagate.gateway.auth import VerifiedTokens, announce_admin_token, authenticate, bootstrap_admin
from metagate.gateway.config import Settings
from metagate.gateway.middleware import BodyLimit, LoopbackHosts, RequestId, error_body, mark_refused
from metagate.gateway.observability import Metrics, Observe
from metagate.gateway.ui import UI
from metagate.resolvers import deletion
from metagate.resolvers.authz import LOCAL_ADMIN, Principal
from metagate.resolvers.validate import INT64_RANGE, fits_int64, parse_duration
from metagate.schema import MetagateSchema, build_schema
from metagate.schema.context import Context, make_context
from metagate.schema.errors import masked, unexpected
from metagate.store.errors import BadUserInput, DeadlineExceeded, MetagateError
from metagate.store.factory import store_from_url
from metagate.store.port import Store

log = logging.getLogger("metagate")


_LONG_DIGITS = re.compile(rb"\d{19,}")


def _int64(text: str) -> int:
    try:
        value = int(text)
    except ValueError as error:  # longer than Python converts (4,300 digits)
        raise json.JSONDecodeError(INT64_RANGE, text, 0) from error
    if not fits_int64(value):
        raise json.JSONDecodeError(INT64_RANGE, text, 0)
    return value


_OPERATION_COUNTS: OrderedDict[bytes, int | None] = OrderedDict()


def _operations(query: str, max_tokens: int) -> int | None:
    """How many operations a document defines; None when it does not parse (the schema's
    own parse then answers the syntax error). The last 1,024 are remembered by the
    text's digest, not the text (a document may be as large as a request body)."""
    key = hashlib.blake2b(f"{max_tokens}\n{query}".encode(errors="surrogatepass"), digest_size=16).digest()
    if key in _OPERATION_COUNTS:
        _OPERATION_COUNTS.move_to_end(key)
        return _OPERATION_COUNTS[key]
    try:
        document = parse(query, max_tokens=max_tokens)
        count: int | None = sum(isinstance(d, OperationDefinitionNode) for d in document.definitions)
    except GraphQLError:
        count = None
    _OPERATION_COUNTS[key] = count
    if len(_OPERATION_COUNTS) > 1024:
        _OPERATION_COUNTS.popitem(last=False)
    return count


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise json.JSONDecodeError("number is infinity", text, 0)
    return value


def _not_json(text: str) -> None:
    raise json.JSONDecodeError(f"{text} is not JSON", text, 0)


# Bytes of an answer encoded between two turns of the event loop. orjson holds the GIL
# for a whole dumps() call, so a worker thread would not free the loop (measured: a
# 36 MB answer encoded by asyncio.to_thread stalled the loop as long as encoding it in
# place, 0.4 s); a large answer is encoded in slices instead. At orjson's 100-300 MB/s
# on these answers a slice blocks the loop for a few milliseconds, and an answer
# smaller than one slice (nearly every answer) is encoded without any await. It also
# bounds how far past MAX_RESPONSE_BYTES encoding goes before the answer is refused.
ENCODE_SLICE_BYTES = 1024 * 1024


class _SlicedEncoder:
    """Encodes a value exactly as ``orjson.dumps`` would, pausing (yielding) after
    every ``slice_bytes`` of output. Long lists (pages, where an answer's size
    multiplies) are encoded in runs of items sized from the items before them, each run
    by one orjson call; an item larger than half a slice is descended into instead.
    Dicts met while descending are encoded key by key; anything else is orjson's, whole."""

    def __init__(self, slice_bytes: int) -> None:
        self.size = 0
        self.slice_bytes = slice_bytes
        self._pieces: list[bytes | memoryview] = []
        self._mark = slice_bytes

    def body(self) -> bytes:
        return b"".join(self._pieces)

    def slices(self, value: object) -> Iterator[None]:
        if type(value) is dict and value:
            yield from self._dict(value)
        elif type(value) is list and value:
            yield from self._list(value)
        else:
            self._put(orjson.dumps(value))

    def _put(self, piece: bytes | memoryview) -> None:
        self._pieces.append(piece)
        self.size += len(piece)

    def _due(self) -> bool:
        if self.size < self._mark:
            return False
        self._mark = self.size + self.slice_bytes
        return True

    def _dict(self, value: dict[Any, Any]) -> Iterator[None]:
        separator = b"{"
        for key, item in value.items():
            if not isinstance(key, str):
                orjson.dumps(value)  # raises orjson's own error for a key that is not a string
            self._put(separator + orjson.dumps(key) + b":")
            separator = b","
            if type(item) is dict or type(item) is list:
                yield from self.slices(item)
            else:
                self._put(orjson.dumps(item))
            if self._due():
                yield
        self._put(b"}")

    def _list(self, items: list[Any]) -> Iterator[None]:
        target = self.slice_bytes // 2
        self._put(b"[")
        done, run = 0, 0  # run 0: descend into the next item
        while done < len(items):
            if done:
                self._put(b",")
            start = self.size
            if run == 0:
                yield from self.slices(items[done])
                taken = 1
            else:
                chunk = items[done : done + run]
                self._put(memoryview(orjson.dumps(chunk))[1:-1])
                taken = len(chunk)
            done += taken
            each = (self.size - start) / taken
            run = 0 if each >= target else max(1, min(run * 2 or 1, int(target // max(each, 1))))
            if self._due():
                yield
        self._put(b"]")


# Said of a mutation's answer refused after the mutation ran: unlike a refusal during
# execution (rolled back whole), its writes stand.
_WROTE = "; the mutation ran and its writes stand, only its answer is not sent"


def _graphql_error(error: MetagateError) -> GraphQLError:
    return GraphQLError(error.message, original_error=error, extensions={"code": error.code, **error.details})


class _TooLarge(Exception):
    def __init__(self, size: int, whole: bool) -> None:
        super().__init__(size)
        self.size = size
        self.whole = whole


class _Answer(dict[str, Any]):
    """A processed result with the body it encodes to: ``encode_json`` returns those
    bytes, so the answer measured is the answer sent, encoded once."""

    def __init__(self, response: GraphQLHTTPResponse, body: bytes) -> None:
        super().__init__(response)
        self.body = body


class _TextWebSocket(ASGIWebSocketAdapter):
    """Sends each subscription message as a text frame, as graphql-transport-ws has them
    (JSON text): a browser's client reads no binary frame."""

    async def send_json(self, message: Mapping[str, object]) -> None:
        encoded = self.view.encode_json(message)
        try:
            await self.ws.send_text(encoded.decode() if isinstance(encoded, bytes) else encoded)
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc


class MetagateGraphQL(GraphQL[Context, None]):
    schema: MetagateSchema
    websocket_adapter_class = _TextWebSocket

    def __init__(self, settings: Settings, verified: VerifiedTokens, ui: UI, **options: Any) -> None:
        super().__init__(build_schema(settings.LIMITS), **options)
        self.ui = ui
        self.limits = settings.LIMITS
        self.auth = settings.AUTH
        self.verified = verified

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        try:
            response = await self.run(Request(scope=scope, receive=receive))
        except HTTPException as refused:
            response = _refused(scope, refused.status_code, refused.reason)
        await response(scope, receive, send)

    async def execute_operation(
        self, request: Any, request_adapter: Any, request_data: Any, context: Any, root_value: Any, sub_response: Any
    ) -> Any:
        if request_data.operation_name is None and isinstance(request_data.query, str):
            # GraphQL's "GetOperation": with several operations, the name is required.
            if (_operations(request_data.query, self.limits.max_query_tokens) or 0) > 1:
                raise HTTPException(400, "the document defines several operations: name the one to run in operationName")
        # The deadline runs from here to the encoded answer (process_result encodes it).
        # It cancels the store query in flight (the SQLite adapter interrupts it;
        # ArangoDB stops it at maxRuntime) and a write rolls back whole.
        deadline = asyncio.get_running_loop().time() + self.limits.deadline_seconds
        request.state.deadline = deadline
        request.state.graphql_request = request_data
        try:
            async with asyncio.timeout_at(deadline):
                query, variables = request_data.query, request_data.variables
                # POST only: over GET strawberry runs nothing here (queries over GET are off),
                # and neither may a remembered document, or a link on any site would write.
                post = request_adapter.method == "POST"
                if asyncio.get_running_loop().time() >= deadline:
                    # Past it already: nothing is started. (The timeout cancels at the
                    # first await, which may come only once a write is on SQLite's thread.)
                    raise TimeoutError
                if post and isinstance(query, str) and (variables is None or isinstance(variables, dict)):
                    fast = await self.schema.fast.answer(query, request_data.operation_name, variables, context)
                    if fast is not None:
                        return ExecutionResult(data=fast.data, errors=fast.errors)
                return await super().execute_operation(request, request_adapter, request_data, context, root_value, sub_response)
        except TimeoutError:
            request.state.deadline = None  # the refusal itself is answered
            error = DeadlineExceeded(self._deadline_message())
            return ExecutionResult(data=None, errors=[_graphql_error(error)])

    async def render_graphql_ide(self, request: Any) -> Response:
        """GraphiQL from the UI's build (its scripts and editor from this origin, none
        from a CDN), the token of the UI's sign-in in its headers."""
        return self.ui.page("graphiql.html")

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
        # A WebSocket's handshake passes no middleware that names it: named here.
        request_id = getattr(request.state, "request_id", None) or uuid.uuid4().hex
        return make_context(store, self.limits, request_id, principal, error, encoded_answers=True)

    async def on_ws_connect(self, context: Context) -> None:
        """A subscriber's token, from its connection_init payload ({"authorization":
        "Bearer mg_..."}: a browser cannot set a WebSocket's headers); a token that does not
        hold closes the connection (4403). Without one, the handshake's header decides."""
        params = context.connection_params or {}
        given = params.get("authorization") or params.get("Authorization")
        if not self.auth or given is None:
            return
        try:
            context.principal = await authenticate(context.store, str(given), self.verified)
            context.auth_error = None
        except MetagateError as failed:
            raise ConnectionRejectionError({"message": failed.message, "code": failed.code}) from None

    async def process_result(self, request: Any, result: ExecutionResult) -> GraphQLHTTPResponse:
        """The answer, encoded here rather than in ``create_response`` (synchronous):
        within the deadline, in slices that let the event loop run, and refused whole
        when its body would be larger than ``max_response_bytes``."""
        request_id = request.state.request_id
        deadline = getattr(request.state, "deadline", None)
        refusal: MetagateError | None = None
        try:
            async with asyncio.timeout_at(deadline):
                response = await self._coded(request, result)
                body = await self._encode(response)
                if deadline is not None and asyncio.get_running_loop().time() >= deadline:
                    raise TimeoutError  # encoded without a pause, but past the deadline all the same
        except TimeoutError:
            refusal = DeadlineExceeded(self._deadline_message(self._wrote(request, result)))
        except _TooLarge as too_large:
            refusal = self._too_large(too_large, self._wrote(request, result))
        if refusal is not None:
            # Logged: the operation ran, and its answer is what is refused.
            log.warning("answer refused: %s (request %s)", refusal.message, request_id, extra={"request_id": request_id})
            # Nothing of the answer is sent: the refusal alone, as an operation's error.
            response = await self._coded(request, ExecutionResult(data=None, errors=[_graphql_error(refusal)]))
            body = orjson.dumps(response)
        metrics = getattr(request.app.state, "metrics", None)
        if metrics is not None:
            for error in response.get("errors") or []:
                metrics.errors.labels(cast(dict[str, Any], error)["extensions"]["code"]).inc()
        return cast(GraphQLHTTPResponse, _Answer(response, body))

    async def _coded(self, request: Any, result: ExecutionResult) -> GraphQLHTTPResponse:
        if result.errors:
            # An extension that fails before the operation starts is reported outside the
            # schema's own error coding: masked here, as the schema masks the rest.
            request_id = request.state.request_id
            result.errors = [masked(e, request_id) if unexpected(e) else e for e in result.errors]
        response = await super().process_result(request, result)
        # The one place that codes what the schema left uncoded: errors in the document
        # or its variables (some found before the schema's extensions run at all).
        for error in response.get("errors") or []:
            cast(dict[str, Any], error).setdefault("extensions", {}).setdefault("code", "BAD_USER_INPUT")
        return response

    async def _encode(self, response: GraphQLHTTPResponse) -> bytes:
        limit = self.limits.max_response_bytes
        encoder = _SlicedEncoder(ENCODE_SLICE_BYTES)
        for _ in encoder.slices(response):
            if encoder.size > limit:
                raise _TooLarge(encoder.size, whole=False)
            await self._between_slices()
        if encoder.size > limit:
            raise _TooLarge(encoder.size, whole=True)
        return encoder.body()

    async def _between_slices(self) -> None:
        """Lets the event loop run (other requests, /healthz, the deadline's timer)."""
        await asyncio.sleep(0)

    def _too_large(self, too_large: _TooLarge, wrote: bool) -> BadUserInput:
        limit = self.limits.max_response_bytes
        size = f"{too_large.size:,}" if too_large.whole else f"at least {too_large.size:,}"
        return BadUserInput(
            f"the answer would be {size} bytes of JSON, more than the limit of {limit:,} bytes;"
            f" ask for fewer fields or smaller pages (first:){_WROTE if wrote else ''}",
            size=too_large.size,
            limit=limit,
        )

    def _deadline_message(self, wrote: bool = False) -> str:
        return f"the request ran past its {self.limits.deadline_seconds:g} s deadline{_WROTE if wrote else ''}"

    @staticmethod
    def _wrote(request: Any, result: ExecutionResult) -> bool:
        """Whether the operation was a mutation that ran (so its writes stand), for a
        refusal after execution: the document is parsed again, only then."""
        data = getattr(request.state, "graphql_request", None)
        query = getattr(data, "query", None)
        if result.data is None or not query:
            return False
        try:
            operation = get_operation_ast(parse(query), getattr(data, "operation_name", None))
        except GraphQLError:
            return False
        return operation is not None and operation.operation == OperationType.MUTATION

    def encode_json(self, data: object) -> bytes:
        if isinstance(data, _Answer):
            return data.body
        return orjson.dumps(data)

    def decode_json(self, data: str | bytes) -> object:
        try:
            decoded = self._decoded(data)
        except json.JSONDecodeError as error:  # orjson's too
            raise HTTPException(400, f"the request body is not JSON Metagate takes: {error.msg}") from error
        if not isinstance(decoded, (dict, list)):  # a list is a batch, refused as such
            raise HTTPException(400, "the request body must be a JSON object")
        return decoded

    def _decoded(self, data: str | bytes) -> object:
        raw = data.encode() if isinstance(data, str) else data
        if not _LONG_DIGITS.search(raw):
            return orjson.loads(raw)
        # orjson would read an integer beyond 64 bits as a float, silently changing it;
        # the standard library sees it, and such a request is refused. A long run of
        # digits is most often a float's (a metric value's): the standard library reads
        # the body only when orjson cannot, or has read a number that may have been such
        # an integer.
        try:
            decoded = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return _strictly_decoded(raw)
        return _strictly_decoded(raw) if _maybe_beyond_int64(decoded) else decoded


def _maybe_beyond_int64(value: object) -> bool:
    """Whether orjson's reading holds an int outside 64 bits signed, or an integral float
    as large as 2^63: what an integer literal beyond them reads as."""
    stack = [value]
    while stack:
        found = stack.pop()
        items = found.values() if isinstance(found, dict) else found if isinstance(found, list) else (found,)
        for item in items:
            if isinstance(item, float):
                if abs(item) >= _TWO_TO_63 and item.is_integer():
                    return True
            elif isinstance(item, int):  # a bool is one, and within the range
                if not -_TWO_TO_63 <= item < _TWO_TO_63:
                    return True
            elif isinstance(item, (dict, list)):
                stack.append(item)
    return False


_TWO_TO_63 = 2**63


def _strictly_decoded(raw: bytes) -> object:
    """The standard library's reading of a body orjson may not read faithfully. It takes
    what orjson takes and no more: UTF-8 without a byte-order mark, finite numbers, no
    NaN or Infinity; and it refuses an integer beyond 64 bits, signed."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise json.JSONDecodeError("not UTF-8", "", error.start) from error
    if text.startswith("\ufeff"):
        raise json.JSONDecodeError("a byte-order mark", text, 0)
    try:
        decoded = json.loads(text, parse_int=_int64, parse_float=_finite, parse_constant=_not_json)
    except RecursionError as error:
        raise json.JSONDecodeError("nested too deep", "", 0) from error
    try:
        orjson.dumps(decoded)  # what orjson refuses (lone surrogates) is not taken either
    except TypeError as error:
        raise json.JSONDecodeError(str(error), raw.decode(errors="replace"), 0) from error
    return decoded


def admin_token_file(store: Store) -> Path:
    """Where a first start without a terminal writes the admin token: beside a SQLite
    store's file (``<store>.admin-token``), otherwise in the working directory."""
    path = getattr(store, "path", None)
    if isinstance(path, str) and not getattr(store, "memory", True):
        return Path(path + ".admin-token").absolute()
    return Path.cwd() / "metagate-admin-token"


def _refused(scope: Scope, status: int, reason: str) -> Response:
    """A request the endpoint cannot run (its body, content type, method or operation
    name): a GraphQL error with a code, logged with the request's id and counted."""
    request_id = str(scope.get("state", {}).get("request_id", "-"))
    reason = reason if len(reason) <= 300 else reason[:300] + "..."  # it may quote the request
    log.info("refused request %s: %s", request_id, reason, extra={"request_id": request_id})
    code = "NOT_FOUND" if status == 404 else "BAD_USER_INPUT"
    mark_refused(scope, code)
    headers = {"allow": "GET, POST"} if status == 405 else None
    return Response(error_body(reason, code), status_code=status, media_type="application/json", headers=headers)


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
                announce_admin_token(issued.secret, admin_token_file(owned), sys.stdout.isatty())
        retaining = None
        if settings.RETENTION:
            retaining = asyncio.create_task(deletion.retain(owned, parse_duration(settings.RETENTION)))
        try:
            yield
        finally:
            if retaining is not None:
                retaining.cancel()
                await asyncio.gather(retaining, return_exceptions=True)
            await owned.close()

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        try:
            await request.app.state.store.ping()
        except (MetagateError, OSError) as error:
            log.warning("store not ready: %s", error)
            reason = error.message if isinstance(error, MetagateError) else str(error)
            return JSONResponse({"status": "unavailable", "store": "unreachable", "reason": reason}, status_code=503)
        return JSONResponse({"status": "ready", "store": "reachable"})

    verified = VerifiedTokens()
    ui = UI(settings.UI_DIR)
    graphql = MetagateGraphQL(settings, verified, ui, graphql_ide="graphiql", allow_queries_via_get=False)
    holder: dict[str, Starlette] = {}
    metrics = Metrics(lambda: getattr(holder["app"].state, "store", None))
    app = Starlette(
        routes=[
            Route("/graphql", graphql),
            WebSocketRoute("/graphql", graphql),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics.endpoint),
            Route(openlineage.PATH, openlineage.LineageEndpoint(settings, verified).handle, methods=["POST"]),
            *ui.routes(),
        ],
        middleware=[
            Middleware(RequestId),
            Middleware(Observe, metrics=metrics),
            *([] if settings.AUTH else [Middleware(LoopbackHosts)]),
            Middleware(BodyLimit, max_bytes=settings.LIMITS.max_body_bytes, timeout=settings.BODY_TIMEOUT_SECONDS),
        ],
        lifespan=lifespan,
    )
    holder["app"] = app
    app.state.graphql = graphql
    app.state.metrics = metrics
    app.state.verified_tokens = verified
    if store is not None:
        app.state.store = store
    return app

"""``POST /api/v1/lineage``: OpenLineage events in, as Marquez takes them, so that any
OpenLineage producer (its HTTP transport pointed at the gateway) records what it ran,
read and wrote. One event per request, or a JSON array of events (a batch, written in
one transaction). A writer's token is needed, as for every write.

Answers: 201 with ``{"accepted": n, "duplicates": m, "steps": [ids]}``; 400 with the
gateway's JSON error (``extensions.code``, and ``extensions.field`` naming what is
wrong: ``run.runId``, ``[3].inputs[0].name``) for a malformed event, writing nothing;
401 and 403 for a missing or weak token; 415 for a body that is not JSON; 503 and 504
when the store is unavailable or the deadline passes.
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from metagate.gateway.auth import VerifiedTokens, authenticate
from metagate.gateway.config import Settings
from metagate.gateway.middleware import mark_refused
from metagate.resolvers import openlineage
from metagate.resolvers.authz import LOCAL_ADMIN, Role
from metagate.resolvers.ids import encode_id
from metagate.store.changes import origin
from metagate.store.errors import BadUserInput, DeadlineExceeded, Forbidden, MetagateError, Unavailable

log = logging.getLogger("metagate")
PATH = "/api/v1/lineage"
_STATUS = {
    "BAD_USER_INPUT": 400,
    "NOT_FOUND": 400,
    "CONFLICT": 409,
    "UNAUTHENTICATED": 401,
    "FORBIDDEN": 403,
    "UNAVAILABLE": 503,
    "DEADLINE_EXCEEDED": 504,
}


def _error(request: Request, error: MetagateError, status: int | None = None) -> Response:
    code = error.code
    extensions: dict[str, Any] = {"code": code, "requestId": request.state.request_id}
    if error.details.get("field"):
        extensions["field"] = error.details["field"]
    mark_refused(request.scope, code)
    body = orjson.dumps({"errors": [{"message": error.message, "extensions": extensions}]})
    headers = {"www-authenticate": "Bearer"} if code == "UNAUTHENTICATED" else None
    return Response(body, status_code=status or _STATUS.get(code, 500), media_type="application/json", headers=headers)


class LineageEndpoint:
    def __init__(self, settings: Settings, verified: VerifiedTokens) -> None:
        self.auth = settings.AUTH
        self.max_bytes = settings.LIMITS.max_body_bytes
        self.deadline = settings.LIMITS.deadline_seconds
        self.verified = verified

    async def handle(self, request: Request) -> Response:
        try:
            return await self._ingest(request)
        except MetagateError as error:
            return _error(request, error)
        except TimeoutError:
            return _error(request, DeadlineExceeded(f"the events were not recorded within {self.deadline:g} s"))
        except Exception:
            log.exception("internal error in %s (request %s)", PATH, request.state.request_id)
            return _error(request, MetagateError("internal error; the request id is in the logs"), 500)

    async def _ingest(self, request: Request) -> Response:
        store = request.app.state.store
        principal = LOCAL_ADMIN
        if self.auth:
            principal = await authenticate(store, request.headers.get("authorization"), self.verified)
            if not principal.may(Role.WRITER):
                raise Forbidden("recording OpenLineage events needs the writer role")
        media = request.headers.get("content-type", "application/json").partition(";")[0].strip().lower()
        if media != "application/json" and not media.endswith("+json"):
            return _error(request, BadUserInput("send the events as JSON (Content-Type: application/json)"), 415)
        body = await self._body(request)
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError as error:
            raise BadUserInput(f"the body is not JSON: {error}") from None
        events = openlineage.check_body(parsed)
        try:
            async with asyncio.timeout(self.deadline):
                with origin(operation="openlineage", token_id=principal.token_id, token_name=principal.token_name):
                    done = await openlineage.ingest(store, events, batch=isinstance(parsed, list))
        except OSError as error:
            raise Unavailable(f"the store is unreachable: {error}") from None
        answer = {"accepted": done.accepted, "duplicates": done.duplicates, "steps": [encode_id(s) for s in done.steps]}
        return Response(orjson.dumps(answer), status_code=201, media_type="application/json")

    async def _body(self, request: Request) -> bytes:
        body = await request.body()
        encoding = request.headers.get("content-encoding", "identity").strip().lower()
        if encoding in ("", "identity"):
            return body
        if encoding != "gzip":
            raise BadUserInput(f"Content-Encoding {encoding[:40]!r}: send the events plain or gzip-compressed")
        # As much as a plain body may be, and no more: a small body cannot unpack into a huge one.
        inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            out = inflate.decompress(body, self.max_bytes + 1)
        except zlib.error:
            raise BadUserInput("the body is not valid gzip") from None
        if len(out) > self.max_bytes or inflate.unconsumed_tail:
            raise BadUserInput(f"the unpacked body is larger than {self.max_bytes} bytes")
        return out

"""Plain ASGI middleware."""

from __future__ import annotations

import ipaddress
import re
import uuid

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_SAFE_ID = re.compile(r"[A-Za-z0-9._\-]{1,64}")


class RequestId:
    """Gives every request an id (the client's X-Request-ID when it is sane), keeps it in
    ``scope['state']['request_id']`` and returns it in the response's X-Request-ID."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _SAFE_ID.fullmatch(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["x-request-id"] = request_id
            await send(message)

        await self.app(scope, receive, send_with_id)


class _TooLarge(Exception):
    pass


class BodyLimit:
    """Refuses request bodies over ``max_bytes`` with 413, by their Content-Length or,
    for streamed bodies, as soon as the count passes the limit."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def _refuse(self, send: Send) -> None:
        body = (
            b'{"errors":[{"message":"the request body is larger than '
            + str(self.max_bytes).encode()
            + b' bytes","extensions":{"code":"BAD_USER_INPUT"}}]}'
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await self._refuse(send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge
            return message

        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracking_send)
        except _TooLarge:
            if not started:
                await self._refuse(send)


def loopback_name(host: str) -> bool:
    """A Host header's name (port and IPv6 brackets aside) is this machine's own:
    ``localhost`` or a name under it (RFC 6761), or a loopback address."""
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    name = name.removeprefix("[").split("]")[0].lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class LoopbackHosts:
    """Serving without tokens, refuses every request whose Host is not a loopback name
    with 403: a web page that points its own domain at 127.0.0.1 (DNS rebinding) sends
    its domain as the Host, and must not reach a gateway that trusts every caller."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host = dict(scope.get("headers") or []).get(b"host", b"").decode("latin-1")
        if loopback_name(host):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        body = (
            b'{"errors":[{"message":"without authentication, only loopback host names (localhost, 127.0.0.1, [::1])'
            b' are served","extensions":{"code":"FORBIDDEN"}}]}'
        )
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 403, "headers": headers})
        await send({"type": "http.response.body", "body": body})


# A JSON answer is never a document to run; the GraphiQL page (scripts from a CDN and
# one of its own) may not be framed, embed plugins or move its base.
_JSON_POLICY = b"default-src 'none'; frame-ancestors 'none'"
_PAGE_POLICY = b"frame-ancestors 'none'; object-src 'none'; base-uri 'none'"


class SecurityHeaders:
    """Adds to every HTTP response: no framing by any site (``X-Frame-Options`` and CSP
    ``frame-ancestors``), no content-type sniffing, no referrer, and a content security
    policy (everything refused for answers that are not HTML pages)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                html = headers.get("content-type", "").startswith("text/html")
                headers.setdefault("x-frame-options", "DENY")
                headers.setdefault("x-content-type-options", "nosniff")
                headers.setdefault("referrer-policy", "no-referrer")
                headers.setdefault("content-security-policy", (_PAGE_POLICY if html else _JSON_POLICY).decode())
            await send(message)

        await self.app(scope, receive, send_with_headers)

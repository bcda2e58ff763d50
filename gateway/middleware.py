"""Plain ASGI middleware."""

from __future__ import annotations

import asyncio
import ipaddress
import re
import uuid

import orjson
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_SAFE_ID = re.compile(r"[A-Za-z0-9._\-]{1,64}")


# A JSON answer is never a document to run; a page (the UI's set their own, stricter
# policy: gateway/ui.py) may not be framed, embed plugins or move its base.
_JSON_POLICY = "default-src 'none'; frame-ancestors 'none'"
_PAGE_POLICY = "frame-ancestors 'none'; object-src 'none'; base-uri 'none'"


def error_body(message: str, code: str) -> bytes:
    """A GraphQL error answered before GraphQL runs, as JSON."""
    return orjson.dumps({"errors": [{"message": message, "extensions": {"code": code}}]})


def mark_refused(scope: Scope, code: str) -> None:
    """Notes that the request was refused before GraphQL ran, with its error's code, for
    Observe to count in ``metagate_errors_total`` as GraphQL's own errors are."""
    scope.setdefault("state", {})["refused"] = code


async def send_error(scope: Scope, send: Send, status: int, message: str, code: str, *, close: bool = False) -> None:
    """Answers with ``error_body``, from a middleware that refuses the request (and with
    ``close``, closes the connection after it: the rest of the request is not read)."""
    mark_refused(scope, code)
    body = error_body(message, code)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class RequestId:
    """Gives every request an id (the client's X-Request-ID when it is sane), keeps it in
    ``scope['state']['request_id']`` and returns it in the response's X-Request-ID; and
    adds to every response the headers that keep it from being framed by another site
    (``X-Frame-Options`` and CSP ``frame-ancestors``), sniffed or referred from, with a
    content security policy that allows nothing for answers that are not HTML pages."""

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
                headers = MutableHeaders(scope=message)
                headers["x-request-id"] = request_id
                html = headers.get("content-type", "").startswith("text/html")
                headers.setdefault("x-frame-options", "DENY")
                headers.setdefault("x-content-type-options", "nosniff")
                headers.setdefault("referrer-policy", "no-referrer")
                headers.setdefault("content-security-policy", _PAGE_POLICY if html else _JSON_POLICY)
            await send(message)

        await self.app(scope, receive, send_with_id)


class _TooLarge(Exception):
    pass


class _TooSlow(Exception):
    pass


class BodyLimit:
    """Refuses request bodies over ``max_bytes`` with 413, by their Content-Length or,
    for streamed bodies, as soon as the count passes the limit; and a body not all
    arrived ``timeout`` seconds after the app first reads it with 408, closing the
    connection (a client that trickles its body holds no connection for long)."""

    def __init__(self, app: ASGIApp, max_bytes: int, timeout: float) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout = timeout

    async def _refuse(self, scope: Scope, send: Send) -> None:
        # Closed after it: the rest of the body is not read.
        message = f"the request body is larger than {self.max_bytes} bytes"
        await send_error(scope, send, 413, message, "BAD_USER_INPUT", close=True)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await self._refuse(scope, send)
            return
        seen = 0
        whole = False
        deadline: float | None = None

        async def counted() -> Message:
            nonlocal seen, whole, deadline
            if whole:
                return await receive()  # the body is in; a wait for the client's disconnect
            if deadline is None:
                # From the first read: the app may look its caller up first, and until it
                # reads, a large body waits in the server's buffers.
                deadline = asyncio.get_running_loop().time() + self.timeout
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise _TooSlow from None
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                whole = not message.get("more_body", False)
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
                await self._refuse(scope, send)
        except _TooSlow:
            if not started:
                message = f"the request body took longer than {self.timeout:g} s to arrive"
                await send_error(scope, send, 408, message, "BAD_USER_INPUT", close=True)


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
        hosts = [value.decode("latin-1") for name, value in scope.get("headers") or [] if name == b"host"]
        # One Host, and a loopback one: with two, servers and proxies disagree on which counts.
        if len(hosts) == 1 and loopback_name(hosts[0]):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        message = "without authentication, only loopback host names (localhost, 127.0.0.1, [::1]) are served"
        await send_error(scope, send, 403, message, "FORBIDDEN", close=True)

"""How the gateway is served: uvicorn, with the bounds a public endpoint needs that
uvicorn lacks, in one process or several.

uvicorn bounds the wait between requests on a kept-alive connection
(``timeout_keep_alive``) but not the time a request's line and headers take to arrive,
nor the number of open connections (``limit_concurrency`` answers 503 to a request, so
connections that never finish one are never refused): a client trickling a byte every
few seconds held a connection for good. :class:`Protocol` adds both.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.types import ASGIApp
from uvicorn.config import STARTUP_FAILURE
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.supervisors import Multiprocess

from metagate.gateway import config
from metagate.gateway.middleware import error_body

log = logging.getLogger("metagate.server")
_last_refusal_logged = float("-inf")  # when a refused connection was last logged


def _raw_error(status: bytes, message: str) -> bytes:
    """A whole HTTP/1.1 answer carrying one coded GraphQL error, that closes the
    connection: written by the protocol itself, before any request reached the app."""
    body = error_body(message, "BAD_USER_INPUT")
    head = b"HTTP/1.1 " + status + b"\r\ncontent-type: application/json\r\nconnection: close\r\n"
    return head + b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body


class ServerConfig(uvicorn.Config):
    """uvicorn's configuration with the bounds :class:`Protocol` enforces (a module-level
    class: with several workers it is pickled into each)."""

    def __init__(self, app: Any, *, max_connections: int, header_timeout: float, **options: Any) -> None:
        super().__init__(app, http=Protocol, **options)
        self.max_connections = max_connections
        self.header_timeout = header_timeout


class Protocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, which refuses a connection over
    ``max_connections`` (503, closed at once) and closes one whose request line and
    headers have not all arrived ``header_timeout`` seconds after it became ready for a
    request (408 when part of a request came; closed silently when nothing did)."""

    config: ServerConfig

    def __init__(self, config: ServerConfig, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self._refused = False
        self._partial = False  # bytes of a request whose headers are not complete
        self._header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self.config.max_connections:
            self._refused = True
            global _last_refusal_logged
            if time.monotonic() - _last_refusal_logged >= 1:  # one line a second at most, under a flood
                _last_refusal_logged = time.monotonic()
                open_now = len(self.connections)
                log.warning("refused a connection: %d are open, the most allowed (METAGATE_MAX_CONNECTIONS)", open_now)
            transport.write(_raw_error(b"503 Service Unavailable", "too many open connections; try again"))
            transport.close()
            return
        super().connection_made(transport)
        self._await_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._refused:
            return
        self._stop_header_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self._header_timer is not None:
            self._partial = True
        super().data_received(data)

    def on_headers_complete(self) -> None:
        self._stop_header_timer()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # Idle and kept alive (uvicorn armed its keep-alive timer): the next request's
        # headers are timed from now. A pipelined request already has its headers.
        if self.timeout_keep_alive_task is not None:
            self._await_headers()

    def _await_headers(self) -> None:
        self._stop_header_timer()
        self._partial = False
        self._header_timer = self.loop.call_later(self.config.header_timeout, self._headers_late)

    def _stop_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_late(self) -> None:
        self._header_timer = None
        if self.transport.is_closing():
            return
        if self._partial:
            seconds = self.config.header_timeout
            log.info("closed a connection whose request headers took over %g s (METAGATE_HEADER_TIMEOUT_SECONDS)", seconds)
            self.transport.write(_raw_error(b"408 Request Timeout", f"the request's headers took longer than {seconds:g} s"))
        self.transport.close()


@dataclass(frozen=True)
class AppFactory:
    """Makes the app in a worker process from the settings the command resolved
    (picklable, so that each worker gets them as they are, the command line's included)."""

    settings: config.Settings

    def __call__(self) -> ASGIApp:
        from metagate.gateway.app import create_app
        from metagate.gateway.observability import configure_logging

        configure_logging(self.settings.LOG_LEVEL)
        try:
            return create_app(self.settings)
        except Exception:
            # A start-up failure, which the supervisor stops on, not a death it restarts.
            log.exception("the gateway could not be made in a worker")
            sys.exit(STARTUP_FAILURE)


class Workers(Multiprocess):
    """uvicorn's supervisor of worker processes, each listening on a socket of its own
    on the port (SO_REUSEPORT), between which the kernel shares new connections out.
    Handed one socket for all, as uvicorn does, connections opened at once mostly went
    to one worker (30 of 32 in a test, two tries in three): a client that opened its
    pool at once had it served by one process while the others stood idle
    (bench/notes.md).

    uvicorn hands each worker it starts (at first, in place of one that died, on SIGHUP
    or SIGTTIN) ``self.sockets``: here a socket made for that worker by ``listen``. The
    supervisor's copy is closed once the worker has its own (at the supervisor's next
    look at its workers, every half second), so that when a worker ends its socket
    leaves the kernel's share."""

    def __init__(self, config: uvicorn.Config, listen: Callable[[], socket.socket]) -> None:
        self._listen = listen
        self._handed: list[socket.socket] = []
        super().__init__(config, sockets=[])

    @property
    def sockets(self) -> list[socket.socket]:
        sock = self._listen()
        self._handed.append(sock)
        return [sock]

    @sockets.setter
    def sockets(self, value: list[socket.socket]) -> None:
        """Set by uvicorn's constructor: each worker's is made when it starts."""

    def _close_handed(self) -> None:
        """Every socket handed to a worker started since: the worker has its own copy."""
        while self._handed:
            self._handed.pop().close()

    def keep_subprocess_alive(self) -> None:
        self._close_handed()
        super().keep_subprocess_alive()

    def run(self) -> None:
        try:
            super().run()
        finally:
            self._close_handed()


def server_config(settings: config.Settings, app: Any) -> ServerConfig:
    """uvicorn's configuration for ``settings``: ``app`` is the app, or with several
    workers an :class:`AppFactory`."""
    return ServerConfig(
        app,
        factory=isinstance(app, AppFactory),
        host=settings.HOST,
        port=settings.PORT,
        workers=settings.WORKERS,
        log_level=settings.LOG_LEVEL,
        log_config=None,  # keep the JSON logging configured by the command
        max_connections=settings.MAX_CONNECTIONS,
        header_timeout=settings.HEADER_TIMEOUT_SECONDS,
        timeout_graceful_shutdown=max(1, round(settings.SHUTDOWN_SECONDS)),
    )

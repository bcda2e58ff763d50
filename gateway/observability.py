"""Prometheus metrics at /metrics and one structured JSON log line per request, each
carrying the request id. Headers (and so tokens) are never logged."""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import Iterator
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
access_log = logging.getLogger("metagate.access")


class Metrics:
    def __init__(self, store_of: Any) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("metagate_requests", "HTTP requests", ["path", "status"], registry=self.registry)
        self.errors = Counter("metagate_errors", "GraphQL errors by code", ["code"], registry=self.registry)
        self.latency = Histogram(
            "metagate_request_seconds",
            "Request latency",
            ["path"],
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.registry.register(_StoreRoundTrips(store_of))

    async def endpoint(self, request: Request) -> Response:
        return Response(generate_latest(self.registry), media_type="text/plain; version=0.0.4")


class _StoreRoundTrips(Collector):
    def __init__(self, store_of: Any) -> None:
        self.store_of = store_of

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily("metagate_store_round_trips", "Queries sent to the store")
        family.add_metric([], float(getattr(self.store_of(), "statements", 0)))
        yield family


class Observe:
    """Times each request, counts it, and writes its access-log line."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        request_id = scope.get("state", {}).get("request_id", "-")
        token = request_id_var.set(request_id)

        async def observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        path = scope["path"] if scope["path"] in ("/graphql", "/healthz", "/readyz", "/metrics") else "other"
        try:
            await self.app(scope, receive, observed)
        finally:
            elapsed = time.perf_counter() - started
            self.metrics.requests.labels(path, str(status)).inc()
            refused = scope.get("state", {}).get("refused")
            if refused:
                self.metrics.errors.labels(refused).inc()
            self.metrics.latency.labels(path).observe(elapsed)
            access_log.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 3),
                    "request_id": request_id,
                },
            )
            request_id_var.reset(token)


_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime", "color_message"}


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            # Records made while a request is served carry its id (emit runs in its context).
            "request_id": getattr(record, "request_id", None) or request_id_var.get(),
        }
        line.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD and k != "request_id"})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JSONFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # One access line per request comes from Observe; uvicorn's own would repeat it.
    logging.getLogger("uvicorn.access").disabled = True
    # The store drivers' and HTTP clients' debug output carries what is stored and sent
    # (aiosqlite logs every statement with its bound values: token hashes, attribute
    # values): at debug level, Metagate's own records are the debug output.
    for library in QUIET_LIBRARIES:
        logging.getLogger(library).setLevel(max(logging.INFO, root.level))


QUIET_LIBRARIES = ("aiosqlite", "arangoasync", "aiohttp", "httpx", "httpcore", "hpack", "multipart")

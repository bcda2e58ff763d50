"""Subscriptions over graphql-transport-ws, as async iterators that resume from the last
cursor they gave when the connection is lost: a gateway restarted, or another process
answering, the iterator misses no change and gives none twice."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection
from websockets.typing import Subprotocol

from metagate_client._exceptions import Forbidden, MetagateError, Unauthenticated, Unavailable, UnexpectedResponse
from metagate_client._transport import Endpoint

_PROTOCOL = Subprotocol("graphql-transport-ws")
# Close codes of the protocol that say trying again cannot help.
_REFUSED = {4400: "the subscription was refused as malformed", 4403: "the token was refused", 4401: "no token was accepted"}


def _ws_url(url: str) -> str:
    if url.startswith("https://"):
        return "wss://" + url[len("https://") :]
    if url.startswith("http://"):
        return "ws://" + url[len("http://") :]
    return url


def _refusal(endpoint: Endpoint, closed: websockets.ConnectionClosed) -> MetagateError | None:
    """The error a close says, when trying again cannot help (a refused token)."""
    code = closed.rcvd.code if closed.rcvd is not None else None
    if code not in _REFUSED:
        return None
    reason = f"{_REFUSED[code]} ({closed.rcvd.reason if closed.rcvd is not None else ''})"
    if code == 4400:
        return UnexpectedResponse(f"{endpoint.url}: {reason}", status=None, url=endpoint.url)
    return (Forbidden if code == 4403 else Unauthenticated)(f"{endpoint.url}: {reason}")


async def _connect(endpoint: Endpoint, document: str, variables: dict[str, Any]) -> ClientConnection:
    ws = await websockets.connect(_ws_url(endpoint.url), subprotocols=[_PROTOCOL], open_timeout=endpoint.timeout)
    try:
        init: dict[str, Any] = {"type": "connection_init"}
        if endpoint.token:
            init["payload"] = {"authorization": f"Bearer {endpoint.token}"}
        await ws.send(json.dumps(init))
        ack = json.loads(await asyncio.wait_for(ws.recv(), endpoint.timeout))
        if not isinstance(ack, dict) or ack.get("type") != "connection_ack":
            raise UnexpectedResponse(f"{endpoint.url} did not accept the subscription: {ack!r}", status=None, url=endpoint.url)
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": document, "variables": variables}}))
    except BaseException:
        await ws.close()
        raise
    return ws


async def subscribe(
    endpoint: Endpoint, document: str, field: str, variables: dict[str, Any], after: str | None
) -> AsyncIterator[dict[str, Any]]:
    """Each event of the subscription ``field`` that ``document`` selects (its selection
    must hold ``cursor``, and the operation take ``$after``), oldest first, from after
    ``after`` (None: from now on). A lost connection is opened again with the last
    cursor given, retried as calls are; an error the gateway answers ends it."""
    cursor, attempt = after, 0
    while True:
        try:
            ws = await _connect(endpoint, document, {**variables, "after": cursor})
        except websockets.ConnectionClosed as closed:
            refused = _refusal(endpoint, closed)
            if refused is not None:
                raise refused from None
            attempt += 1
            await asyncio.sleep(endpoint.pause(Unavailable(f"cannot subscribe at {endpoint.url} ({closed})"), attempt))
            continue
        except (OSError, asyncio.TimeoutError, websockets.InvalidHandshake) as error:
            attempt += 1
            await asyncio.sleep(endpoint.pause(Unavailable(f"cannot subscribe at {endpoint.url} ({error})"), attempt))
            continue
        try:
            async for raw in ws:
                message = json.loads(raw)
                kind = message.get("type")
                if kind == "ping":
                    await ws.send(json.dumps({"type": "pong"}))
                elif kind == "next":
                    payload = message.get("payload") or {}
                    if payload.get("errors"):
                        raise endpoint.graphql_error(payload["errors"])
                    event = payload["data"][field]
                    cursor, attempt = event["cursor"], 0
                    yield event
                elif kind == "error":
                    raise endpoint.graphql_error(message.get("payload") or [{}])
                elif kind == "complete":
                    return
        except websockets.ConnectionClosed as closed:
            refused = _refusal(endpoint, closed)
            if refused is not None:
                raise refused from None
            attempt += 1
            await asyncio.sleep(
                endpoint.pause(Unavailable(f"the subscription at {endpoint.url} was cut off ({closed})"), attempt)
            )
        finally:
            await ws.close()

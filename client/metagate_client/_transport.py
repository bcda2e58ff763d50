"""Where the gateway is, and how one HTTP exchange with it turns into data or a typed
error. Both clients hold an ``Endpoint``; they differ only in how they send and wait."""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import httpx

from metagate_client._exceptions import (
    BY_CODE,
    BadInput,
    DeadlineExceeded,
    Forbidden,
    MetagateError,
    Unauthenticated,
    Unavailable,
    UnexpectedResponse,
)
from metagate_client._version import __version__

DEFAULT_URL = "http://127.0.0.1:8000"

_NOT_JSON = object()


class Endpoint:
    """The gateway's GraphQL URL and token (arguments first, then METAGATE_URL and
    METAGATE_TOKEN, then http://127.0.0.1:8000 and no token), with the retry policy."""

    def __init__(self, url: str | None, token: str | None, *, timeout: float, retries: int, backoff: float) -> None:
        self.url = _graphql_url(url)
        if token is None:
            token, self._token_source = os.environ.get("METAGATE_TOKEN"), "METAGATE_TOKEN"
        else:
            self._token_source = "the token argument"
        self.token = token or None
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff

    @property
    def headers(self) -> dict[str, str]:
        headers = {
            "accept": "application/json",
            "content-type": "application/json",
            "user-agent": f"metagate-client/{__version__}",
        }
        if self.token:
            headers["authorization"] = f"Bearer {self.token}"
        return headers

    @contextmanager
    def exchange(self) -> Iterator[None]:
        """Turns every failure of the HTTP exchange into the client's own error."""
        try:
            yield
        except (httpx.ConnectError, httpx.ConnectTimeout) as error:
            raise Unavailable(
                f"cannot reach {self.url}: is the gateway running? ({str(error) or type(error).__name__})"
            ) from error
        except httpx.TimeoutException as error:
            raise DeadlineExceeded(
                f"{self.url} did not answer within {self.timeout:g} s (pass a larger timeout= for slow requests)"
            ) from error
        except (httpx.NetworkError, httpx.RemoteProtocolError) as error:
            raise Unavailable(f"the connection to {self.url} was lost before the answer came ({error})") from error
        except (httpx.HTTPError, httpx.InvalidURL) as error:
            raise UnexpectedResponse(f"the exchange with {self.url} failed: {error!r}", status=None, url=self.url) from error

    def read(self, response: httpx.Response) -> dict[str, Any]:
        """The ``data`` of a GraphQL answer, or the error it stands for."""
        status, request_id = response.status_code, response.headers.get("x-request-id")
        body = _json(response.content)
        if isinstance(body, dict):
            errors = body.get("errors")
            if isinstance(errors, list) and errors:
                self._raise_graphql_error(errors, request_id)
            data = body.get("data")
            if status == 200 and isinstance(data, dict):
                return data
        if status in (502, 503, 504):
            raise Unavailable(
                f"{self.url} answered {status}: the gateway or a proxy before it is unavailable", request_id=request_id
            )
        if status == 401:
            raise Unauthenticated(f"{self.url} answered 401{self._token_hint()}", request_id=request_id)
        if status == 403:
            raise Forbidden(f"{self.url} answered 403: this token may not do that", request_id=request_id)
        what = "a non-JSON body" if body is _NOT_JSON else "JSON that is not a GraphQL result"
        raise UnexpectedResponse(
            f"{self.url} answered {status} with {what}: is this the gateway's URL?",
            status=status,
            url=self.url,
            request_id=request_id,
        )

    def _raise_graphql_error(self, errors: list[Any], request_id: str | None) -> NoReturn:
        raise self.graphql_error(errors, request_id)

    def graphql_error(self, errors: list[Any], request_id: str | None = None) -> MetagateError:
        """The error a GraphQL ``errors`` list says: its first one's code, and message."""
        first = errors[0] if isinstance(errors[0], dict) else {}
        extensions = first.get("extensions")
        code = extensions.get("code") if isinstance(extensions, dict) else None
        code = code if isinstance(code, str) else "INTERNAL"
        message = str(first.get("message") or "the gateway reported an error without a message")
        if len(errors) > 1:
            message += f" (and {len(errors) - 1} more)"
        if code == "UNAUTHENTICATED":
            message += self._token_hint()
        return BY_CODE.get(code, MetagateError)(message, code=code, request_id=request_id)

    def _token_hint(self) -> str:
        if self.token is None:
            return "; no token was sent: pass token= or set METAGATE_TOKEN"
        return f"; the token came from {self._token_source}: check it, or issue one with `metagate token create`"

    def pause(self, error: MetagateError, attempt: int) -> float:
        """Seconds to wait before trying again after ``attempt`` failed with a transient
        ``error``; raises the error once the retries are spent."""
        if attempt > self.retries:
            if attempt == 1:
                raise error
            raise type(error)(
                f"{error.message} (tried {attempt} times)", code=error.code, request_id=error.request_id
            ) from error.__cause__
        # Full jitter: clients that failed together do not all come back at once.
        return random.uniform(0, self.backoff * 2 ** (attempt - 1))


def encode(document: str, variables: dict[str, Any]) -> bytes:
    try:
        return json.dumps({"query": document, "variables": variables}, allow_nan=False, separators=(",", ":")).encode()
    except (TypeError, ValueError) as error:
        raise BadInput(f"the request cannot be sent as JSON: {error}") from None


def _json(content: bytes) -> Any:
    try:
        return json.loads(content)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError both
        return _NOT_JSON


def _graphql_url(url: str | None) -> str:
    where = "url"
    if url is None:
        url, where = os.environ.get("METAGATE_URL") or DEFAULT_URL, "METAGATE_URL"
    try:
        parsed = httpx.URL(url.strip())
    except httpx.InvalidURL as error:
        raise BadInput(f"{where} {url!r} is not a URL ({error}); give the gateway's, e.g. {DEFAULT_URL}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise BadInput(f"{where} {url!r} is not an http:// or https:// URL; give the gateway's, e.g. {DEFAULT_URL}")
    path = parsed.path.rstrip("/")
    if not path.endswith("/graphql"):
        path += "/graphql"
    return str(parsed.copy_with(path=path, query=None, fragment=None))

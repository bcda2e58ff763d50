"""Metagate's coded errors. Every layer raises these; the GraphQL layer turns them
into errors with ``extensions.code``. Anything else reaching a client is masked.

    MetagateError
    ├── BadUserInput      BAD_USER_INPUT   malformed or out-of-range input
    ├── Unauthenticated   UNAUTHENTICATED  no valid API token
    ├── Forbidden         FORBIDDEN        the token's role or projects do not allow it
    ├── NotFound          NOT_FOUND        an id or name that does not exist
    ├── Conflict          CONFLICT         the write contradicts what is stored
    │   └── WriteConflict                  a concurrent write won; the write may be retried
    ├── Unavailable       UNAVAILABLE      the store cannot be reached
    └── DeadlineExceeded  DEADLINE_EXCEEDED the request ran past its deadline
"""

from __future__ import annotations

import time
from typing import Any


class MetagateError(Exception):
    code = "INTERNAL"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class BadUserInput(MetagateError):
    code = "BAD_USER_INPUT"


class Unauthenticated(MetagateError):
    code = "UNAUTHENTICATED"


class Forbidden(MetagateError):
    code = "FORBIDDEN"


class NotFound(MetagateError):
    code = "NOT_FOUND"


class Conflict(MetagateError):
    code = "CONFLICT"


class WriteConflict(Conflict):
    pass


class Unavailable(MetagateError):
    code = "UNAVAILABLE"


class DeadlineExceeded(MetagateError):
    code = "DEADLINE_EXCEEDED"


# How long a store whose last write failed because it cannot take writes (read-only,
# disk full) is not ready: not ready keeps traffic away, so no write would come to make
# it ready again; after this it is asked again.
CANNOT_WRITE_SECONDS = 10.0


class WriteRefusal:
    """Why a store's last write failed, when the failure means it takes no writes at
    all (read-only, disk full), for its readiness: each adapter says which failures
    those are, and its ``ping`` calls ``check``."""

    def __init__(self) -> None:
        self.reason: str | None = None
        self._since = 0.0

    def failed(self, reason: str) -> None:
        self.reason, self._since = reason, time.monotonic()

    def succeeded(self) -> None:
        self.reason = None

    def check(self) -> None:
        """UNAVAILABLE with the reason for ``CANNOT_WRITE_SECONDS`` after such a
        failure, unless a write succeeded since."""
        if self.reason is not None:
            if time.monotonic() - self._since < CANNOT_WRITE_SECONDS:
                raise Unavailable(self.reason)
            self.reason = None

"""Every failure the client raises, one tree:

* MetagateError              every failure: code, message, request_id (when the gateway gave one)
  * BadInput                 BAD_USER_INPUT: refused by the gateway, or by the client before sending
  * NotFound                 NOT_FOUND: an id or name the gateway does not know
  * Conflict                 CONFLICT: the write contradicts what is recorded
  * Unauthenticated          UNAUTHENTICATED or HTTP 401: no token, or not a valid one
  * Forbidden                FORBIDDEN or HTTP 403: the token's role or projects do not allow it
  * Unavailable              UNAVAILABLE, HTTP 502/503/504, the gateway unreachable or the connection lost
  * DeadlineExceeded         DEADLINE_EXCEEDED, or no answer within the client's timeout
  * UnexpectedResponse       an answer that is not the gateway's GraphQL JSON: status, url

Unavailable and DeadlineExceeded are raised once the retries are spent. A code this
client does not know (INTERNAL among them) is raised as MetagateError itself.
"""

from __future__ import annotations


class MetagateError(Exception):
    """Base of the client's errors; ``code`` is the gateway's ``extensions.code``."""

    code = "INTERNAL"

    def __init__(self, message: str, *, code: str | None = None, request_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or type(self).code
        self.request_id = request_id


class BadInput(MetagateError):
    code = "BAD_USER_INPUT"


class NotFound(MetagateError):
    code = "NOT_FOUND"


class Conflict(MetagateError):
    code = "CONFLICT"


class Unauthenticated(MetagateError):
    code = "UNAUTHENTICATED"


class Forbidden(MetagateError):
    code = "FORBIDDEN"


class Unavailable(MetagateError):
    code = "UNAVAILABLE"


class DeadlineExceeded(MetagateError):
    code = "DEADLINE_EXCEEDED"


class UnexpectedResponse(MetagateError):
    """``status`` is the HTTP status (None when the exchange broke off); ``url`` where it came from."""

    code = "UNEXPECTED_RESPONSE"

    def __init__(self, message: str, *, status: int | None, url: str, request_id: str | None = None) -> None:
        super().__init__(message, request_id=request_id)
        self.status = status
        self.url = url


BY_CODE: dict[str, type[MetagateError]] = {
    cls.code: cls for cls in (BadInput, NotFound, Conflict, Unauthenticated, Forbidden, Unavailable, DeadlineExceeded)
}

"""The one coded error: raised by services, rendered once per edge.

Services raise `DashboardError` with an `ErrorCode`; the socket edge (the consumer) answers
it with an `error` message (contract §4), the HTTP edge (`dashboard.web.errors`) with JSON
and the code's HTTP status. No view or consumer builds an error answer of its own.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """The contract's error codes (§4 `error.code`), and `unavailable` for a data-source outage."""

    BAD_REQUEST = "bad_request"
    UNKNOWN_TYPE = "unknown_type"
    FORBIDDEN = "forbidden"
    UNKNOWN_SCOPE = "unknown_scope"
    NOT_FOUND = "not_found"
    RATE_LIMITED = "rate_limited"
    # HTTP only (503); over the socket an outage is told by `status` or `ack_result.reason`.
    UNAVAILABLE = "unavailable"


HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.BAD_REQUEST: 400,
    ErrorCode.UNKNOWN_TYPE: 400,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.UNKNOWN_SCOPE: 404,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.UNAVAILABLE: 503,
}


class DashboardError(Exception):
    """A request that cannot be served, with the code the client is told.

    `message` is safe to show the client: it never carries a driver's text or a document.
    `request_id` is the client message's, echoed in the socket's `error`.
    """

    def __init__(self, code: ErrorCode, message: str, request_id: str | int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_id = request_id

    @property
    def http_status(self) -> int:
        return HTTP_STATUS[self.code]


class Unavailable(DashboardError):
    """A data source (MongoDB or Redis) could not answer; nothing was changed."""

    def __init__(self, message: str) -> None:
        super().__init__(ErrorCode.UNAVAILABLE, message)

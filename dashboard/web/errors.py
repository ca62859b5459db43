"""The HTTP edge's one rendering of errors (DRF's EXCEPTION_HANDLER): `{"code", "message"}` JSON.

A `DashboardError` raised by a service is answered with its code's status. A driver error
that no service translated is still a data-source outage: 503 `unavailable`, never a 500 page.
"""

from __future__ import annotations

import logging
from typing import Any

from pymongo.errors import PyMongoError
from redis.exceptions import RedisError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from dashboard.protocol.errors import DashboardError, ErrorCode
from dashboard.sources.outages import MONGO_DOWN, REDIS_DOWN

logger = logging.getLogger(__name__)


def error_response(error: DashboardError) -> Response:
    """The JSON answer of a coded error: `{"code": str, "message": str}` with its HTTP status."""
    return Response({"code": str(error.code), "message": error.message}, status=error.http_status)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's hook: coded errors and driver outages as JSON; everything else as DRF does it."""
    if isinstance(exc, DashboardError):
        return error_response(exc)
    if isinstance(exc, PyMongoError | RedisError):
        logger.warning("data source down during %s: %s", context.get("view"), exc.__class__.__name__)
        message = MONGO_DOWN if isinstance(exc, PyMongoError) else REDIS_DOWN
        return error_response(DashboardError(ErrorCode.UNAVAILABLE, message))
    return drf_exception_handler(exc, context)

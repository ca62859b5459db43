"""The access log (contract §6), written off the delivery path.

Consumers call `record()`, which only appends to an in-process buffer; the web process's
connection ticker saves the buffer in bulk about once a second. Message delivery never
waits for the database. HTTP views, which are not on the delivery path, call `record_request()`.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings

from dashboard.models import AccessLog

if TYPE_CHECKING:
    from django.http import HttpRequest

    from dashboard.access.permissions import Access

logger = logging.getLogger(__name__)

BUFFER_MAX_ENTRIES = 100_000
PRUNE_BATCH = 10_000

_buffer: deque[AccessLog] = deque()
_lock = threading.Lock()
_dropped = 0


def _entry(
    action: str, *, user_id: int | None, username: str, scope: str, client_address: str, detail: str
) -> AccessLog:
    return AccessLog(
        at=datetime.now(UTC),
        user_id=user_id,
        username=username[:150],
        action=action,
        scope=scope[:32],
        client_address=client_address[:64],
        detail=detail[:200],
    )


def record(
    action: str,
    *,
    user_id: int | None,
    username: str,
    scope: str = "",
    client_address: str = "",
    detail: str = "",
) -> None:
    """Queue one access-log entry; never blocks on the database."""
    global _dropped
    entry = _entry(
        action, user_id=user_id, username=username, scope=scope, client_address=client_address, detail=detail
    )
    with _lock:
        if len(_buffer) >= BUFFER_MAX_ENTRIES:
            _dropped += 1
            return
        _buffer.append(entry)


def pending() -> int:
    return len(_buffer)


def flush() -> int:
    """Save what is buffered; returns how many entries were saved."""
    global _dropped
    with _lock:
        entries = list(_buffer)
        _buffer.clear()
        dropped, _dropped = _dropped, 0
    if dropped:
        logger.error("access log buffer was full: %d entries were not recorded", dropped)
    if entries:
        try:
            AccessLog.objects.bulk_create(entries, batch_size=1000)
        except Exception:
            with _lock:
                _buffer.extendleft(reversed(entries[: BUFFER_MAX_ENTRIES - len(_buffer)]))
            raise
    return len(entries)


def record_now(
    action: str,
    *,
    user_id: int | None,
    username: str,
    scope: str = "",
    client_address: str = "",
    detail: str = "",
) -> None:
    """Write one entry at once (for API views, which are off the delivery path)."""
    _entry(
        action, user_id=user_id, username=username, scope=scope, client_address=client_address, detail=detail
    ).save()


def prune(now: datetime | None = None) -> int:
    """Delete entries older than AUDIT_RETENTION_DAYS; returns how many were deleted."""
    cutoff = (now or datetime.now(UTC)) - timedelta(days=settings.AUDIT_RETENTION_DAYS)
    deleted = 0
    while True:
        ids = list(AccessLog.objects.filter(at__lt=cutoff).values_list("id", flat=True)[:PRUNE_BATCH])
        if not ids:
            return deleted
        deleted += AccessLog.objects.filter(id__in=ids).delete()[0]


def record_request(
    request: HttpRequest, access: Access, action: str, *, scope: str = "", detail: str = ""
) -> None:
    """Write the entry of an HTTP request at once (API views and the page are off the delivery path)."""
    record_now(
        action,
        user_id=access.user_id,
        username=access.username,
        scope=scope,
        client_address=str(request.META.get("REMOTE_ADDR", "")),
        detail=detail,
    )

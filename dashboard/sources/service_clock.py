"""The service's clock: this host's wall clock corrected to Redis's (`TIME`).

Times that one process writes and another reads (a tier's `computed_at` and the time windows it
counts over, a push's `generated_at`, a health report's time, the watcher's lag, a tier's age in a
snapshot) are taken on this clock, so a host whose clock runs ahead or behind stamps and judges
them as the rest of the service does (row 8 of the fault matrix, docs/RELIABILITY.md). Redis is
the reference because every process talks to it; escalations are timed on MongoDB's clock
(`dashboard.sources.mongo.server_now`) and connection leases on Redis's inside their script.

The offset is measured in the calling thread from one `TIME` round trip (Redis's time minus the
midpoint of this host's clock before and after it) when the last measurement is more than
REFRESH_S old, or RETRY_S after a failed one. Until the first measurement, and while Redis does
not answer, the last offset (0.0 at first) is used: reading the clock never raises. Callers on an
event loop pass `refresh=False`, so the loop never waits on Redis; a thread of the same process
keeps the offset fresh (the web process's health reporter reads this clock every 5 s).
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime

from redis.exceptions import RedisError

from dashboard.sources import redis_store

logger = logging.getLogger(__name__)

REFRESH_S = 30.0
RETRY_S = 5.0
# An offset larger than this is logged when measured: this host's clock is wrong.
LOGGED_OFFSET_S = 2.0

_lock = threading.Lock()
_offset_s = 0.0
_next_refresh = 0.0  # time.monotonic() after which the offset is measured again


def measure() -> float:
    """Measure, keep and return the offset in seconds (Redis's clock minus this host's; positive
    when this host's clock is behind). Raises RedisError when Redis does not answer."""
    global _offset_s, _next_refresh
    before = time.time()
    seconds, microseconds = redis_store.client().time()
    after = time.time()
    offset = seconds + microseconds / 1_000_000 - (before + after) / 2
    if abs(offset) > LOGGED_OFFSET_S >= abs(_offset_s):
        logger.warning(
            "this host's clock is %.1f s %s Redis's", abs(offset), "behind" if offset > 0 else "ahead of"
        )
    _offset_s, _next_refresh = offset, time.monotonic() + REFRESH_S
    return offset


def offset_s(*, refresh: bool = True) -> float:
    """The offset in seconds to add to this host's `time.time()`; measured first when due and
    `refresh` is true and no other thread is measuring it."""
    global _next_refresh
    if refresh and time.monotonic() >= _next_refresh and _lock.acquire(blocking=False):
        try:
            measure()
        except RedisError:
            _next_refresh = time.monotonic() + RETRY_S
        finally:
            _lock.release()
    return _offset_s


def time_s(*, refresh: bool = True) -> float:
    """Unix time in seconds on the service's clock."""
    offset = offset_s(refresh=refresh)  # first: measuring it may take a round trip
    return time.time() + offset


def now(*, refresh: bool = True) -> datetime:
    """The service's time as an aware UTC datetime."""
    return datetime.fromtimestamp(time_s(refresh=refresh), UTC)

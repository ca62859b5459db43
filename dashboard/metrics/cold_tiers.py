"""A tier the cache lacks, computed from MongoDB once for all the snapshots that ask at once.

After Redis restarts empty, or before beat has first run a tier, every snapshot of a scope
misses the same tier. Without this, each of them (WebSocket subscriptions and
`GET /api/snapshot/`, run in threads) ran the same aggregation at once. Now:

- Within a process, the first thread to miss a scope's tier computes it and the others wait
  for its result (a `concurrent.futures.Future`), or for its exception.
- Across processes, that thread first takes a short Redis lock (redis-py's `Lock`, key
  `redis_store.snapshot_fill_lock_key`). Whoever holds it computes and caches the tier; the
  others wait for the lock, then read the cached value. A holder that dies leaves its lock
  to expire after LOCK_TTL_S; a waiter stops waiting after WAIT_S and computes itself, so no
  snapshot waits on another process for longer than that.
"""

from __future__ import annotations

import contextlib
import threading
from concurrent.futures import Future
from typing import Any

from redis.exceptions import LockError

from dashboard.metrics.runner import compute_tier
from dashboard.protocol.scopes import Scope
from dashboard.sources import redis_store
from dashboard.stream import tier_cache

# How long a process may hold the lock of one tier's computation before it expires (s).
LOCK_TTL_S = 15.0
# How long a process waits for another's computation before computing itself (s).
WAIT_S = 20.0

_in_flight: dict[tuple[str, str], Future[dict[str, Any]]] = {}
_in_flight_guard = threading.Lock()


def fill_tier(scope: Scope, tier: str) -> dict[str, Any]:
    """The scope's tier, computed from MongoDB and cached, or cached meanwhile by another process.

    Returns the tier's JSON object (with `computed_at`). Concurrent callers in this process
    for the same scope and tier share one call and its outcome: each gets the same object or
    the same exception (what `compute_tier` raises, or RedisError).
    """
    key = (scope.key, tier)
    with _in_flight_guard:
        future = _in_flight.get(key)
        leader = future is None
        if future is None:
            future = _in_flight[key] = Future()
    if not leader:
        return future.result()
    try:
        future.set_result(_fill_once_across_processes(scope, tier))
    except BaseException as exc:
        future.set_exception(exc)
    finally:
        with _in_flight_guard:
            del _in_flight[key]
    return future.result()


def _fill_once_across_processes(scope: Scope, tier: str) -> dict[str, Any]:
    lock = redis_store.client().lock(
        redis_store.snapshot_fill_lock_key(scope, tier), timeout=LOCK_TTL_S, blocking_timeout=WAIT_S
    )
    if not lock.acquire():
        # Another process still holds it after WAIT_S: compute rather than wait longer.
        return _computed_and_cached(scope, tier)
    try:
        cached = tier_cache.load_tiers(scope, [tier])[tier]
        return cached if cached is not None else _computed_and_cached(scope, tier)
    finally:
        # A lock that expired during a computation longer than LOCK_TTL_S has nothing to release.
        with contextlib.suppress(LockError):
            lock.release()


def _computed_and_cached(scope: Scope, tier: str) -> dict[str, Any]:
    data = compute_tier(scope, tier)
    tier_cache.store_tier(scope, tier, data)
    return data

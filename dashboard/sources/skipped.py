"""Documents skipped because a field is outside what the contract (§1) allows: counted, and
named in one log line.

Every reader of MongoDB that leaves a document out calls `record`: the count per collection
and field is kept in Redis (summed over every process, exported at `/metrics` as
`dash_documents_skipped_total{collection,field}`), and one warning names the collection, the
field and the document's `_id`, never a value or the document itself. A reader that reads
the same document again (a tier every 30 s) counts it again, so the counter's rate shows that
invalid values are still being read; the line is logged once per process for each reader,
document and field (up to LOGGED_MAX remembered; the memory starts over when full). Counting
is best effort: without Redis the line is still logged and the reader goes on.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from redis.exceptions import RedisError

from dashboard.sources import redis_store
from dashboard.telemetry import instruments

logger = logging.getLogger(__name__)

LOGGED_MAX = 10_000
_logged: set[tuple[str, str, str, str]] = set()
_logged_lock = threading.Lock()


def _first_time(key: tuple[str, str, str, str]) -> bool:
    with _logged_lock:
        if key in _logged:
            return False
        if len(_logged) >= LOGGED_MAX:
            _logged.clear()
        _logged.add(key)
        return True


def record(collection: str, field: str, doc_id: Any, where: str) -> None:
    """Count one skipped document of `collection` for `field`, read by `where` (e.g. "escalation")."""
    if _first_time((where, collection, field, str(doc_id))):
        logger.warning("%s skipped %s document %s: invalid %s", where, collection, doc_id, field)
    try:
        redis_store.client().hincrby(redis_store.SKIPPED_DOCUMENTS_KEY, f"{collection}.{field}", 1)
    except RedisError as exc:
        instruments.SOURCE_ERRORS.labels("redis", "skipped_count").inc()
        logger.warning("could not count a skipped %s document (%s)", collection, exc.__class__.__name__)


def counts() -> dict[tuple[str, str], int]:
    """Skipped documents so far by (collection, field); raises RedisError."""
    raw: dict[str, str] = redis_store.client().hgetall(redis_store.SKIPPED_DOCUMENTS_KEY)  # type: ignore[assignment]
    found = {}
    for key, value in raw.items():
        collection, _, field = key.partition(".")
        found[(collection, field)] = int(value)
    return found

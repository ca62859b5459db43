"""Where each watched document was last seen: so a move or a delete dirties the right departments.

A change event tells a document's department after the change, never before it. The watcher
remembers each document's department in Redis (one hash per collection, shared by every
watcher so a standby takes over with it) and primes it from MongoDB when it becomes active.
A document that moved, or was deleted, dirties the department it was in as well; one that
moved from where the memory cannot say dirties every department.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pymongo.database import Database

from dashboard import redis_store
from dashboard.watcher.events import Change

PRIME_BATCH = 5_000


def _key(collection: str) -> str:
    return f"dash:watch:dept:{collection}"


def prime(db: Database, collections: Iterable[str]) -> int:
    """Load every document's department from MongoDB; returns how many were remembered."""
    client = redis_store.client()
    remembered = 0
    for collection in collections:
        client.delete(_key(collection))
        batch: dict[Any, Any] = {}  # str ids to str codes; redis-py types its mapping loosely
        for doc in db[collection].find({}, {"department": 1}):
            if isinstance(doc.get("department"), str):
                batch[str(doc["_id"])] = doc["department"]
            if len(batch) >= PRIME_BATCH:
                client.hset(_key(collection), mapping=batch)
                remembered += len(batch)
                batch.clear()
        if batch:
            client.hset(_key(collection), mapping=batch)
            remembered += len(batch)
    return remembered


def dirty_departments(change: Change) -> set[str] | None:
    """The departments whose numbers this change may alter; None means every department."""
    client = redis_store.client()
    key, field = _key(change.collection), str(change.document_id)
    before: Any = client.hget(key, field) if change.may_have_moved else None
    if change.department is None:
        client.hdel(key, field)
    else:
        client.hset(key, field, change.department)
    if not change.may_have_moved:
        return {change.department} if change.department is not None else None
    if before is None:
        return None
    return {str(before)} | ({change.department} if change.department is not None else set())

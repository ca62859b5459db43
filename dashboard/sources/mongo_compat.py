"""The one adapter for the embedded MongoDB wire server's deviations (docs/MONGODB_COMPATIBILITY.md).

Production is MongoDB 6+ as a replica set, and every other module is written for it. What
nx-27017 does differently is normalized here, so no design depends on it.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

from bson import ObjectId

_NX_OBJECTID_MARKER = "__neosqlite_objectid__"
# The shortest time one empty change-stream poll takes (deviation 25); chosen by measurement
# (docs/BENCHMARKS.md, "The watcher on the embedded MongoDB: empty polls").
EMPTY_POLL_FLOOR_S = 0.05


def _nx_date(value: dict[str, Any]) -> datetime | None:
    raw = value.get("$date")
    if len(value) != 1 or not isinstance(raw, str):
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _normalize_value(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get(_NX_OBJECTID_MARKER) is True and isinstance(value.get("id"), str):
            # nx-27017 encodes ObjectIds inside a change event's fullDocument this way.
            return ObjectId(value["id"])
        date = _nx_date(value)
        if date is not None:
            # ... and dates as {"$date": "<naive ISO 8601 in UTC>"}.
            return date
        return {key: _normalize_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_normalize_value(item) for item in value]
    return value


def normalize_change_event(event: dict[str, Any]) -> dict[str, Any]:
    """A change event as MongoDB itself would encode it."""
    normalized = dict(event)
    for field in ("fullDocument", "documentKey"):
        if isinstance(normalized.get(field), dict):
            normalized[field] = _normalize_value(normalized[field])
    return normalized


def conjunction(conditions: dict[str, Any]) -> dict[str, Any]:
    """The same filter written as an explicit `$and` of one-field conditions.

    On MongoDB this is the filter itself (the planner flattens a top-level `$and`). On
    nx-27017 an aggregation `$match` with a date range compares wrongly unless it is written
    this way (docs/MONGODB_COMPATIBILITY.md, deviation 20).
    """
    return {"$and": [{field: condition} for field, condition in conditions.items()]}


def is_true(value: str) -> dict[str, Any]:
    """An aggregation expression: `value` (a field path such as "$on_duty") is the boolean
    `true`. On MongoDB `$eq` alone says so; nx-27017's `$eq` also takes the integer 1 for
    `true` (docs/MONGODB_COMPATIBILITY.md, deviation 21), so the type is asked too."""
    return {"$and": [{"$eq": [{"$type": value}, "bool"]}, {"$eq": [value, True]}]}


def not_a_string(value: str) -> dict[str, Any]:
    """An aggregation expression: `value` (a field path) is not a string, for counting the
    documents a date range matched. On MongoDB a range of dates matches dates only, so this
    changes nothing; nx-27017's also matches strings, and its `$type` of a date is not "date"
    (docs/MONGODB_COMPATIBILITY.md, deviation 27), so strings are what is left out."""
    return {"$ne": [{"$type": value}, "string"]}


def wait_out_early_empty_poll(
    took_s: float, stop: threading.Event, floor_s: float = EMPTY_POLL_FLOOR_S
) -> None:
    """After a change-stream poll that came back empty in `took_s` seconds, wait out the rest
    of `floor_s`, or until `stop` is set.

    On MongoDB an empty poll has already waited up to `maxAwaitTimeMS` on the server (200 ms
    for the watcher), longer than the floor, so this returns at once. nx-27017 ignores
    `maxAwaitTimeMS` and answers an empty poll at once: without this wait each stream thread
    would ask again in a tight loop (docs/MONGODB_COMPATIBILITY.md, deviation 25).
    """
    if took_s < floor_s:
        stop.wait(floor_s - took_s)

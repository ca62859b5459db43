"""The one adapter for the embedded MongoDB wire server's deviations (docs/MONGODB_COMPATIBILITY.md).

Production is MongoDB 6+ as a replica set, and every other module is written for it. What
nx-27017 does differently is normalized here, so no design depends on it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bson import ObjectId

_NX_OBJECTID_MARKER = "__neosqlite_objectid__"


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

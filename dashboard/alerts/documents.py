"""Alert documents (contract §1 `alerts`): what a valid one is, and the `alert` payload pushed for it."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from redis.exceptions import RedisError

from dashboard.protocol.messages import iso
from dashboard.watcher import stats

logger = logging.getLogger(__name__)

_ALERT_FIELDS = {"department": str, "severity": str, "kind": str, "message": str, "created_at": datetime}
SEVERITIES = ("critical", "warning", "info")


class InvalidAlert(ValueError):
    """A document in `alerts` that lacks a field the dashboard relies on, or has it mistyped."""


def validated_alert(doc: dict[str, Any]) -> dict[str, Any]:
    """`doc` itself when it is a valid alert (contract §1): every field of _ALERT_FIELDS present
    with its type and a known severity. Raises InvalidAlert naming the `_id` and the field."""
    for field, kind in _ALERT_FIELDS.items():
        if not isinstance(doc.get(field), kind):
            raise InvalidAlert(f"alert {doc.get('_id')!r} has no valid {field}")
    if doc["severity"] not in SEVERITIES:
        raise InvalidAlert(f"alert {doc.get('_id')!r} has unknown severity {doc['severity']!r}")
    return doc


def alert_payload(doc: dict[str, Any]) -> dict[str, Any]:
    """The `alert` object of an `alert` message, from a valid alerts document."""
    return {
        "id": str(doc["_id"]),
        "department": doc["department"],
        "severity": doc["severity"],
        "kind": doc["kind"],
        "message": doc["message"],
        "created_at": iso(doc["created_at"]),
    }


def skipped_alert(doc: dict[str, Any], exc: InvalidAlert, where: str) -> None:
    """Count an invalid alert that `where` (escalation, listing, acknowledgement) leaves out,
    and log it in one line naming the collection, `_id` and the field, never the document.

    Counting is best effort: a Redis failure is logged, not raised, so a read that can go on
    without Redis does.
    """
    logger.warning("%s skipped alerts document %s: %s", where, doc.get("_id"), exc)
    try:
        stats.incr("alerts_skipped")
    except RedisError as failure:
        logger.warning("could not count a skipped alert (%s)", failure.__class__.__name__)

"""Alert documents (contract §1 `alerts`): what a valid one is, and the `alert` payload pushed for it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dashboard.protocol.messages import AlertPayload, iso
from dashboard.sources import skipped
from dashboard.sources.contract import SEVERITIES

_ALERT_FIELDS = {"department": str, "severity": str, "kind": str, "message": str, "created_at": datetime}


class InvalidAlert(ValueError):
    """A document in `alerts` that lacks a field the dashboard relies on, or has it mistyped.

    `field` names the field; the message names the `_id` and the field, never a value.
    """

    def __init__(self, doc_id: Any, field: str) -> None:
        super().__init__(f"alert {doc_id!r} has no valid {field}")
        self.field = field


def validated_alert(doc: dict[str, Any]) -> dict[str, Any]:
    """`doc` itself when it is a valid alert (contract §1): every field of _ALERT_FIELDS present
    with its type and a known severity. Raises InvalidAlert naming the `_id` and the field."""
    for field, kind in _ALERT_FIELDS.items():
        if not isinstance(doc.get(field), kind):
            raise InvalidAlert(doc.get("_id"), field)
    if doc["severity"] not in SEVERITIES:
        raise InvalidAlert(doc.get("_id"), "severity")
    return doc


def alert_payload(doc: dict[str, Any]) -> AlertPayload:
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
    """Count and log an invalid alert that `where` (escalation, listing, acknowledgement) leaves out."""
    skipped.record("alerts", exc.field, doc.get("_id"), where)

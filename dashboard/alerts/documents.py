"""Alert documents (contract §1 `alerts`): what a valid one is, and the `alert` payload pushed for it."""

from __future__ import annotations

from typing import Any

from dashboard.protocol.messages import AlertPayload, iso
from dashboard.sources import documents, mongo, skipped

# What an alert shown to clients relies on; the acknowledgement fields may be null or absent.
ALERT_FIELDS = (
    "department",
    "severity",
    "kind",
    "message",
    "created_at",
    "acknowledged_at",
    "acknowledged_by",
)


class InvalidAlert(ValueError):
    """A document in `alerts` that lacks a field the dashboard relies on, or has it mistyped.

    `field` names the field; the message names the `_id` and the field, never a value.
    """

    def __init__(self, doc_id: Any, field: str) -> None:
        super().__init__(f"alert {doc_id!r} has no valid {field}")
        self.field = field


def validated_alert(doc: dict[str, Any]) -> dict[str, Any]:
    """`doc` with ALERT_FIELDS normalized when it is a valid alert (contract §1, as
    `dashboard.sources.documents` checks every reader's documents): a department code, a known
    severity, `kind` and `message` strings, a `created_at` date every time zone can hold, and
    `acknowledged_at` / `acknowledged_by` null, absent or a date / a string. Raises InvalidAlert
    naming the `_id` and the first invalid field."""
    checked = documents.check(mongo.ALERTS, doc, ALERT_FIELDS)
    if checked.invalid:
        raise InvalidAlert(checked.doc_id, checked.invalid[0])
    return {**doc, **checked.values}


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

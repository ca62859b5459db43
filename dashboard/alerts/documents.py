"""Alert documents (contract §1 `alerts`): what a valid one is, and the `alert` payload pushed for it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dashboard.protocol.messages import AlertPayload, iso
from dashboard.sources.contract import SEVERITIES

_ALERT_FIELDS = {"department": str, "severity": str, "kind": str, "message": str, "created_at": datetime}


class InvalidAlert(ValueError):
    """A document in `alerts` that lacks a field the dashboard relies on, or has it mistyped."""


def validated_alert(doc: dict[str, Any]) -> dict[str, Any]:
    for field, kind in _ALERT_FIELDS.items():
        if not isinstance(doc.get(field), kind):
            raise InvalidAlert(f"alert {doc.get('_id')!r} has no valid {field}")
    if doc["severity"] not in SEVERITIES:
        raise InvalidAlert(f"alert {doc.get('_id')!r} has unknown severity {doc['severity']!r}")
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

"""What one change event means for the dashboard: plain dicts in, plain results out."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dashboard import mongo
from dashboard.mongo_compat import normalize_change_event

_DEPARTMENT = re.compile(r"[A-Z0-9_]{1,16}")
_ALERT_FIELDS = {"severity": str, "kind": str, "message": str, "created_at": datetime}
SEVERITIES = ("critical", "warning", "info")
DATA_OPERATIONS = ("insert", "update", "replace", "delete")


class BadEvent(ValueError):
    """An event the watcher cannot use; it is dead-lettered and the stream goes on."""


@dataclass(frozen=True)
class Change:
    collection: str
    operation: str
    # The department whose numbers may have changed; None when the event does not say
    # (a delete without the document), which makes every department dirty.
    department: str | None
    new_alert: dict[str, Any] | None


def _department(doc: dict[str, Any] | None) -> str | None:
    if doc is None:
        return None
    value = doc.get("department")
    if not isinstance(value, str) or not _DEPARTMENT.fullmatch(value):
        raise BadEvent(f"document {doc.get('_id')!r} has no valid department")
    return value


def _validated_alert(doc: dict[str, Any]) -> dict[str, Any]:
    for field, kind in _ALERT_FIELDS.items():
        if not isinstance(doc.get(field), kind):
            raise BadEvent(f"alert {doc.get('_id')!r} has no valid {field}")
    if doc["severity"] not in SEVERITIES:
        raise BadEvent(f"alert {doc.get('_id')!r} has unknown severity {doc['severity']!r}")
    return doc


def interpret(collection: str, raw_event: dict[str, Any]) -> Change:
    """Classify one change event of a watched collection; raises BadEvent for unusable ones."""
    event = normalize_change_event(raw_event)
    operation = event.get("operationType")
    if operation not in DATA_OPERATIONS:
        raise BadEvent(f"unknown operationType {operation!r}")
    doc = event.get("fullDocument")
    if operation == "delete":
        # MongoDB sends no document with a delete; nx-27017 does, but we do not rely on it.
        return Change(collection, operation, None, None)
    if not isinstance(doc, dict):
        raise BadEvent(f"{operation} of {event.get('documentKey')!r} has no document (deleted since?)")
    department = _department(doc)
    new_alert = None
    if collection == mongo.ALERTS and operation == "insert":
        new_alert = _validated_alert(doc)
    return Change(collection, operation, department, new_alert)

"""What one change event means for the dashboard: plain dicts in, plain results out."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from dashboard import mongo
from dashboard.mongo_compat import normalize_change_event
from dashboard.services.alerts import InvalidAlert, validated_alert

_DEPARTMENT = re.compile(r"[A-Z0-9_]{1,16}")
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
        try:
            new_alert = validated_alert(doc)
        except InvalidAlert as exc:
            raise BadEvent(str(exc)) from None
    return Change(collection, operation, department, new_alert)

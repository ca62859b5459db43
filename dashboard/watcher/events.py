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
    document_id: Any
    # The document's department after the change; None for a delete (MongoDB sends no document).
    department: str | None
    # True when the document may have left another department: a replace, or an update whose
    # updateDescription names `department` or is missing (nx-27017 never sends one).
    may_have_moved: bool
    new_alert: dict[str, Any] | None


def _may_have_moved(event: dict[str, Any]) -> bool:
    if event.get("operationType") == "replace":
        return True
    if event.get("operationType") != "update":
        return False
    description = event.get("updateDescription")
    if not isinstance(description, dict):
        return True
    touched = [*(description.get("updatedFields") or {}), *(description.get("removedFields") or [])]
    return any(field == "department" or field.startswith("department.") for field in touched)


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
    key = event.get("documentKey")
    if not isinstance(key, dict) or "_id" not in key:
        raise BadEvent(f"{operation} event without a documentKey")
    doc = event.get("fullDocument")
    if operation == "delete":
        # MongoDB sends no document with a delete; nx-27017 does, but we do not rely on it.
        return Change(collection, operation, key["_id"], None, True, None)
    if not isinstance(doc, dict):
        raise BadEvent(f"{operation} of {key!r} has no document (deleted since?)")
    department = _department(doc)
    new_alert = None
    if collection == mongo.ALERTS and operation == "insert":
        try:
            new_alert = validated_alert(doc)
        except InvalidAlert as exc:
            raise BadEvent(str(exc)) from None
    return Change(collection, operation, key["_id"], department, _may_have_moved(event), new_alert)

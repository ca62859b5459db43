"""What one change event means for the dashboard: plain dicts in, plain results out."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from dashboard.alerts.documents import InvalidAlert, validated_alert
from dashboard.sources import mongo
from dashboard.sources.mongo_compat import normalize_change_event

DATA_OPERATIONS = ("insert", "update", "replace", "delete")
# After these the collection's documents are gone from under its name (MongoDB sends
# `invalidate` after each on a collection's stream); nx-27017 sends none of them.
COLLECTION_GONE = ("drop", "rename", "dropDatabase", "invalidate")


class BadEvent(ValueError):
    """An event the watcher cannot use; it is dead-lettered and the stream goes on."""


@dataclass(frozen=True)
class Change:
    collection: str
    operation: str
    document_id: Any
    # The document after the change; None for a delete (MongoDB sends no document with one).
    document: dict[str, Any] | None
    # An inserted alert that is valid (alerts.documents.validated_alert), to push; else None.
    new_alert: dict[str, Any] | None


def collection_gone(raw_event: dict[str, Any]) -> bool:
    """True for an event saying the watched collection was dropped or renamed (or its database)."""
    return raw_event.get("operationType") in COLLECTION_GONE


def interpret(collection: str, raw_event: dict[str, Any]) -> Change:
    """Classify one change event of a watched collection; raises BadEvent for unusable ones.

    Unusable: an unknown operation, no document key, or no document after an insert, update
    or replace. Invalid values in the document are not the event's fault: the change still
    replaces the document's contribution (actions.maintain reads it, counting each invalid
    field), and an inserted alert that is not valid is not pushed.
    """
    event = normalize_change_event(raw_event)
    operation = event.get("operationType")
    if operation not in DATA_OPERATIONS:
        raise BadEvent(f"unknown operationType {operation!r}")
    key = event.get("documentKey")
    if not isinstance(key, dict) or "_id" not in key:
        raise BadEvent(f"{operation} event without a documentKey")
    doc = event.get("fullDocument")
    if operation == "delete":
        # nx-27017 sends the document with a delete; MongoDB does not, so it is not relied on.
        return Change(collection, operation, key["_id"], None, None)
    if not isinstance(doc, dict):
        raise BadEvent(f"{operation} of {key!r} has no document (deleted since?)")
    new_alert = None
    if collection == mongo.ALERTS and operation == "insert":
        with contextlib.suppress(InvalidAlert):
            new_alert = validated_alert(doc)
    return Change(collection, operation, key["_id"], doc, new_alert)

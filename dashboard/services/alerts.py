"""Alerts: the message payload, and acknowledging one (contract §4 `ack_alert`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from pymongo import ReturnDocument

from dashboard import mongo, publish
from dashboard.messages import iso
from dashboard.mongo_compat import conjunction
from dashboard.permissions import Access
from dashboard.scopes import HOSPITAL_SCOPE, Scope, department_scope

ALERT_LIST_LIMIT = 200
ALERT_STATES = ("open", "all")


_ALERT_FIELDS = {"department": str, "severity": str, "kind": str, "message": str, "created_at": datetime}
SEVERITIES = ("critical", "warning", "info")


class InvalidAlert(ValueError):
    """A document in `alerts` that lacks a field the dashboard relies on, or has it mistyped."""


def validated_alert(doc: dict[str, Any]) -> dict[str, Any]:
    for field, kind in _ALERT_FIELDS.items():
        if not isinstance(doc.get(field), kind):
            raise InvalidAlert(f"alert {doc.get('_id')!r} has no valid {field}")
    if doc["severity"] not in SEVERITIES:
        raise InvalidAlert(f"alert {doc.get('_id')!r} has unknown severity {doc['severity']!r}")
    return doc


class AlertNotFound(Exception):
    pass


class AlertForbidden(Exception):
    pass


@dataclass(frozen=True)
class Acknowledgement:
    alert_id: str
    by: str
    at: str


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


def listed_alert(doc: dict[str, Any], access: Access) -> dict[str, Any]:
    """An alert as `GET /api/alerts/` and the page list it, with what this user may do."""
    acknowledged_at = doc.get("acknowledged_at")
    return {
        **alert_payload(doc),
        "acknowledged_at": iso(acknowledged_at) if isinstance(acknowledged_at, datetime) else None,
        "acknowledged_by": doc.get("acknowledged_by"),
        "may_acknowledge": access.may_acknowledge(doc["department"]),
    }


def list_alerts(
    access: Access, scope: Scope, state: str, limit: int = ALERT_LIST_LIMIT
) -> list[dict[str, Any]]:
    """The scope's alerts the user may see, newest first; `state` is "open" or "all".

    The caller has checked that the user may read the scope. Documents that are not valid
    alerts are left out, as the watcher leaves them out.
    """
    assert state in ALERT_STATES
    query: dict[str, Any] = {}
    if scope.department is not None:
        query["department"] = scope.department
    elif not access.may_subscribe(HOSPITAL_SCOPE):
        query["department"] = {"$in": sorted(access.departments)}
    if state == "open":
        query["acknowledged_at"] = {"$eq": None}
    alerts = mongo.hospital_db()[mongo.ALERTS]
    cursor = alerts.find(conjunction(query)).sort("created_at", -1).limit(limit)
    listed = []
    for doc in cursor:
        try:
            listed.append(listed_alert(validated_alert(doc), access))
        except InvalidAlert:
            continue
    return listed


def _alert_key(alert_id: str) -> ObjectId | str:
    try:
        return ObjectId(alert_id)
    except (InvalidId, TypeError):
        return alert_id


def _when(doc: dict[str, Any]) -> str:
    value = doc.get("acknowledged_at")
    return iso(value) if isinstance(value, datetime) else iso(datetime.now(UTC))


def acknowledge(access: Access, alert_id: str) -> Acknowledgement:
    """Acknowledge an alert once; later calls return the first acknowledgement unchanged."""
    alerts = mongo.primary_db()[mongo.ALERTS]
    key = _alert_key(alert_id)
    doc = alerts.find_one({"_id": key}, {"department": 1, "acknowledged_at": 1, "acknowledged_by": 1})
    if doc is None or not isinstance(doc.get("department"), str):
        raise AlertNotFound(alert_id)
    if not access.may_acknowledge(doc["department"]):
        raise AlertForbidden(alert_id)
    # $currentDate: the server's clock, and a real date on the embedded MongoDB too, which
    # would store a date given to $set as a string (docs/MONGODB_COMPATIBILITY.md).
    acknowledged = alerts.find_one_and_update(
        {"_id": key, "acknowledged_at": {"$eq": None}},
        {"$currentDate": {"acknowledged_at": True}, "$set": {"acknowledged_by": access.username}},
        projection={"acknowledged_at": 1, "acknowledged_by": 1},
        return_document=ReturnDocument.AFTER,
    )
    if acknowledged is None:
        first = alerts.find_one({"_id": key}, {"acknowledged_at": 1, "acknowledged_by": 1}) or doc
        return Acknowledgement(alert_id=alert_id, by=str(first.get("acknowledged_by")), at=_when(first))
    ack = Acknowledgement(alert_id=alert_id, by=access.username, at=_when(acknowledged))
    for scope in (department_scope(doc["department"]), HOSPITAL_SCOPE):
        publish.publish_alert_acknowledged(scope, alert_id=ack.alert_id, by=ack.by, at=ack.at)
    return ack

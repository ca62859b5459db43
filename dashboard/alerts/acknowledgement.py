"""Acknowledging an alert (contract §4 `ack_alert`, §5 `POST /api/alerts/<id>/ack/`): once, idempotently."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from pymongo import ReturnDocument
from redis.exceptions import RedisError

from dashboard.access.permissions import Access
from dashboard.alerts.documents import ALERT_FIELDS, InvalidAlert, skipped_alert, validated_alert
from dashboard.protocol.errors import DashboardError, ErrorCode, Unavailable
from dashboard.protocol.messages import iso
from dashboard.protocol.scopes import HOSPITAL_SCOPE, department_scope
from dashboard.sources import mongo
from dashboard.sources.lenient_decoding import lenient
from dashboard.sources.outages import unavailable_on_outage
from dashboard.stream import publish

# What validated_alert reads, the acknowledgement itself among it.
ACK_PROJECTION = dict.fromkeys(ALERT_FIELDS, 1)
NOT_WRITTEN = "the hospital database did not write the acknowledgement"


logger = logging.getLogger(__name__)


class AlertNotFound(DashboardError):
    """No alert has that id (or its document has no department to decide who may see it)."""

    def __init__(self) -> None:
        super().__init__(ErrorCode.NOT_FOUND, "no such alert")


class AlertForbidden(DashboardError):
    """The alert exists, but it is not of a department this user may acknowledge."""

    def __init__(self) -> None:
        super().__init__(ErrorCode.FORBIDDEN, "you may not acknowledge this alert")


@dataclass(frozen=True)
class Acknowledgement:
    alert_id: str
    by: str
    at: str


def _alert_key(alert_id: str) -> ObjectId | str:
    try:
        return ObjectId(alert_id)
    except (InvalidId, TypeError):
        return alert_id


def _when(doc: dict[str, Any]) -> str:
    value = doc.get("acknowledged_at")
    return iso(value) if isinstance(value, datetime) else iso(datetime.now(UTC))


def acknowledge(access: Access, alert_id: str) -> Acknowledgement:
    """Acknowledge an alert once; later calls return the first acknowledgement unchanged.

    Raises AlertNotFound for an id that is no alert, or no valid one (which no client was
    shown; it is counted and logged), AlertForbidden when `access` may not acknowledge it, and
    Unavailable when MongoDB cannot confirm it, or refuses to write it (then nothing is
    reported as done). Once the acknowledgement is written it is reported done even if Redis
    cannot push it: the next snapshot and listing show it.
    """
    with unavailable_on_outage():
        doc, acknowledged, first = _write(access, alert_id)
    if acknowledged is None:
        return Acknowledgement(alert_id=alert_id, by=str(first.get("acknowledged_by")), at=_when(first))
    ack = Acknowledgement(alert_id=alert_id, by=access.username, at=_when(acknowledged))
    try:
        for scope in (department_scope(doc["department"]), HOSPITAL_SCOPE):
            publish.publish_alert_acknowledged(scope, alert_id=ack.alert_id, by=ack.by, at=ack.at)
    except RedisError as exc:
        logger.warning("alert %s acknowledged but not pushed: %s", alert_id, exc.__class__.__name__)
    return ack


def _write(access: Access, alert_id: str) -> tuple[dict[str, Any], dict[str, Any] | None, dict[str, Any]]:
    """(the alert, the acknowledgement written now or None, the alert's first acknowledgement)."""
    alerts = lenient(mongo.primary_db())[mongo.ALERTS]
    key = _alert_key(alert_id)
    doc = alerts.find_one({"_id": key}, ACK_PROJECTION)
    if doc is None:
        raise AlertNotFound
    try:
        validated_alert(doc)
    except InvalidAlert as exc:
        skipped_alert(doc, exc, "acknowledgement")
        raise AlertNotFound from None
    if not access.may_acknowledge(doc["department"]):
        raise AlertForbidden
    # $currentDate: the server's clock, and a real date on the embedded MongoDB too, which
    # would store a date given to $set as a string (docs/MONGODB_COMPATIBILITY.md).
    acknowledged = alerts.find_one_and_update(
        {"_id": key, "acknowledged_at": {"$eq": None}},
        {"$currentDate": {"acknowledged_at": True}, "$set": {"acknowledged_by": access.username}},
        projection={"acknowledged_at": 1, "acknowledged_by": 1},
        return_document=ReturnDocument.AFTER,
    )
    if acknowledged is not None:
        return doc, acknowledged, acknowledged
    first = alerts.find_one({"_id": key}, {"acknowledged_at": 1, "acknowledged_by": 1})
    if first is None:
        raise AlertNotFound
    if first.get("acknowledged_at") is None:
        # Nothing was updated, yet the alert is still unacknowledged: the write failed without
        # saying so (nx-27017 answers a findAndModify its storage refused as "no match",
        # docs/MONGODB_COMPATIBILITY.md). Reporting the first acknowledgement would report
        # one that does not exist.
        logger.warning("alert %s not acknowledged: MongoDB did not write it", alert_id)
        raise Unavailable(NOT_WRITTEN)
    return doc, None, first

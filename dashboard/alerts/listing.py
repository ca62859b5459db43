"""Listing alerts for `GET /api/alerts/` and the page (contract §5)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dashboard.access.permissions import Access
from dashboard.alerts.documents import InvalidAlert, alert_payload, skipped_alert, validated_alert
from dashboard.protocol.errors import DashboardError, ErrorCode
from dashboard.protocol.messages import iso
from dashboard.protocol.scopes import HOSPITAL_SCOPE, Scope
from dashboard.sources import mongo
from dashboard.sources.lenient_decoding import lenient
from dashboard.sources.mongo_compat import conjunction
from dashboard.sources.outages import unavailable_on_outage

ALERT_LIST_LIMIT = 200
# At most this many documents are read per listing, valid or not: invalid ones at the head are
# paged past, but a collection of nothing else must not turn a listing into a full scan.
ALERT_LIST_SCAN_MAX = 5_000
ALERT_STATES = ("open", "all")


def alert_state(raw: str) -> str:
    """`raw` if alerts can be listed in that state ("open" or "all"); DashboardError `bad_request` if not."""
    if raw not in ALERT_STATES:
        raise DashboardError(ErrorCode.BAD_REQUEST, "state must be open or all")
    return raw


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
    alerts are left out, as the watcher leaves them out, counted and logged
    (documents.skipped_alert); the listing reads past them, up to ALERT_LIST_SCAN_MAX
    documents. Raises DashboardError: `bad_request` for another state, `unavailable` when
    MongoDB does not answer.
    """
    alert_state(state)
    query: dict[str, Any] = {}
    if scope.department is not None:
        query["department"] = scope.department
    elif not access.may_subscribe(HOSPITAL_SCOPE):
        query["department"] = {"$in": sorted(access.departments)}
    if state == "open":
        query["acknowledged_at"] = {"$eq": None}
    alerts = lenient(mongo.hospital_db())[mongo.ALERTS]
    cursor = (
        alerts.find(conjunction(query)).sort("created_at", -1).limit(ALERT_LIST_SCAN_MAX).batch_size(limit)
    )
    listed: list[dict[str, Any]] = []
    with unavailable_on_outage():
        for doc in cursor:
            try:
                listed.append(listed_alert(validated_alert(doc), access))
            except InvalidAlert as exc:
                skipped_alert(doc, exc, "listing")
                continue
            if len(listed) == limit:
                break
    return listed

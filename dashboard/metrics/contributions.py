"""What one document adds to its department's critical counters: a pure function of the document.

The counters the watcher maintains (dashboard/metrics/maintained.py) are the sum of these
contributions over every document. A change event replaces a document's contribution with
the new one, so applying an event twice, or an older state before a newer one, still ends
at the right sum. Day counts are keyed by the local date in TIME_ZONE, so the present needs
no event at midnight; "active in the last 15 minutes" is a time, compared when read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from dashboard.metrics.critical import ROOM_STATUSES
from dashboard.sources import mongo
from dashboard.sources.contract import SEVERITIES, is_department_code
from dashboard.sources.date_range import localizable

CURRENT_PATIENT = ("admitted", "outpatient")
ADMITTED_PATIENT = ("admitted", "outpatient", "discharged")


@dataclass(frozen=True)
class Contribution:
    department: str
    counters: dict[str, int] = field(default_factory=dict)
    # Staff only: when the member was last active, as a POSIX timestamp.
    active_at: float | None = None

    def dumps(self) -> str:
        return json.dumps({"d": self.department, "c": self.counters, "a": self.active_at})

    @classmethod
    def loads(cls, raw: str | bytes) -> Contribution:
        data = json.loads(raw)
        return cls(data["d"], data["c"], data["a"])


def valid_department(value: Any) -> str | None:
    return value if is_department_code(value) else None


def _instant(value: Any) -> datetime | None:
    # A date no time zone can hold (year 1, year 9999) counts as no date, as in MongoDB's windows.
    if not isinstance(value, datetime) or not localizable(value):
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _local_date(value: Any, tz: ZoneInfo) -> str | None:
    instant = _instant(value)
    return instant.astimezone(tz).date().isoformat() if instant is not None else None


def _count(value: Any) -> int | None:
    """A MongoDB int or long; a bool is neither, though Python calls it an int."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _patient(doc: dict[str, Any], tz: ZoneInfo) -> dict[str, int]:
    status = doc.get("status")
    counters: dict[str, int] = {}
    if status in CURRENT_PATIENT:
        counters[status] = 1
        if doc.get("is_emergency") is True:
            counters["emergency"] = 1
    admitted_on = _local_date(doc.get("admitted_at"), tz)
    if status in ADMITTED_PATIENT and admitted_on is not None:
        counters[f"new:{admitted_on}"] = 1
    discharged_on = _local_date(doc.get("discharged_at"), tz)
    if status == "discharged" and discharged_on is not None:
        counters[f"discharged:{discharged_on}"] = 1
    return counters


def _room(doc: dict[str, Any]) -> dict[str, int]:
    status = doc.get("status")
    if status not in ROOM_STATUSES:
        return {}
    counters = {f"room:{status}": 1}
    beds, occupied = _count(doc.get("beds")), _count(doc.get("occupied_beds"))
    if status != "maintenance" and beds is not None and occupied is not None:
        counters.update(beds_total=beds, beds_occupied=occupied)
    return counters


def _alert(doc: dict[str, Any]) -> dict[str, int]:
    severity = doc.get("severity")
    if doc.get("acknowledged_at") is not None or severity not in SEVERITIES:
        return {}
    return {"alerts_open": 1, **({"alerts_critical": 1} if severity == "critical" else {})}


def contribution(collection: str, doc: dict[str, Any], tz: ZoneInfo) -> Contribution | None:
    """The document's contribution, or None when it belongs to no valid department."""
    department = valid_department(doc.get("department"))
    if department is None:
        return None
    if collection == mongo.PATIENTS:
        counters = _patient(doc, tz)
    elif collection == mongo.ROOMS:
        counters = _room(doc)
    elif collection == mongo.ALERTS:
        counters = _alert(doc)
    elif collection == mongo.STAFF:
        active = _instant(doc.get("last_active_at"))
        on_duty = {"on_duty": 1} if doc.get("on_duty") is True else {}
        return Contribution(department, on_duty, active.timestamp() if active is not None else None)
    else:
        counters = {}
    return Contribution(department, {name: value for name, value in counters.items() if value})


# The fields a contribution reads, for projections when every document is scanned.
FIELDS = {
    mongo.PATIENTS: ("department", "status", "is_emergency", "admitted_at", "discharged_at"),
    mongo.ROOMS: ("department", "status", "beds", "occupied_beds"),
    mongo.ALERTS: ("department", "severity", "acknowledged_at"),
    mongo.STAFF: ("department", "on_duty", "last_active_at"),
    mongo.APPOINTMENTS: ("department",),
    mongo.BILLING: ("department",),
}

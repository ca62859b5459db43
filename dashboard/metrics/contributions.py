"""What one document adds to its department's critical counters: a pure function of the document.

The counters the watcher maintains (dashboard/metrics/maintained.py) are the sum of these
contributions over every document. A change event replaces a document's contribution with
the new one, so applying an event twice, or an older state before a newer one, still ends
at the right sum. Day counts are keyed by the local date in TIME_ZONE, so the present needs
no event at midnight; "active in the last 15 minutes" is a time, compared when read, and so
is a boarding patient's `boarding_since` (docs/METRICS.md "Patient flow"). A room remembers
its status and, when known, since when it holds it, so that the watcher sees a cleaning end.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from dashboard.sources import mongo
from dashboard.sources.documents import Checked

CURRENT_PATIENT = ("admitted", "outpatient")
# How far a source time may lie ahead of the moment it is read or seen changing (the clocks of
# the hospital's application and of this service differ a little): `boarding_since` and
# `status_changed_at` further ahead are broken values (docs/METRICS.md "Patient flow").
CLOCK_SKEW_S = 300.0


@dataclass(frozen=True)
class Contribution:
    department: str
    counters: dict[str, int] = field(default_factory=dict)
    # Staff only: when the member was last active, as a POSIX timestamp.
    active_at: float | None = None
    # Boarding patients only: `boarding_since`, as a POSIX timestamp.
    boarding_at: float | None = None
    # Rooms only: the status, and since when the room holds it (POSIX timestamp; None: unknown).
    status: str | None = None
    status_at: float | None = None

    def dumps(self) -> str:
        data: dict[str, object] = {"d": self.department, "c": self.counters, "a": self.active_at}
        if self.boarding_at is not None:
            data["b"] = self.boarding_at
        if self.status is not None:
            data["s"], data["t"] = self.status, self.status_at
        return json.dumps(data)

    @classmethod
    def loads(cls, raw: str | bytes) -> Contribution:
        data = json.loads(raw)
        return cls(data["d"], data["c"], data["a"], data.get("b"), data.get("s"), data.get("t"))


def _local_date(instant: datetime | None, tz: ZoneInfo) -> str | None:
    # Valid dates (documents.date) convert to every time zone.
    return instant.astimezone(tz).date().isoformat() if instant is not None else None


def _patient(doc: Checked, tz: ZoneInfo) -> dict[str, int]:
    status = doc.get("status")
    counters: dict[str, int] = {}
    if status in CURRENT_PATIENT:
        counters[status] = 1
        if doc.get("is_emergency") is True:
            counters["emergency"] = 1
    admitted_on = _local_date(doc.get("admitted_at"), tz)
    if status is not None and admitted_on is not None:
        counters[f"new:{admitted_on}"] = 1
    discharged_on = _local_date(doc.get("discharged_at"), tz)
    if status == "discharged" and discharged_on is not None:
        counters[f"discharged:{discharged_on}"] = 1
    if boarding_since(doc) is not None:
        counters["boarding"] = 1
    return counters


def boarding_since(doc: Checked) -> datetime | None:
    """When the patient began boarding: a valid `boarding_since` of an `admitted` patient, else None."""
    return doc.get("boarding_since") if doc.get("status") == "admitted" else None


def _room(doc: Checked) -> dict[str, int]:
    status = doc.get("status")
    if status is None:
        return {}
    counters = {f"room:{status}": 1}
    if status != "maintenance" and doc.valid("beds") and doc.valid("occupied_beds"):
        counters.update(beds_total=doc.get("beds"), beds_occupied=doc.get("occupied_beds"))
    return counters


def _alert(doc: Checked) -> dict[str, int]:
    severity = doc.get("severity")
    # Open: a valid severity and acknowledged_at valid and null (an invalid one is not null).
    if severity is None or not doc.valid("acknowledged_at") or doc.get("acknowledged_at") is not None:
        return {}
    return {"alerts_open": 1, **({"alerts_critical": 1} if severity == "critical" else {})}


def contribution(collection: str, doc: Checked, tz: ZoneInfo) -> Contribution | None:
    """The document's contribution, or None when it belongs to no valid department.

    `doc` is the document as `dashboard.sources.documents` checked it (FIELDS of its
    collection): only valid values count, each exactly as docs/METRICS.md defines the
    critical tier. Pure; never raises.
    """
    department = doc.get("department")
    if department is None:
        return None
    if collection == mongo.PATIENTS:
        boarding = boarding_since(doc)
        return Contribution(
            department,
            _nonzero(_patient(doc, tz)),
            boarding_at=boarding.timestamp() if boarding is not None else None,
        )
    if collection == mongo.ROOMS:
        changed = doc.get("status_changed_at")
        return Contribution(
            department,
            _nonzero(_room(doc)),
            status=doc.get("status"),
            status_at=changed.timestamp() if changed is not None else None,
        )
    if collection == mongo.ALERTS:
        counters = _alert(doc)
    elif collection == mongo.STAFF:
        active = doc.get("last_active_at")
        on_duty = {"on_duty": 1} if doc.get("on_duty") is True else {}
        return Contribution(department, on_duty, active.timestamp() if active is not None else None)
    else:
        counters = {}
    return Contribution(department, _nonzero(counters))


def _nonzero(counters: dict[str, int]) -> dict[str, int]:
    return {name: value for name, value in counters.items() if value}

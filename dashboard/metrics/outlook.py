"""The 4-hour occupancy outlook (contract §8 `historical.outlook`): a plain projection.

For each of the next four hours the expected occupied beds are the beds occupied now plus
the mean net flow (admissions minus discharges) of the same local weekday and hour over the
last WEEKS weeks, summed hour by hour; for the current hour only the part still to come
counts. `low` and `high` are the same sums taken over the week whose flow was lowest and the
week whose flow was highest, so the band is the spread of what actually happened on those
days. Nothing is fitted and no model is loaded: docs/METRICS.md "Outlook" has the worked
definition and the mean absolute error measured on the demo's history
(`python manage.py outlook_error`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pymongo.database import Database

from dashboard.metrics.filters import scope_filter
from dashboard.sources import documents, mongo

WEEKS = 4
HORIZON_HOURS = 4
HOUR = timedelta(hours=1)
# Admissions: patients who took a bed (admitted now, or discharged since); outpatients take none.
INPATIENT_STATUSES = ("admitted", "discharged")
FLOW_FIELDS = ("department", "status", "admitted_at", "discharged_at")


def _hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class Flows:
    """Admissions and discharges counted by the UTC hour they fell in."""

    admissions: Counter[datetime]
    discharges: Counter[datetime]

    @classmethod
    def of(cls, admissions: Iterable[datetime], discharges: Iterable[datetime]) -> Flows:
        return cls(Counter(_hour(m) for m in admissions), Counter(_hour(m) for m in discharges))

    def net(self, hour: datetime) -> int:
        return self.admissions.get(hour, 0) - self.discharges.get(hour, 0)


def weeks_back(hour: datetime, weeks: int, tz: ZoneInfo) -> datetime:
    """The same local weekday and hour `weeks` weeks before `hour` (wall-clock arithmetic, so a
    DST change in between keeps the local hour), as a UTC hour."""
    return _hour((hour.astimezone(tz) - timedelta(weeks=weeks)).astimezone(UTC))


def project(occupied_now: float, now: datetime, tz: ZoneInfo, flows: Flows) -> list[dict[str, Any]]:
    """Rows `{hour, expected_occupied_beds, low, high}` for the starts of the next four UTC hours.

    Row k (1..4) is the projection at `hour_now + k h`: occupied_now plus, for each hour from the
    current one to the one before row k, its net flow on the same weekday and hour 1..WEEKS
    weeks ago (the current hour weighted by the fraction of it still to come). `expected` uses
    the mean over the weeks, `low`/`high` the week with the lowest/highest cumulative flow;
    none is below 0. Numbers to 0.1 bed.
    """
    hour_now = _hour(now)
    remaining = (hour_now + HOUR - now) / HOUR
    totals = [0.0] * WEEKS
    rows = []
    for k in range(1, HORIZON_HOURS + 1):
        hour = hour_now + (k - 1) * HOUR
        weight = remaining if k == 1 else 1.0
        for index in range(WEEKS):
            totals[index] += weight * flows.net(weeks_back(hour, index + 1, tz))
        expected = occupied_now + sum(totals) / WEEKS
        rows.append(
            {
                "hour": (hour_now + k * HOUR).isoformat().replace("+00:00", "Z"),
                "expected_occupied_beds": round(max(0.0, expected), 1),
                "low": round(max(0.0, occupied_now + min(totals)), 1),
                "high": round(max(0.0, occupied_now + max(totals)), 1),
            }
        )
    return rows


def history_window(now: datetime) -> tuple[datetime, datetime]:
    """[start, end) of the hours `project` may read at `now` (a DST hour of margin each side)."""
    start = _hour(now) - timedelta(weeks=WEEKS) - HOUR
    return start, _hour(now) - timedelta(weeks=1) + (HORIZON_HOURS + 1) * HOUR


def read_flows(db: Database, department: str | None, start: datetime, end: datetime, where: str) -> Flows:
    """Admissions and discharges of inpatients of the scope in [start, end).

    Each patient is read through `documents.read` as read by `where`: an invalid department
    or date leaves it out of what it invalidates, counted and logged. Raises what pymongo raises.
    """
    window = {"$gte": start, "$lt": end}
    admissions, discharges = [], []
    admitted = scope_filter(department, status={"$in": list(INPATIENT_STATUSES)}, admitted_at=window)
    for doc in db[mongo.PATIENTS].find(admitted, dict.fromkeys(FLOW_FIELDS, 1)):
        checked = documents.read(mongo.PATIENTS, doc, where, ("department", "admitted_at"))
        if not checked.invalid:
            admissions.append(checked.get("admitted_at"))
    discharged = scope_filter(department, status="discharged", discharged_at=window)
    for doc in db[mongo.PATIENTS].find(discharged, dict.fromkeys(FLOW_FIELDS, 1)):
        checked = documents.read(mongo.PATIENTS, doc, where, ("department", "discharged_at"))
        if not checked.invalid and checked.get("discharged_at") is not None:
            discharges.append(checked.get("discharged_at"))
    return Flows.of(admissions, discharges)


def outlook(
    db: Database, department: str | None, occupied_now: int, *, now: datetime, tz: ZoneInfo
) -> list[dict[str, Any]]:
    """`historical.outlook` of the scope: `project` over the flows of the last WEEKS weeks."""
    start, end = history_window(now)
    return project(occupied_now, now, tz, read_flows(db, department, start, end, "historical"))

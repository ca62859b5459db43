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

from bisect import bisect_right
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


@dataclass(frozen=True)
class Backtest:
    """How far the outlook was from what happened: `mae` (beds) per horizon hour 1..4 and over
    all, over `origins` hourly starting points; `baseline_mae`: the same for "stays as it is"."""

    origins: int
    mae: float | None
    mae_by_horizon: list[float | None]
    baseline_mae: float | None


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 2) if values else None


def backtest(db: Database, department: str | None, *, now: datetime, tz: ZoneInfo, days: int) -> Backtest:
    """The outlook's mean absolute error over the last `days` days of `department` (None: hospital).

    Occupied beds in the past are not stored, so both sides use the inpatient census rebuilt
    from patients: at an instant t, inpatients admitted at or before t and not discharged by
    t. At every hour t of the window whose four projected hours have passed, the outlook
    starts from the census at t and reads only flows before t; each of its four rows is
    compared with the census at that hour. The error so measures the projected flows alone.
    Raises what pymongo raises.
    """
    start = _hour(now) - timedelta(days=days)
    history_start = start - timedelta(weeks=WEEKS) - HOUR
    admitted_at, discharged_at = [], []
    query = scope_filter(department, status={"$in": list(INPATIENT_STATUSES)}, admitted_at={"$lt": now})
    for doc in db[mongo.PATIENTS].find(query, dict.fromkeys(FLOW_FIELDS, 1)):
        checked = documents.read(mongo.PATIENTS, doc, "outlook_error", FLOW_FIELDS)
        if checked.invalid:
            continue
        admitted_at.append(checked.get("admitted_at"))
        if checked.get("status") == "discharged" and checked.get("discharged_at") is not None:
            discharged_at.append(checked.get("discharged_at"))
    admitted_at.sort()
    discharged_at.sort()
    flows = Flows.of(
        (m for m in admitted_at if m >= history_start), (m for m in discharged_at if m >= history_start)
    )

    def census(t: datetime) -> int:
        return bisect_right(admitted_at, t) - bisect_right(discharged_at, t)

    errors: list[list[float]] = [[] for _ in range(HORIZON_HOURS)]
    baseline: list[float] = []
    origin = start
    origins = 0
    while origin + HORIZON_HOURS * HOUR <= now:
        occupied = census(origin)
        for k, row in enumerate(project(occupied, origin, tz, flows)):
            actual = census(datetime.fromisoformat(row["hour"].replace("Z", "+00:00")))
            errors[k].append(abs(row["expected_occupied_beds"] - actual))
            baseline.append(abs(occupied - actual))
        origins += 1
        origin += HOUR
    return Backtest(
        origins=origins,
        mae=_mean([e for horizon in errors for e in horizon]),
        mae_by_horizon=[_mean(horizon) for horizon in errors],
        baseline_mae=_mean(baseline),
    )

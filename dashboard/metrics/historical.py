"""The historical tier (contract §3): hourly admissions, 30 daily rows, and comparisons.

Timestamps of the window are fetched (one field each) and bucketed here, in the hospital's
time zone, rather than with date operators the embedded MongoDB does not support. Each
document is read through `dashboard.sources.documents` (as read by "historical"): one whose
department, date or amount is invalid is left out, counted and logged. Revenue is summed
exactly (`dashboard.metrics.money`) and shown rounded to cents.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from pymongo.database import Database

from dashboard.metrics import money
from dashboard.metrics.critical import beds_occupied
from dashboard.metrics.filters import scope_filter
from dashboard.metrics.outlook import outlook
from dashboard.metrics.standard import paid_bills
from dashboard.metrics.timewindows import Windows, local_midnight
from dashboard.sources import documents, mongo

HOURS = 24
DAYS = 30


WHERE = "historical"


def _times(db: Database, collection: str, field: str, query: dict[str, Any]) -> list[datetime]:
    """`field` (a date) of the documents `query` matches whose department and `field` are valid."""
    fields = ("department", field)
    times = []
    for doc in db[collection].find(query, dict.fromkeys(fields, 1)):
        checked = documents.read(collection, doc, WHERE, fields)
        if not checked.invalid and checked.get(field) is not None:
            times.append(checked.get(field))
    return times


def _ratio(current: float, previous: float) -> float | None:
    return round(current / previous, 4) if previous else None


def _count_between(times: Iterable[datetime], start: datetime, end: datetime) -> int:
    return sum(1 for moment in times if start <= moment < end)


def _sum_between(payments: Iterable[tuple[datetime, Decimal]], start: datetime, end: datetime) -> float:
    return money.shown(money.total(amount for moment, amount in payments if start <= moment < end))


def compute_historical(
    db: Database, department: str | None, *, now: datetime, tz: ZoneInfo
) -> dict[str, Any]:
    w = Windows.at(now, tz)
    first_day = w.today - timedelta(days=DAYS - 1)
    last_month_first = (w.today.replace(day=1) - timedelta(days=1)).replace(day=1)
    since = min(
        local_midnight(first_day, tz), local_midnight(last_month_first, tz), w.week_start - timedelta(days=7)
    )

    window = {"$gte": since, "$lt": w.day_end}
    admissions = _times(
        db,
        mongo.PATIENTS,
        "admitted_at",
        scope_filter(department, status={"$in": list(documents.PATIENT_STATUSES)}, admitted_at=window),
    )
    discharged = scope_filter(department, status="discharged", discharged_at=window)
    discharges = _times(db, mongo.PATIENTS, "discharged_at", discharged)
    payments = paid_bills(db, department, since, w.day_end, WHERE)

    hour_now = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    hours = [hour_now - timedelta(hours=HOURS - 1 - i) for i in range(HOURS)]
    hourly = Counter(
        moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0) for moment in admissions
    )

    def local_day(moment: datetime) -> date:
        return moment.astimezone(tz).date()

    admitted_by_day = Counter(local_day(m) for m in admissions)
    discharged_by_day = Counter(local_day(m) for m in discharges)
    revenue_by_day: dict[date, list[Decimal]] = defaultdict(list)
    for moment, amount in payments:
        revenue_by_day[local_day(moment)].append(amount)
    days = [first_day + timedelta(days=i) for i in range(DAYS)]

    # Week and month to date are compared with the same elapsed span of the previous period.
    elapsed_week = now - w.week_start
    prev_week_start = local_midnight(w.week_start.astimezone(tz).date() - timedelta(days=7), tz)
    elapsed_month = now - w.month_start
    prev_month_start = local_midnight(last_month_first, tz)
    prev_month_end = min(prev_month_start + elapsed_month, w.month_start)
    periods = {
        "day": ((w.day_start, now), (w.yesterday_start, w.yesterday_start + (now - w.day_start))),
        "week": ((w.week_start, now), (prev_week_start, prev_week_start + elapsed_week)),
        "month": ((w.month_start, now), (prev_month_start, prev_month_end)),
    }
    comparisons: dict[str, dict[str, float | None]] = {"admissions": {}, "discharges": {}, "revenue": {}}
    for name, ((cur_start, cur_end), (prev_start, prev_end)) in periods.items():
        comparisons["admissions"][name] = _ratio(
            _count_between(admissions, cur_start, cur_end), _count_between(admissions, prev_start, prev_end)
        )
        comparisons["discharges"][name] = _ratio(
            _count_between(discharges, cur_start, cur_end), _count_between(discharges, prev_start, prev_end)
        )
        comparisons["revenue"][name] = _ratio(
            _sum_between(payments, cur_start, cur_end), _sum_between(payments, prev_start, prev_end)
        )

    return {
        "admissions_hourly": [
            {"hour": hour.isoformat().replace("+00:00", "Z"), "count": hourly.get(hour, 0)} for hour in hours
        ],
        "daily": [
            {
                "date": day.isoformat(),
                "admissions": admitted_by_day.get(day, 0),
                "discharges": discharged_by_day.get(day, 0),
                "revenue": money.shown(money.total(revenue_by_day.get(day, []))),
            }
            for day in days
        ],
        "comparisons": comparisons,
        "outlook": outlook(db, department, beds_occupied(db, department), now=now, tz=tz),
    }

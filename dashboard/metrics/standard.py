"""The standard tier (contract §3): today's appointments, revenue, and the department table."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pymongo.database import Database

from dashboard.metrics.critical import critical_by_department, present
from dashboard.metrics.filters import scope_filter
from dashboard.metrics.timewindows import Windows

APPOINTMENT_STATUSES = ("scheduled", "checked_in", "completed", "cancelled", "no_show")


def appointments_today(db: Database, department: str | None, w: Windows) -> dict[str, Any]:
    counts = dict.fromkeys(APPOINTMENT_STATUSES, 0)
    pipeline = [
        {
            "$match": scope_filter(
                department,
                scheduled_at={"$gte": w.day_start, "$lt": w.day_end},
                status={"$in": list(APPOINTMENT_STATUSES)},
            )
        },
        {"$group": {"_id": "$status", "n": {"$sum": 1}}},
    ]
    for row in db.appointments.aggregate(pipeline):
        counts[row["_id"]] = row["n"]
    today = sum(counts.values())
    # Cancelled appointments were never going to happen: they do not lower the rate.
    held = today - counts["cancelled"]
    return {
        "today": today,
        "completed": counts["completed"],
        "cancelled": counts["cancelled"],
        "no_show": counts["no_show"],
        "completion_rate": round(counts["completed"] / held, 4) if held else 0.0,
    }


def is_amount(value: object) -> bool:
    # Checked here rather than with $type: the embedded MongoDB lacks the "number" alias.
    return isinstance(value, int | float) and not isinstance(value, bool)


def revenue(db: Database, department: str | None, w: Windows) -> dict[str, float]:
    since = min(w.week_start, w.month_start)
    totals = {"today": 0.0, "week": 0.0, "month": 0.0}
    cursor = db.billing.find(
        scope_filter(department, status="paid", paid_at={"$gte": since, "$lt": w.day_end}),
        {"amount": 1, "paid_at": 1, "_id": 0},
    )
    for bill in cursor:
        if not is_amount(bill.get("amount")):
            continue
        paid_at, amount = bill["paid_at"], float(bill["amount"])
        if paid_at >= w.day_start:
            totals["today"] += amount
        if paid_at >= w.week_start:
            totals["week"] += amount
        if paid_at >= w.month_start:
            totals["month"] += amount
    return {key: round(value, 2) for key, value in totals.items()}


def compute_standard(db: Database, department: str | None, *, now: datetime, tz: ZoneInfo) -> dict[str, Any]:
    w = Windows.at(now, tz)
    data: dict[str, Any] = {
        "appointments": appointments_today(db, department, w),
        "revenue": revenue(db, department, w),
    }
    if department is None:
        data["departments"] = [
            {"department": code, **present(counts)}
            for code, counts in sorted(critical_by_department(db, None, now=now, tz=tz).items())
        ]
    return data

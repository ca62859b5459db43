"""The standard tier (contract §3): today's appointments, revenue, and the department table."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from pymongo.database import Database

from dashboard.metrics import flow, money
from dashboard.metrics.critical import critical_by_department, present
from dashboard.metrics.filters import scope_filter
from dashboard.metrics.timewindows import Windows
from dashboard.sources import documents, mongo
from dashboard.sources.contract import is_department_code
from dashboard.sources.documents import APPOINTMENT_STATUSES
from dashboard.sources.mongo_compat import not_a_string

# What revenue reads of each bill; status and the window are in the query.
BILL_FIELDS = ("department", "amount", "paid_at")


def appointments_today(db: Database, department: str | None, w: Windows) -> dict[str, Any]:
    """Today's appointments of the scope by status; counted per department first, so that those
    of a department that is not a code are left out, as everywhere."""
    counts = dict.fromkeys(APPOINTMENT_STATUSES, 0)
    pipeline = [
        {
            "$match": scope_filter(
                department,
                scheduled_at={"$gte": w.day_start, "$lt": w.day_end},
                status={"$in": list(APPOINTMENT_STATUSES)},
            )
        },
        {
            "$group": {
                "_id": "$department",
                **{
                    status: {
                        "$sum": {
                            "$cond": [
                                {"$and": [{"$eq": ["$status", status]}, not_a_string("$scheduled_at")]},
                                1,
                                0,
                            ]
                        }
                    }
                    for status in counts
                },
            }
        },
    ]
    for row in db.appointments.aggregate(pipeline):
        if is_department_code(row["_id"]):
            for status in APPOINTMENT_STATUSES:
                counts[status] += row[status]
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


def paid_bills(
    db: Database, department: str | None, start: datetime, end: datetime, where: str
) -> list[tuple[datetime, Decimal]]:
    """(paid_at, amount) of the scope's bills paid in [start, end), amounts exact.

    Each bill is read through `documents.read` as read by `where`: one whose department,
    amount or paid_at is invalid (a NaN or infinite amount, a Decimal128 NaN, a string) is
    left out, counted and logged. Raises what pymongo raises.
    """
    cursor = db.billing.find(
        scope_filter(department, status="paid", paid_at={"$gte": start, "$lt": end}),
        dict.fromkeys(BILL_FIELDS, 1),
    )
    bills = []
    for doc in cursor:
        bill = documents.read(mongo.BILLING, doc, where, BILL_FIELDS)
        if not bill.invalid and bill.get("paid_at") is not None:
            bills.append((bill.get("paid_at"), bill.get("amount")))
    return bills


def revenue(db: Database, department: str | None, w: Windows) -> dict[str, float]:
    """Paid amounts of today, this week and this month: exact sums, shown rounded to cents."""
    bills = paid_bills(db, department, min(w.week_start, w.month_start), w.day_end, "standard")
    starts = {"today": w.day_start, "week": w.week_start, "month": w.month_start}
    return {
        name: money.shown(money.total(amount for paid_at, amount in bills if paid_at >= start))
        for name, start in starts.items()
    }


def compute_standard(db: Database, department: str | None, *, now: datetime, tz: ZoneInfo) -> dict[str, Any]:
    w = Windows.at(now, tz)
    data: dict[str, Any] = {
        "appointments": appointments_today(db, department, w),
        "revenue": revenue(db, department, w),
        "flow": flow.standard_flow(db, department, now=now, tz=tz),
    }
    if department is None:
        boarding = flow.boarding_times(db, None)
        by_department = critical_by_department(db, None, now=now, tz=tz, boarding=boarding)
        data["departments"] = [
            {"department": code, **present(counts), "flow": flow.boarding(boarding.get(code, []), now)}
            for code, counts in sorted(by_department.items())
        ]
    return data

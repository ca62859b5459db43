"""The critical tier (contract §3): counts that change minute to minute.

Every query is filtered on the department first and reads only documents that are current:
patients not discharged, today's admissions and discharges, open alerts, rooms and staff.
The cost does not grow with the number of discharged patients.

The counts are MongoDB aggregations, so they cannot skip and count a document one by one;
their filters leave out exactly the values `dashboard.sources.documents` finds invalid (closed
sets by `$in`, booleans by equality with `true`, dates by range, beds by type and bounds, a
department that is not a code by dropping its group), and count nothing themselves: the
watcher counts every invalid value when the document changes and at every rebuild.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pymongo.database import Database

from dashboard.metrics import flow
from dashboard.metrics.filters import scope_filter
from dashboard.metrics.timewindows import Windows
from dashboard.sources.contract import SEVERITIES, is_department_code
from dashboard.sources.date_range import LATEST_LOCALIZABLE
from dashboard.sources.documents import MAX_BEDS, PATIENT_STATUSES, ROOM_STATUSES
from dashboard.sources.mongo_compat import is_true, not_a_string

ACTIVE_WINDOW = timedelta(minutes=15)

Counts = dict[str, dict[str, float]]


def _when(condition: Any) -> dict[str, Any]:
    # The array form of $cond: the embedded MongoDB rejects the object form.
    return {"$sum": {"$cond": [condition, 1, 0]}}


def _grouped(db: Database, collection: str, pipeline: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Rows of a pipeline grouped by `$department`, by code; a group that is no code is left out.

    Among them the group of an array: `{"department": code}` matches an array holding the code,
    and MongoDB's `{"$type": "string"}` one holding any string.
    """
    rows = db[collection].aggregate(pipeline)
    return {row.pop("_id"): row for row in rows if is_department_code(row["_id"])}


def _count(name: str) -> list[dict[str, Any]]:
    """Conditions under which the field is a valid count (documents.count): int or long in [0, MAX_BEDS]."""
    return [
        {"$in": [{"$type": f"${name}"}, ["int", "long"]]},
        {"$gte": [f"${name}", 0]},
        {"$lte": [f"${name}", MAX_BEDS]},
    ]


def _valid_room() -> dict[str, Any]:
    return {"$and": [*_count("beds"), *_count("occupied_beds"), {"$ne": ["$status", "maintenance"]}]}


def beds_occupied(db: Database, department: str | None) -> int:
    """`rooms.beds_occupied` of the scope (valid rooms not in maintenance), from MongoDB."""
    rows = _grouped(
        db,
        "rooms",
        [
            {"$match": scope_filter(department, status={"$in": list(ROOM_STATUSES)})},
            {
                "$group": {
                    "_id": "$department",
                    "n": {"$sum": {"$cond": [_valid_room(), "$occupied_beds", 0]}},
                }
            },
        ],
    )
    return int(sum(row["n"] for row in rows.values()))


def critical_by_department(
    db: Database,
    department: str | None,
    *,
    now: datetime,
    tz: ZoneInfo,
    boarding: dict[str, list[float]] | None = None,
) -> dict[str, Counts]:
    """Raw critical counts per department (one department, or all when None).

    `boarding` is what `flow.boarding_times` answers for the scope, when the caller has it
    already; it is read here otherwise.
    """
    w = Windows.at(now, tz)
    if boarding is None:
        boarding = flow.boarding_times(db, department)
    patients = _grouped(
        db,
        "patients",
        [
            {"$match": scope_filter(department, status={"$in": ["admitted", "outpatient"]})},
            {
                "$group": {
                    "_id": "$department",
                    "admitted": _when({"$eq": ["$status", "admitted"]}),
                    "outpatient": _when({"$eq": ["$status", "outpatient"]}),
                    "emergency": _when(is_true("$is_emergency")),
                }
            },
        ],
    )
    new_today = _grouped(
        db,
        "patients",
        [
            {
                "$match": scope_filter(
                    department,
                    admitted_at={"$gte": w.day_start, "$lt": w.day_end},
                    status={"$in": list(PATIENT_STATUSES)},
                )
            },
            {"$group": {"_id": "$department", "n": _when(not_a_string("$admitted_at"))}},
        ],
    )
    discharged_today = _grouped(
        db,
        "patients",
        [
            {
                "$match": scope_filter(
                    department, status="discharged", discharged_at={"$gte": w.day_start, "$lt": w.day_end}
                )
            },
            {"$group": {"_id": "$department", "n": _when(not_a_string("$discharged_at"))}},
        ],
    )
    rooms = _grouped(
        db,
        "rooms",
        [
            {"$match": scope_filter(department, status={"$in": list(ROOM_STATUSES)})},
            {
                "$group": {
                    "_id": "$department",
                    **{status: _when({"$eq": ["$status", status]}) for status in ROOM_STATUSES},
                    "beds_total": {"$sum": {"$cond": [_valid_room(), "$beds", 0]}},
                    "beds_occupied": {"$sum": {"$cond": [_valid_room(), "$occupied_beds", 0]}},
                }
            },
        ],
    )
    alerts = _grouped(
        db,
        "alerts",
        [
            {
                "$match": scope_filter(
                    department,
                    acknowledged_at={"$eq": None},
                    severity={"$in": list(SEVERITIES)},
                )
            },
            {
                "$group": {
                    "_id": "$department",
                    "open": {"$sum": 1},
                    "critical_open": _when({"$eq": ["$severity", "critical"]}),
                }
            },
        ],
    )
    staff = _grouped(
        db,
        "staff",
        [
            {"$match": scope_filter(department)},
            {"$group": {"_id": "$department", "on_duty": _when(is_true("$on_duty"))}},
        ],
    )
    # A $match, not an expression: the embedded MongoDB compares dates inside $expr as strings.
    # Bounded above as documents.date is: a date in year 9999 is no activity.
    active = _grouped(
        db,
        "staff",
        [
            {
                "$match": scope_filter(
                    department, last_active_at={"$gte": now - ACTIVE_WINDOW, "$lte": LATEST_LOCALIZABLE}
                )
            },
            {"$group": {"_id": "$department", "n": _when(not_a_string("$last_active_at"))}},
        ],
    )
    result: dict[str, Counts] = defaultdict(dict)
    codes = (
        set(patients)
        | set(new_today)
        | set(discharged_today)
        | set(rooms)
        | set(alerts)
        | set(staff)
        | set(active)
        | set(boarding)
    )
    for code in codes:
        p = patients.get(code, {})
        r = rooms.get(code, {})
        a = alerts.get(code, {})
        s = staff.get(code, {})
        result[code] = {
            "patients": {
                "admitted": p.get("admitted", 0),
                "outpatient": p.get("outpatient", 0),
                "emergency": p.get("emergency", 0),
                "new_today": new_today.get(code, {}).get("n", 0),
                "discharged_today": discharged_today.get(code, {}).get("n", 0),
                "boarding": len(boarding.get(code, [])),
            },
            "rooms": {key: r.get(key, 0) for key in (*ROOM_STATUSES, "beds_total", "beds_occupied")},
            "alerts": {"open": a.get("open", 0), "critical_open": a.get("critical_open", 0)},
            "staff": {"on_duty": s.get("on_duty", 0), "active_15m": active.get(code, {}).get("n", 0)},
        }
    return dict(result)


def _zero() -> Counts:
    return {
        "patients": dict.fromkeys(
            ("admitted", "outpatient", "emergency", "new_today", "discharged_today", "boarding"), 0
        ),
        "rooms": dict.fromkeys((*ROOM_STATUSES, "beds_total", "beds_occupied"), 0),
        "alerts": {"open": 0, "critical_open": 0},
        "staff": {"on_duty": 0, "active_15m": 0},
    }


def combine(parts: list[Counts]) -> Counts:
    total = _zero()
    for part in parts:
        for group, values in part.items():
            for key, value in values.items():
                total[group][key] += value
    return total


def present(counts: Counts) -> dict[str, Any]:
    """Raw counts as the contract's critical tier object (without computed_at)."""
    p, r = counts["patients"], counts["rooms"]
    beds_total, beds_occupied = int(r["beds_total"]), int(r["beds_occupied"])
    return {
        "patients": {
            "total": int(p["admitted"] + p["outpatient"]),
            "active": int(p["admitted"]),
            "new_today": int(p["new_today"]),
            "emergency": int(p["emergency"]),
            "discharged_today": int(p["discharged_today"]),
        },
        "rooms": {
            **{status: int(r[status]) for status in ROOM_STATUSES},
            "beds_total": beds_total,
            "beds_occupied": beds_occupied,
            "occupancy_rate": min(1.0, max(0.0, beds_occupied / beds_total)) if beds_total else 0.0,
        },
        "alerts": {key: int(value) for key, value in counts["alerts"].items()},
        "staff": {key: int(value) for key, value in counts["staff"].items()},
    }


def _tier(parts: list[Counts], since: list[float], now: datetime) -> dict[str, Any]:
    """The critical tier (without computed_at) of raw counts and `boarding_since` times."""
    return {**present(combine(parts)), "flow": flow.boarding(since, now)}


def compute_critical(db: Database, department: str | None, *, now: datetime, tz: ZoneInfo) -> dict[str, Any]:
    """The critical tier of the scope recomputed from MongoDB, with `flow` (boarding, contract §8)."""
    boarding = flow.boarding_times(db, department)
    by_department = critical_by_department(db, department, now=now, tz=tz, boarding=boarding)
    return _tier(list(by_department.values()), [at for times in boarding.values() for at in times], now)


def compute_critical_scopes(
    db: Database, departments: Iterable[str], *, now: datetime, tz: ZoneInfo
) -> dict[str | None, dict[str, Any]]:
    """The critical tier of the hospital (key None) and of each of `departments`, from one
    hospital-wide read: each equal to what `compute_critical` gives for that scope at `now`.

    A department's documents are the hospital-wide read's group of that department, which is
    what the department's own query matches and keeps (a document whose department is not a
    code is in no group either way); a department without documents has zero counts. Raises
    what pymongo raises.
    """
    boarding = flow.boarding_times(db, None)
    by_department = critical_by_department(db, None, now=now, tz=tz, boarding=boarding)
    tiers: dict[str | None, dict[str, Any]] = {
        None: _tier(list(by_department.values()), [at for times in boarding.values() for at in times], now)
    }
    for code in departments:
        tiers[code] = _tier([by_department.get(code, _zero())], boarding.get(code, []), now)
    return tiers

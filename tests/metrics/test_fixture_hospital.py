"""A fixture hospital whose every metric was computed by hand.

The hospital's time zone is Europe/Berlin and "now" is Sunday 2026-10-25 12:00 local
(11:00 UTC): the day DST ends, so today runs 25 hours, from 2026-10-24 22:00 UTC to
2026-10-25 23:00 UTC. This week began Monday 2026-10-19 00:00 local (2026-10-18 22:00 UTC);
this month 2026-10-01 00:00 local (2026-09-30 22:00 UTC).
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from dashboard.metrics import flow, maintained
from dashboard.metrics.critical import combine, compute_critical, present
from dashboard.metrics.historical import compute_historical
from dashboard.metrics.standard import compute_standard

TZ = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 10, 25, 11, 0, tzinfo=UTC)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def patient(
    department: str,
    status: str,
    admitted_at: datetime,
    *,
    emergency: object = False,
    discharged_at: datetime | None = None,
) -> dict:
    return {
        "department": department,
        "status": status,
        "is_emergency": emergency,
        "admitted_at": admitted_at,
        "discharged_at": discharged_at,
    }


def maintained_critical(db, department: str | None, *, now: datetime, tz: ZoneInfo) -> dict:
    """The critical tier as the watcher maintains it: contributions summed in Redis."""
    maintained.rebuild(db, tz)
    codes = None if department is None else [department]
    since = [at for times in maintained.boarding_since(codes).values() for at in times]
    return {
        **present(combine(list(maintained.counts_by_department(now, tz, codes).values()))),
        "flow": flow.boarding(since, now),
    }


@pytest.fixture(params=["recomputed", "maintained"])
def critical(request, redis_client):
    """Each critical hand count is checked twice: recomputed from MongoDB, and maintained."""
    return compute_critical if request.param == "recomputed" else maintained_critical


@pytest.fixture
def hospital(mongo_db):
    mongo_db.patients.insert_many(
        [
            # 1: admitted emergency, admitted today at 00:30 local.
            patient("ER", "admitted", utc(2026, 10, 24, 22, 30), emergency=True),
            # 2: outpatient admitted yesterday 23:30 local: not new today.
            patient("ER", "outpatient", utc(2026, 10, 24, 21, 30)),
            # 3: discharged today (03:30 local, before the clocks went back); was an emergency.
            patient(
                "ER",
                "discharged",
                utc(2026, 10, 20, 10, 0),
                emergency=True,
                discharged_at=utc(2026, 10, 25, 1, 30),
            ),
            # 4: discharged yesterday 23:59 local; admitted in the previous week.
            patient("ER", "discharged", utc(2026, 10, 15, 10, 0), discharged_at=utc(2026, 10, 24, 21, 59)),
            # 5: malformed status: counted nowhere.
            patient("ER", "Admitted", utc(2026, 10, 25, 9, 0), emergency=True),
            # 6: admitted, is_emergency of the wrong type: active but not an emergency.
            patient("ER", "admitted", utc(2026, 10, 24, 5, 0), emergency="yes"),
            # 7: moved from ER to ICU: counts in ICU only.
            patient("ICU", "admitted", utc(2026, 10, 22, 10, 0)),
        ]
    )
    mongo_db.rooms.insert_many(
        [
            {"department": "ER", "status": "occupied", "beds": 2, "occupied_beds": 2},
            {"department": "ER", "status": "available", "beds": 1, "occupied_beds": 0},
            {"department": "ER", "status": "cleaning", "beds": 2, "occupied_beds": 0},
            {"department": "ER", "status": "maintenance", "beds": 4, "occupied_beds": 0},
            {"department": "ER", "status": "available", "beds": "two", "occupied_beds": 0},
            {"department": "ICU", "status": "maintenance", "beds": 3, "occupied_beds": 0},
        ]
    )

    def alert(severity: str, acknowledged: bool) -> dict:
        return {
            "department": "ER",
            "severity": severity,
            "kind": "k",
            "message": "m",
            "created_at": utc(2026, 10, 25, 9, 0),
            "acknowledged_at": utc(2026, 10, 25, 9, 5) if acknowledged else None,
            "acknowledged_by": "ada" if acknowledged else None,
        }

    mongo_db.alerts.insert_many(
        [alert("critical", False), alert("info", False), alert("warning", True), alert("urgent", False)]
    )
    mongo_db.staff.insert_many(
        [
            {
                "department": "ER",
                "role": "nurse",
                "on_duty": True,
                "last_active_at": utc(2026, 10, 25, 10, 55),
            },
            {
                "department": "ER",
                "role": "nurse",
                "on_duty": True,
                "last_active_at": utc(2026, 10, 25, 10, 40),
            },
            {
                "department": "ER",
                "role": "physician",
                "on_duty": False,
                "last_active_at": utc(2026, 10, 25, 10, 50),
            },
            {
                "department": "ER",
                "role": "porter",
                "on_duty": "true",
                "last_active_at": utc(2026, 10, 25, 10, 0),
            },
        ]
    )

    def appointment(status: str, scheduled_at: datetime) -> dict:
        return {"department": "ER", "status": status, "scheduled_at": scheduled_at}

    mongo_db.appointments.insert_many(
        [
            appointment("completed", utc(2026, 10, 25, 8, 0)),
            appointment("cancelled", utc(2026, 10, 25, 9, 0)),
            appointment("no_show", utc(2026, 10, 25, 7, 0)),
            appointment("scheduled", utc(2026, 10, 25, 15, 0)),
            # 23:30 local today: inside the 25-hour day.
            appointment("scheduled", utc(2026, 10, 25, 22, 30)),
            # Midnight local: tomorrow.
            appointment("scheduled", utc(2026, 10, 25, 23, 0)),
            # Yesterday 23:00 local.
            appointment("completed", utc(2026, 10, 24, 21, 0)),
        ]
    )

    def bill(amount: object, status: str, paid_at: datetime | None) -> dict:
        return {"department": "ER", "amount": amount, "status": status, "paid_at": paid_at}

    mongo_db.billing.insert_many(
        [
            bill(100.0, "paid", utc(2026, 10, 25, 10, 0)),  # today
            bill(50.25, "paid", utc(2026, 10, 24, 21, 30)),  # Saturday 23:30 local: this week
            bill(80.0, "paid", utc(2026, 10, 24, 8, 0)),  # Saturday morning: this week
            bill(20.0, "paid", utc(2026, 10, 18, 21, 30)),  # Sunday 23:30 local: last week, this month
            bill(7.0, "paid", utc(2026, 9, 30, 21, 59)),  # 30 September 23:59 local: last month
            bill(500.0, "refunded", utc(2026, 10, 25, 9, 0)),  # refunded: no revenue
            bill(40.0, "pending", None),
            bill("12", "paid", utc(2026, 10, 25, 9, 0)),  # malformed amount
        ]
    )
    return mongo_db


def test_er_critical_tier_matches_the_hand_count(hospital, critical) -> None:
    assert critical(hospital, "ER", now=NOW, tz=TZ) == {
        "patients": {"total": 3, "active": 2, "new_today": 1, "emergency": 1, "discharged_today": 1},
        "rooms": {
            "available": 2,
            "occupied": 1,
            "cleaning": 1,
            "maintenance": 1,
            "beds_total": 5,
            "beds_occupied": 2,
            "occupancy_rate": 0.4,
        },
        "alerts": {"open": 2, "critical_open": 1},
        "staff": {"on_duty": 2, "active_15m": 2},
        "flow": {"boarding": 0, "boarding_longest_min": 0, "boarding_median_min": 0},
    }


def test_a_moved_patient_counts_in_its_new_department_only(hospital, critical) -> None:
    icu = critical(hospital, "ICU", now=NOW, tz=TZ)
    assert icu["patients"] == {"total": 1, "active": 1, "new_today": 0, "emergency": 0, "discharged_today": 0}


def test_rooms_in_maintenance_do_not_count_toward_occupancy(hospital, critical) -> None:
    icu = critical(hospital, "ICU", now=NOW, tz=TZ)
    assert icu["rooms"] == {
        "available": 0,
        "occupied": 0,
        "cleaning": 0,
        "maintenance": 1,
        "beds_total": 0,
        "beds_occupied": 0,
        "occupancy_rate": 0.0,
    }


# The contract's nulls: no discharge today, none in the last 7 days, no cleaning recorded.
NO_FLOW_TODAY = {
    "los_avg_h_7d": None,
    "discharges_today": 0,
    "discharges_before_noon": 0,
    "discharges_before_noon_share": None,
    "bed_turnaround_median_min": None,
    "lwbs_today": 0,
    "lwbs_share": None,
}
# ER: patient 3 (111.5 h, discharged today 02:30 local) and patient 4 (227 h 59 min, discharged
# yesterday) left in the last 7 days: (111.5 + 227.983) / 2 = 169.74 h.
ER_FLOW = {
    "los_avg_h_7d": 169.74,
    "discharges_today": 1,
    "discharges_before_noon": 1,
    "discharges_before_noon_share": 1.0,
    "bed_turnaround_median_min": None,
    "lwbs_today": 0,
    "lwbs_share": 0.0,
}


def test_an_empty_department_is_all_zeros(hospital, critical) -> None:
    rad = critical(hospital, "RAD", now=NOW, tz=TZ)
    assert rad["patients"] == {"total": 0, "active": 0, "new_today": 0, "emergency": 0, "discharged_today": 0}
    assert rad["rooms"]["occupancy_rate"] == 0.0
    assert rad["alerts"] == {"open": 0, "critical_open": 0}
    assert rad["staff"] == {"on_duty": 0, "active_15m": 0}
    assert rad["flow"] == {"boarding": 0, "boarding_longest_min": 0, "boarding_median_min": 0}
    assert compute_standard(hospital, "RAD", now=NOW, tz=TZ) == {
        "appointments": {"today": 0, "completed": 0, "cancelled": 0, "no_show": 0, "completion_rate": 0.0},
        "revenue": {"today": 0.0, "week": 0.0, "month": 0.0},
        "flow": NO_FLOW_TODAY,
    }


def test_hospital_critical_tier_sums_the_departments(hospital, critical) -> None:
    assert critical(hospital, None, now=NOW, tz=TZ) == {
        "patients": {"total": 4, "active": 3, "new_today": 1, "emergency": 1, "discharged_today": 1},
        "rooms": {
            "available": 2,
            "occupied": 1,
            "cleaning": 1,
            "maintenance": 2,
            "beds_total": 5,
            "beds_occupied": 2,
            "occupancy_rate": 0.4,
        },
        "alerts": {"open": 2, "critical_open": 1},
        "staff": {"on_duty": 2, "active_15m": 2},
        "flow": {"boarding": 0, "boarding_longest_min": 0, "boarding_median_min": 0},
    }


def test_er_standard_tier_counts_the_25_hour_day_and_leaves_refunds_out(hospital, redis_client) -> None:
    assert compute_standard(hospital, "ER", now=NOW, tz=TZ) == {
        "appointments": {"today": 5, "completed": 1, "cancelled": 1, "no_show": 1, "completion_rate": 0.25},
        "revenue": {"today": 100.0, "week": 230.25, "month": 250.25},
        "flow": ER_FLOW,
    }


def test_hospital_standard_tier_lists_each_department(hospital, redis_client) -> None:
    standard = compute_standard(hospital, None, now=NOW, tz=TZ)
    assert [row["department"] for row in standard["departments"]] == ["ER", "ICU"]
    er_row = standard["departments"][0]
    assert {key: value for key, value in er_row.items() if key != "department"} == compute_critical(
        hospital, "ER", now=NOW, tz=TZ
    )


def test_er_historical_tier(hospital) -> None:
    historical = compute_historical(hospital, "ER", now=NOW, tz=TZ)
    hourly = historical["admissions_hourly"]
    assert len(hourly) == 24
    assert (hourly[0]["hour"], hourly[-1]["hour"]) == ("2026-10-24T12:00:00Z", "2026-10-25T11:00:00Z")
    assert {row["hour"]: row["count"] for row in hourly if row["count"]} == {
        "2026-10-24T21:00:00Z": 1,
        "2026-10-24T22:00:00Z": 1,
    }
    daily = {row["date"]: row for row in historical["daily"]}
    assert len(historical["daily"]) == 30
    assert (historical["daily"][0]["date"], historical["daily"][-1]["date"]) == ("2026-09-26", "2026-10-25")
    assert daily["2026-10-25"] == {"date": "2026-10-25", "admissions": 1, "discharges": 1, "revenue": 100.0}
    assert daily["2026-10-24"] == {"date": "2026-10-24", "admissions": 2, "discharges": 1, "revenue": 130.25}
    assert daily["2026-10-20"] == {"date": "2026-10-20", "admissions": 1, "discharges": 0, "revenue": 0.0}
    assert daily["2026-10-18"]["revenue"] == 20.0
    assert daily["2026-09-30"]["revenue"] == 7.0
    assert sum(row["admissions"] for row in historical["daily"]) == 5
    assert historical["comparisons"] == {
        # Today so far: 1 admission; yesterday until 13:00 local: 1 (patient 6).
        # This week: 4 (patients 1, 2, 3, 6); last week's same span: 1 (patient 4). No admission last month.
        "admissions": {"day": 1.0, "week": 4.0, "month": None},
        # No discharge yesterday before 13:00 local, none last week or last month.
        "discharges": {"day": None, "week": None, "month": None},
        # 100 today against 80 yesterday morning. Last week's same span ended Sunday 13:00
        # local, before the 20.00 paid that night; last month's ended on 25 September.
        "revenue": {"day": 1.25, "week": None, "month": None},
    }

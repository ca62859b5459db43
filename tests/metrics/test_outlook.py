"""The occupancy outlook, computed by hand on the spring DST day (Europe/Berlin).

"Now" is Sunday 2026-03-29 14:30 UTC, 16:30 local summer time. One and two weeks earlier
(22 and 15 March) were winter time, so the same local hours are one UTC hour later there.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from dashboard.metrics.outlook import Flows, project, read_flows, weeks_back
from dashboard.sources import skipped

TZ = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 3, 29, 14, 30, tzinfo=UTC)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def test_weeks_back_keeps_the_local_hour_across_dst() -> None:
    assert weeks_back(utc(2026, 3, 29, 14), 1, TZ) == utc(2026, 3, 22, 15)  # 16:00 local both
    assert weeks_back(utc(2026, 4, 5, 14), 1, TZ) == utc(2026, 3, 29, 14)


def test_projection_by_hand() -> None:
    flows = Flows.of(
        admissions=[
            *[utc(2026, 3, 22, 15, 10)] * 3,  # week 1, 16:10 local
            *[utc(2026, 3, 15, 15, 5)] * 2,  # week 2, 16:05 local
            *[utc(2026, 3, 15, 17, 30)] * 2,  # week 2, 18:30 local
            utc(2026, 3, 29, 15, 10),  # today, 17:10 UTC-side: not history of any row
        ],
        discharges=[
            utc(2026, 3, 22, 16, 20),  # week 1, 17:20 local
            utc(2026, 3, 15, 16, 40),  # week 2, 17:40 local
        ],
    )
    # Cumulative flows of weeks 1-4 per row (the current hour counts half: 14:30 to 15:00):
    # 15:00Z [1.5, 1, 0, 0]; 16:00Z [0.5, 0, 0, 0]; 17:00Z [0.5, 2, 0, 0]; 18:00Z the same.
    assert project(10, NOW, TZ, flows) == [
        {"hour": "2026-03-29T15:00:00Z", "expected_occupied_beds": 10.6, "low": 10.0, "high": 11.5},
        {"hour": "2026-03-29T16:00:00Z", "expected_occupied_beds": 10.1, "low": 10.0, "high": 10.5},
        {"hour": "2026-03-29T17:00:00Z", "expected_occupied_beds": 10.6, "low": 10.0, "high": 12.0},
        {"hour": "2026-03-29T18:00:00Z", "expected_occupied_beds": 10.6, "low": 10.0, "high": 12.0},
    ]


def test_no_history_projects_the_present_and_never_below_zero() -> None:
    empty = Flows.of([], [])
    assert [row["expected_occupied_beds"] for row in project(7, NOW, TZ, empty)] == [7.0] * 4
    outflow = Flows.of([], [utc(2026, 3, 22, 15, 10)] * 8)
    assert project(1, NOW, TZ, outflow)[0]["low"] == 0.0


def test_read_flows_counts_inpatients_only_and_skips_invalid_dates(mongo_db, redis_client) -> None:
    base = {"department": "ER", "is_emergency": False}
    mongo_db.patients.insert_many(
        [
            {**base, "status": "admitted", "admitted_at": utc(2026, 3, 22, 15, 10), "discharged_at": None},
            {
                **base,
                "status": "discharged",
                "admitted_at": utc(2026, 3, 22, 15, 20),
                "discharged_at": utc(2026, 3, 22, 16, 0),
            },
            {
                **base,
                "status": "outpatient",
                "admitted_at": utc(2026, 3, 22, 15, 30),
                "discharged_at": None,
            },
            {**base, "status": "admitted", "admitted_at": utc(2026, 3, 22, 15, 40), "department": "er"},
        ]
    )
    flows = read_flows(mongo_db, None, utc(2026, 3, 22), utc(2026, 3, 23), "historical")
    assert dict(flows.admissions) == {utc(2026, 3, 22, 15): 2}
    assert dict(flows.discharges) == {utc(2026, 3, 22, 16): 1}
    assert (
        read_flows(mongo_db, "ER", utc(2026, 3, 22), utc(2026, 3, 23), "historical").net(utc(2026, 3, 22, 15))
        == 2
    )
    # "er" is no department code: left out of the hospital's flows, counted once.
    assert skipped.counts() == {("patients", "department"): 1}

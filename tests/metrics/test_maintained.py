"""The maintained critical counters: contributions of single documents, and the Redis sums."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from bson import Int64, ObjectId

from dashboard.metrics import contributions, maintained
from dashboard.metrics.contributions import Contribution
from dashboard.sources.documents import check
from dashboard.watcher.streams import pipeline

TZ = ZoneInfo("America/New_York")
NOW = datetime(2026, 3, 8, 17, 0, tzinfo=UTC)  # the day DST starts in New York: 23 hours long


def contribution(collection: str, doc: dict, tz: ZoneInfo) -> Contribution | None:
    """The contribution of a raw document, checked as the watcher checks it."""
    return contributions.contribution(collection, check(collection, doc), tz)


def patient(**fields: object) -> dict:
    return {"department": "ER", "status": "admitted", "is_emergency": False, **fields}


def test_a_patient_counts_by_status_and_local_day() -> None:
    # 00:30 local on 8 March is 05:30 UTC; 23:30 local on 7 March is 04:30 UTC.
    admitted = contribution(
        "patients", patient(is_emergency=True, admitted_at=datetime(2026, 3, 8, 5, 30, tzinfo=UTC)), TZ
    )
    assert admitted == Contribution("ER", {"admitted": 1, "emergency": 1, "new:2026-03-08": 1})
    discharged = contribution(
        "patients",
        patient(
            status="discharged",
            is_emergency=True,
            admitted_at=datetime(2026, 3, 8, 4, 30, tzinfo=UTC),
            discharged_at=datetime(2026, 3, 9, 3, 59, tzinfo=UTC),  # 23:59 local, 8 March
        ),
        TZ,
    )
    assert discharged == Contribution("ER", {"new:2026-03-07": 1, "discharged:2026-03-08": 1})


def test_malformed_fields_count_nowhere() -> None:
    assert contribution("patients", patient(status="Admitted", is_emergency=True), TZ) == Contribution(
        "ER", {}
    )
    assert contribution("patients", patient(is_emergency=1), TZ) == Contribution("ER", {"admitted": 1})
    assert contribution("patients", patient(department="er"), TZ) is None
    assert contribution(
        "rooms", {"department": "ER", "status": "available", "beds": True, "occupied_beds": 0}, TZ
    ) == (Contribution("ER", {"room:available": 1}, status="available"))


def test_rooms_in_maintenance_add_no_beds_and_long_counts_are_counts() -> None:
    room = {"department": "ICU", "status": "maintenance", "beds": 3, "occupied_beds": 0}
    assert contribution("rooms", room, TZ) == Contribution(
        "ICU", {"room:maintenance": 1}, status="maintenance"
    )
    room.update(status="occupied", beds=Int64(3), occupied_beds=2)
    assert contribution("rooms", room, TZ) == Contribution(
        "ICU", {"room:occupied": 1, "beds_total": 3, "beds_occupied": 2}, status="occupied"
    )


def test_alerts_count_while_open_and_staff_carry_their_last_activity() -> None:
    alert = {"department": "ER", "severity": "critical", "acknowledged_at": None}
    assert contribution("alerts", alert, TZ) == Contribution("ER", {"alerts_open": 1, "alerts_critical": 1})
    assert contribution("alerts", {**alert, "acknowledged_at": NOW}, TZ) == Contribution("ER", {})
    assert contribution("alerts", {**alert, "severity": "urgent"}, TZ) == Contribution("ER", {})
    member = {"department": "ER", "on_duty": "true", "last_active_at": NOW}
    assert contribution("staff", member, TZ) == Contribution("ER", {}, NOW.timestamp())


def test_a_move_a_replay_and_a_delete_keep_the_sums_right(redis_client) -> None:
    doc = ObjectId()
    er = Contribution("ER", {"admitted": 1, "emergency": 1})
    assert maintained.apply("patients", doc, er) == {"ER"}
    assert maintained.apply("patients", doc, er) == {"ER"}  # replayed after a crash: no double count
    counts = maintained.counts_by_department(NOW, TZ)
    assert counts["ER"]["patients"]["admitted"] == 1
    assert maintained.apply("patients", doc, Contribution("ICU", {"admitted": 1})) == {"ER", "ICU"}
    counts = maintained.counts_by_department(NOW, TZ)
    assert (counts["ER"]["patients"]["admitted"], counts["ER"]["patients"]["emergency"]) == (0, 0)
    assert counts["ICU"]["patients"]["admitted"] == 1
    assert maintained.apply("patients", doc, None) == {"ICU"}
    assert maintained.counts_by_department(NOW, TZ)["ICU"]["patients"]["admitted"] == 0
    assert maintained.apply("patients", doc, None) == set()


def test_staff_are_active_for_15_minutes_after_their_last_activity(redis_client) -> None:
    member = ObjectId()
    maintained.apply(
        "staff", member, Contribution("ER", {"on_duty": 1}, (NOW - timedelta(minutes=15)).timestamp())
    )
    assert maintained.counts_by_department(NOW, TZ)["ER"]["staff"] == {"active_15m": 1, "on_duty": 1}
    later = NOW + timedelta(seconds=1)
    assert maintained.counts_by_department(later, TZ)["ER"]["staff"]["active_15m"] == 0
    maintained.apply("staff", member, Contribution("CARD", {}, NOW.timestamp()))
    counts = maintained.counts_by_department(later, TZ)
    assert counts["ER"]["staff"] == {"active_15m": 0, "on_duty": 0}
    assert counts["CARD"]["staff"] == {"active_15m": 1, "on_duty": 0}


def test_the_day_counts_follow_the_local_date_without_an_event_at_midnight(redis_client) -> None:
    maintained.apply("patients", ObjectId(), Contribution("ER", {"new:2026-03-08": 1}))
    before_midnight = datetime(2026, 3, 9, 3, 59, tzinfo=UTC)
    assert maintained.counts_by_department(before_midnight, TZ)["ER"]["patients"]["new_today"] == 1
    assert (
        maintained.counts_by_department(before_midnight + timedelta(minutes=1), TZ)["ER"]["patients"][
            "new_today"
        ]
        == 0
    )


def test_a_rebuild_replaces_whatever_was_there(mongo_db, redis_client) -> None:
    maintained.apply("patients", ObjectId(), Contribution("GONE", {"admitted": 5}))
    maintained.mark_live(60)
    mongo_db.patients.insert_many([patient(), patient(department="ICU"), {"status": "admitted"}])
    assert maintained.rebuild(mongo_db, TZ, ["patients"]) == 2
    assert not maintained.is_live()
    assert maintained.departments() == ["ER", "ICU"]
    counts = maintained.counts_by_department(NOW, TZ, ["ER", "ICU", "GONE"])
    assert [counts[code]["patients"]["admitted"] for code in ("ER", "ICU", "GONE")] == [1, 1, 0]


SAMPLES = {
    "patients": {
        "department": "ER",
        "status": "admitted",
        "is_emergency": True,
        "admitted_at": NOW,
        "name": "A",
    },
    "rooms": {"department": "ER", "status": "occupied", "beds": 2, "occupied_beds": 1, "number": "101"},
    "alerts": {"department": "ER", "severity": "critical", "acknowledged_at": None, "message": "m"},
    "staff": {"department": "ER", "on_duty": True, "last_active_at": NOW, "role": "nurse"},
    "appointments": {"department": "ER", "status": "scheduled", "scheduled_at": NOW},
    "billing": {"department": "ER", "amount": 10.0, "status": "paid", "paid_at": NOW},
}


@pytest.mark.parametrize("collection", sorted(SAMPLES))
def test_the_change_stream_keeps_every_field_a_contribution_reads(collection: str) -> None:
    # nx-27017 ignores a change stream's $project (docs/MONGODB_COMPATIBILITY.md, 5); MongoDB
    # applies it, so what it leaves of a document must give the same contribution.
    stages = pipeline(collection)
    doc = SAMPLES[collection]
    if stages:
        kept = stages[0]["$project"]
        doc = {name: value for name, value in doc.items() if f"fullDocument.{name}" in kept}
        assert not {"name", "number"} & set(doc)
    assert contribution(collection, doc, TZ) == contribution(collection, SAMPLES[collection], TZ)

"""Patient flow (contract §8) on a fixture hospital whose every value was computed by hand.

The time zone is Europe/Berlin and "now" is Sunday 2026-03-29 16:00 local (14:00 UTC): the
day DST starts, so today runs 23 hours, from 2026-03-28 23:00 UTC to 2026-03-29 22:00 UTC,
and local noon is 10:00 UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from bson import ObjectId

from dashboard.alerts import thresholds
from dashboard.metrics import flow, maintained, turnaround
from dashboard.metrics.contributions import contribution
from dashboard.metrics.critical import compute_critical
from dashboard.sources import documents, skipped

TZ = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 3, 29, 14, 0, tzinfo=UTC)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def patient(department: str, status: str, admitted_at: object, **fields: object) -> dict:
    return {
        "department": department,
        "status": status,
        "is_emergency": False,
        "admitted_at": admitted_at,
        "discharged_at": None,
        **fields,
    }


@pytest.fixture
def flow_hospital(mongo_db, redis_client):
    admitted = utc(2026, 3, 27, 8, 0)
    mongo_db.patients.insert_many(
        [
            # Boarding since 22:30 local yesterday, across midnight: 16.5 h = 990 min.
            patient("ER", "admitted", admitted, boarding_since=utc(2026, 3, 28, 21, 30)),
            patient("ER", "admitted", admitted, boarding_since=utc(2026, 3, 29, 12, 0)),  # 120 min
            patient("ER", "admitted", admitted, boarding_since=utc(2026, 3, 29, 13, 0)),  # 60 min
            patient("ER", "admitted", admitted, boarding_since=None),  # not boarding
            patient("ER", "admitted", admitted),  # no boarding_since at all: not boarding
            patient("ER", "admitted", admitted, boarding_since="yesterday"),  # invalid: not boarding
            # Discharged: no longer boarding, whatever boarding_since says.
            patient(
                "ER",
                "discharged",
                utc(2026, 3, 29, 1, 0),
                discharged_at=utc(2026, 3, 29, 1, 30),
                boarding_since=utc(2026, 3, 29, 1, 10),
            ),
            patient("ICU", "admitted", admitted, boarding_since=utc(2026, 3, 29, 13, 30)),  # 30 min
            # Discharges. 11:59 local today, before noon; stay 47 h 59 min.
            patient("ER", "discharged", utc(2026, 3, 27, 10, 0), discharged_at=utc(2026, 3, 29, 9, 59)),
            # 12:00 local exactly: not before noon; left without being seen; stay 4 h.
            patient(
                "ER",
                "discharged",
                utc(2026, 3, 29, 6, 0),
                discharged_at=utc(2026, 3, 29, 10, 0),
                disposition="lwbs",
            ),
            # 00:30 local today (still the 28th in UTC): today, before noon, lwbs; stay 3.5 h.
            patient(
                "ER",
                "discharged",
                utc(2026, 3, 28, 20, 0),
                discharged_at=utc(2026, 3, 28, 23, 30),
                disposition="lwbs",
            ),
            # 23:30 local yesterday: not today; in the 7 days; stay 12.5 h.
            patient(
                "ER",
                "discharged",
                utc(2026, 3, 28, 10, 0),
                discharged_at=utc(2026, 3, 28, 22, 30),
                disposition="home",
            ),
            # 7 days and 1 hour ago: outside the length-of-stay window.
            patient("ER", "discharged", utc(2026, 3, 20, 10, 0), discharged_at=utc(2026, 3, 22, 13, 0)),
            # Today, after noon; admitted_at invalid (no stay), disposition invalid (not lwbs).
            patient("ER", "discharged", "monday", discharged_at=utc(2026, 3, 29, 11, 0), disposition=5),
            # Today, after noon, no disposition field; stay 4 h.
            patient("ER", "discharged", utc(2026, 3, 29, 8, 0), discharged_at=utc(2026, 3, 29, 12, 0)),
        ]
    )
    return mongo_db


def maintained_boarding(db, department: str | None) -> dict:
    maintained.rebuild(db, TZ)
    codes = None if department is None else [department]
    return flow.boarding([at for times in maintained.boarding_since(codes).values() for at in times], NOW)


@pytest.fixture(params=["recomputed", "maintained"])
def boarding(request):
    """Each boarding hand count is checked twice: recomputed from MongoDB, and maintained."""
    if request.param == "recomputed":
        return lambda db, department: compute_critical(db, department, now=NOW, tz=TZ)["flow"]
    return maintained_boarding


def test_er_boarding_counts_admitted_patients_with_boarding_since(flow_hospital, boarding) -> None:
    assert boarding(flow_hospital, "ER") == {
        "boarding": 3,
        "boarding_longest_min": 990.0,
        "boarding_median_min": 120.0,
    }


def test_hospital_boarding_is_over_every_department(flow_hospital, boarding) -> None:
    # 30, 60, 120 and 990 minutes: the median of an even count is the mean of the middle two.
    assert boarding(flow_hospital, None) == {
        "boarding": 4,
        "boarding_longest_min": 990.0,
        "boarding_median_min": 90.0,
    }


def test_no_boarding_is_zero_and_zero(flow_hospital, boarding) -> None:
    assert boarding(flow_hospital, "RAD") == {
        "boarding": 0,
        "boarding_longest_min": 0,
        "boarding_median_min": 0,
    }


def test_an_invalid_boarding_since_is_counted_as_skipped(flow_hospital) -> None:
    maintained.rebuild(flow_hospital, TZ)
    assert skipped.counts()[("patients", "boarding_since")] == 1


def test_er_standard_flow_on_the_23_hour_day(flow_hospital) -> None:
    # Today: 03:30 (the discharged boarder), 11:59, 12:00, 00:30, 13:00 and 14:00 local;
    # before noon: 03:30, 11:59 and 00:30. Stays of the last 7 days:
    # 0.5 + 47.983 + 4 + 3.5 + 12.5 + 4 = 72.483 h over 6.
    assert flow.standard_flow(flow_hospital, "ER", now=NOW, tz=TZ) == {
        "los_avg_h_7d": 12.08,
        "discharges_today": 6,
        "discharges_before_noon": 3,
        "discharges_before_noon_share": 0.5,
        "bed_turnaround_median_min": None,
        "lwbs_today": 2,
        "lwbs_share": 0.3333,
    }
    counts = skipped.counts()
    assert counts[("patients", "admitted_at")] == 1
    assert counts[("patients", "disposition")] == 1


def test_standard_flow_nulls_without_discharges(flow_hospital) -> None:
    assert flow.standard_flow(flow_hospital, "ICU", now=NOW, tz=TZ) == {
        "los_avg_h_7d": None,
        "discharges_today": 0,
        "discharges_before_noon": 0,
        "discharges_before_noon_share": None,
        "bed_turnaround_median_min": None,
        "lwbs_today": 0,
        "lwbs_share": None,
    }


# --- bed turnaround: cleanings the watcher sees end --------------------------------------------


def room_change(room_id: ObjectId, department: str, status: str, at: datetime, **fields: object) -> set[str]:
    doc = {
        "_id": room_id,
        "department": department,
        "status": status,
        "beds": 1,
        "occupied_beds": 0,
        **fields,
    }
    known = contribution("rooms", documents.check("rooms", doc), TZ)
    return maintained.apply("rooms", room_id, known, at=at)


def test_bed_turnaround_median_of_the_cleanings_that_ended_today(flow_hospital) -> None:
    twice, stamped, yesterday, icu = ObjectId(), ObjectId(), ObjectId(), ObjectId()
    # Cleaned twice today, without status_changed_at: times of the change events. 45 and 20 min.
    for status, at in [
        ("occupied", utc(2026, 3, 29, 5, 0)),
        ("cleaning", utc(2026, 3, 29, 6, 0)),
        ("available", utc(2026, 3, 29, 6, 45)),
        ("occupied", utc(2026, 3, 29, 8, 0)),
        ("cleaning", utc(2026, 3, 29, 9, 0)),
        ("available", utc(2026, 3, 29, 9, 20)),
        ("available", utc(2026, 3, 29, 9, 25)),  # the same event again, replayed: no new cleaning
    ]:
        room_change(twice, "ER", status, at)
    # status_changed_at wins over the event times: 23:40 to 00:10 local, 30 min, ended today.
    room_change(
        stamped, "ER", "cleaning", utc(2026, 3, 28, 22, 50), status_changed_at=utc(2026, 3, 28, 22, 40)
    )
    room_change(
        stamped, "ER", "available", utc(2026, 3, 28, 23, 30), status_changed_at=utc(2026, 3, 28, 23, 10)
    )
    # Ended 23:00 local yesterday: not today.
    room_change(yesterday, "ER", "cleaning", utc(2026, 3, 28, 20, 0))
    room_change(yesterday, "ER", "available", utc(2026, 3, 28, 21, 0))
    room_change(icu, "ICU", "cleaning", utc(2026, 3, 29, 12, 0))
    room_change(icu, "ICU", "available", utc(2026, 3, 29, 12, 10))
    er = flow.standard_flow(flow_hospital, "ER", now=NOW, tz=TZ)
    assert er["bed_turnaround_median_min"] == 30.0  # 20, 30, 45
    hospital = flow.standard_flow(flow_hospital, None, now=NOW, tz=TZ)
    assert hospital["bed_turnaround_median_min"] == 25.0  # 10, 20, 30, 45


def test_a_cleaning_in_progress_survives_a_rebuild_but_not_a_lost_memory(flow_hospital, redis_client) -> None:
    kept, lost = ObjectId(), ObjectId()
    room_change(kept, "ER", "cleaning", utc(2026, 3, 29, 11, 0))
    room_change(lost, "ER", "cleaning", utc(2026, 3, 29, 11, 0))
    for room_id in (kept, lost):
        flow_hospital.rooms.insert_one(
            {"_id": room_id, "department": "ER", "status": "cleaning", "beds": 1, "occupied_beds": 0}
        )
    maintained.rebuild(flow_hospital, TZ)  # a watcher taking over: the start is remembered
    room_change(kept, "ER", "available", utc(2026, 3, 29, 11, 40))
    redis_client.hdel("dash:maint:doc:rooms", str(lost))  # Redis lost what it knew
    maintained.rebuild(flow_hospital, TZ)
    room_change(lost, "ER", "available", utc(2026, 3, 29, 11, 50))
    assert flow.standard_flow(flow_hospital, "ER", now=NOW, tz=TZ)["bed_turnaround_median_min"] == 40.0


def test_a_cleaning_that_ended_during_an_outage_is_recorded_only_with_status_changed_at(
    flow_hospital,
) -> None:
    stamped, unstamped = ObjectId(), ObjectId()
    room_change(
        stamped, "ICU", "cleaning", utc(2026, 3, 29, 11, 0), status_changed_at=utc(2026, 3, 29, 11, 0)
    )
    room_change(unstamped, "ICU", "cleaning", utc(2026, 3, 29, 11, 0))
    # The watcher is down while both rooms become available; the next one rebuilds.
    room = {"department": "ICU", "status": "available", "beds": 1, "occupied_beds": 0}
    flow_hospital.rooms.insert_many(
        [
            {"_id": stamped, **room, "status_changed_at": utc(2026, 3, 29, 11, 25)},
            {"_id": unstamped, **room},
        ]
    )
    maintained.rebuild(flow_hospital, TZ)
    maintained.rebuild(flow_hospital, TZ)  # a second rebuild records nothing twice
    assert flow.standard_flow(flow_hospital, "ICU", now=NOW, tz=TZ)["bed_turnaround_median_min"] == 25.0
    assert len(turnaround.ended_between(utc(2026, 3, 29), utc(2026, 3, 30), "ICU")) == 1


def test_boarding_follows_change_events_without_a_rebuild(flow_hospital) -> None:
    maintained.rebuild(flow_hospital, TZ)
    patient_id = ObjectId()

    def change(**fields: object) -> None:
        doc = {"_id": patient_id, **patient("ICU", "admitted", utc(2026, 3, 29, 9, 0)), **fields}
        maintained.apply(
            "patients", patient_id, contribution("patients", documents.check("patients", doc), TZ)
        )

    change(boarding_since=utc(2026, 3, 29, 10, 0))  # 240 min at NOW
    assert maintained_boarding_now("ICU") == {
        "boarding": 2,
        "boarding_longest_min": 240.0,
        "boarding_median_min": 135.0,
    }
    change(boarding_since=None)  # got a bed
    assert maintained_boarding_now("ICU")["boarding"] == 1
    change(boarding_since=utc(2026, 3, 29, 12, 0), department="CARD")  # moved, boarding again
    assert maintained_boarding_now("CARD")["boarding_longest_min"] == 120.0
    change(status="discharged", discharged_at=utc(2026, 3, 29, 13, 0), department="CARD")
    assert maintained_boarding_now("CARD")["boarding"] == 0
    assert maintained.counts_by_department(NOW, TZ, ["ICU"])["ICU"]["patients"]["boarding"] == 1


def maintained_boarding_now(department: str) -> dict:
    since = maintained.boarding_since([department])[department]
    return flow.boarding(since, NOW)


def test_a_cleaning_stamped_far_in_the_future_does_not_erase_todays_cleanings(
    flow_hospital, redis_client
) -> None:
    today, hostile = ObjectId(), ObjectId()
    room_change(today, "ER", "cleaning", utc(2026, 3, 29, 9, 0))
    room_change(today, "ER", "available", utc(2026, 3, 29, 9, 20))
    # A broken clock in the main application: the room has been available since the year 9000.
    room_change(hostile, "ER", "cleaning", utc(2026, 3, 29, 10, 0))
    room_change(hostile, "ER", "available", utc(2026, 3, 29, 10, 5), status_changed_at=utc(9000, 1, 1))
    assert flow.standard_flow(flow_hospital, "ER", now=NOW, tz=TZ)["bed_turnaround_median_min"] == 20.0
    assert redis_client.hget("dash:skipped", "rooms.status_changed_at") == "1"
    # A few seconds ahead of the change event is a clock's skew, not a broken value.
    room_change(hostile, "ER", "cleaning", utc(2026, 3, 29, 11, 0))
    room_change(
        hostile, "ER", "available", utc(2026, 3, 29, 11, 9, 30), status_changed_at=utc(2026, 3, 29, 11, 10)
    )
    assert (
        flow.standard_flow(flow_hospital, "ER", now=NOW, tz=TZ)["bed_turnaround_median_min"] == 15.0
    )  # 20, 10


def test_a_boarding_since_before_admission_is_skipped_and_raises_no_threshold_alert(
    flow_hospital, boarding, settings
) -> None:
    settings.THRESHOLD_BOARDING_HOURS = 4
    # Waiting for a bed since the year 1, or since an hour before the patient came in.
    flow_hospital.patients.insert_many(
        [
            patient("NEURO", "admitted", utc(2026, 3, 29, 12, 0), boarding_since=utc(1, 1, 5)),
            patient("NEURO", "admitted", utc(2026, 3, 29, 12, 0), boarding_since=utc(2026, 3, 29, 11, 0)),
        ]
    )
    critical = {"rooms": {"occupancy_rate": 0.5}, "flow": boarding(flow_hospital, "NEURO")}
    assert critical["flow"] == {"boarding": 0, "boarding_longest_min": 0, "boarding_median_min": 0}
    assert thresholds.evaluate("NEURO", critical, now=NOW) == []
    before = skipped.counts().get(("patients", "boarding_since"), 0)
    maintained.rebuild(flow_hospital, TZ)
    assert skipped.counts()[("patients", "boarding_since")] - before == 3  # "yesterday" and these two


def test_a_boarding_since_far_ahead_of_now_is_no_boarding_and_raises_no_threshold_alert(
    flow_hospital, boarding, settings
) -> None:
    settings.THRESHOLD_BOARDING_COUNT = 1
    admitted = utc(2026, 3, 29, 12, 0)
    ahead = [utc(2026, 3, 29, 14, 1), utc(2027, 3, 29), utc(9000, 1, 1)]  # a minute (skew), a year, ages
    flow_hospital.patients.insert_many(
        [patient("NEURO", "admitted", admitted, boarding_since=at) for at in ahead]
    )
    critical = {"rooms": {"occupancy_rate": 0.5}, "flow": boarding(flow_hospital, "NEURO")}
    # A minute ahead is a clock's skew: boarding, for 0 minutes. The others are broken values.
    assert critical["flow"] == {"boarding": 1, "boarding_longest_min": 0, "boarding_median_min": 0}
    assert thresholds.evaluate("NEURO", critical, now=NOW) == []


def test_the_watcher_counts_a_boarding_since_far_ahead_of_its_change(flow_hospital) -> None:
    before = skipped.counts().get(("patients", "boarding_since"), 0)
    for at in (utc(2026, 3, 29, 14, 1), utc(9000, 1, 1)):
        doc = {"_id": ObjectId(), **patient("NEURO", "admitted", utc(2026, 3, 29), boarding_since=at)}
        known = contribution("patients", documents.read("patients", doc, "watcher"), TZ)
        maintained.apply("patients", doc["_id"], known, at=NOW)
    assert skipped.counts()[("patients", "boarding_since")] - before == 1

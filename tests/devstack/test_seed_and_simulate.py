"""The demo hospital: seeded and simulated documents satisfy the contract's shapes (§1)."""

from __future__ import annotations

import random
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from devstack.seed import PATIENTS_TOTAL, ROOMS_TOTAL, seed_hospital
from devstack.simulate import HospitalSimulator, run_simulation

NOW = datetime(2026, 11, 28, 14, 0, tzinfo=UTC)
DEPARTMENT_CODE = r"^[A-Z0-9_]{1,16}$"

SCHEMA: dict[str, dict[str, Any]] = {
    "patients": {
        "status": {"admitted", "outpatient", "discharged"},
        "is_emergency": bool,
        "admitted_at": datetime,
        "discharged_at": (datetime, type(None)),
        "boarding_since": (datetime, type(None)),
        "disposition": {"home", "lwbs", None},
    },
    "rooms": {
        "status": {"available", "occupied", "cleaning", "maintenance"},
        "beds": int,
        "occupied_beds": int,
        "status_changed_at": datetime,
    },
    "appointments": {
        "scheduled_at": datetime,
        "status": {"scheduled", "checked_in", "completed", "cancelled", "no_show"},
    },
    "staff": {"role": str, "on_duty": bool, "last_active_at": datetime},
    "billing": {
        "amount": float,
        "status": {"paid", "pending", "refunded"},
        "paid_at": (datetime, type(None)),
    },
    "alerts": {
        "severity": {"critical", "warning", "info"},
        "kind": str,
        "message": str,
        "created_at": datetime,
        "acknowledged_at": (datetime, type(None)),
        "acknowledged_by": (str, type(None)),
    },
}


def count(collection, query: dict[str, Any]) -> int:
    # Not count_documents: it miscounts some filters on the embedded MongoDB (docs/MONGODB_COMPATIBILITY.md).
    return sum(1 for _ in collection.find(query, {"_id": 1}))


def assert_contract_shapes(db) -> None:
    import re

    for collection, fields in SCHEMA.items():
        for doc in db[collection].find():
            assert re.match(DEPARTMENT_CODE, doc["department"]), doc
            for field, expected in fields.items():
                value = doc[field]
                if isinstance(expected, set):
                    assert value in expected, (collection, field, doc)
                else:
                    assert isinstance(value, expected), (collection, field, doc)


def assert_room_invariants(db) -> None:
    for room in db.rooms.find():
        assert 0 <= room["occupied_beds"] <= room["beds"], room
        if room["status"] == "occupied":
            assert room["occupied_beds"] >= 1, room
        else:
            assert room["occupied_beds"] == 0, room


def assert_patient_invariants(db) -> None:
    for patient in db.patients.find():
        if patient["status"] == "discharged":
            assert patient["discharged_at"] is not None
            assert patient["discharged_at"] >= patient["admitted_at"]
            assert patient["boarding_since"] is None
        else:
            assert patient["discharged_at"] is None
        if patient["boarding_since"] is not None:
            assert (patient["status"], patient["department"]) == ("admitted", "ER"), patient
            assert patient["boarding_since"] >= patient["admitted_at"]


def test_seeding_builds_a_realistic_hospital_in_the_contract_shapes(mongo_db) -> None:
    report = seed_hospital(mongo_db, now=NOW, rng=random.Random(7))
    assert not report.reused
    assert len(mongo_db.rooms.distinct("department")) >= 8
    assert count(mongo_db.rooms, {}) == ROOMS_TOTAL == 300
    assert count(mongo_db.patients, {}) == PATIENTS_TOTAL == 4200
    for collection in ("appointments", "staff", "billing", "alerts"):
        assert count(mongo_db[collection], {}) > 0, collection
    assert count(mongo_db.patients, {"status": "admitted"}) > 0
    assert count(mongo_db.patients, {"boarding_since": {"$ne": None}}) > 0
    assert count(mongo_db.patients, {"disposition": "lwbs"}) > 0
    # Nine weeks of history: the outlook reads 4 weeks back from each of the last 14 days.
    assert count(mongo_db.patients, {"admitted_at": {"$lt": NOW - timedelta(days=59)}}) > 0
    assert count(mongo_db.alerts, {"acknowledged_at": {"$eq": None}}) > 0
    assert_contract_shapes(mongo_db)
    assert_room_invariants(mongo_db)
    assert_patient_invariants(mongo_db)


def test_seeding_twice_reuses_the_data(mongo_db) -> None:
    seed_hospital(mongo_db, now=NOW, rng=random.Random(7))
    again = seed_hospital(mongo_db, now=NOW, rng=random.Random(8))
    assert again.reused
    assert count(mongo_db.patients, {}) == PATIENTS_TOTAL


def test_a_simulated_half_hour_keeps_every_invariant_and_raises_emergencies(mongo_db) -> None:
    seed_hospital(mongo_db, now=NOW, rng=random.Random(7))
    clock = [NOW]
    simulator = HospitalSimulator(mongo_db, rng=random.Random(3), clock=lambda: clock[0])
    steps = 360
    events = []
    for _ in range(steps):
        clock[0] += timedelta(seconds=5)
        events += simulator.step()
    minutes = steps * 5 / 60
    critical = count(mongo_db.alerts, {"severity": "critical", "created_at": {"$gt": NOW}})
    assert critical >= minutes * 0.7, f"{critical} critical alerts in {minutes} simulated minutes"
    assert count(mongo_db.patients, {"admitted_at": {"$gt": NOW}}) > 0
    assert count(mongo_db.patients, {"discharged_at": {"$gt": NOW}}) > 0
    assert count(mongo_db.billing, {"paid_at": {"$gt": NOW}}) > 0
    assert any("cleaned" in event for event in events)
    assert count(mongo_db.rooms, {"status": "available", "status_changed_at": {"$gt": NOW}}) > 0
    assert count(mongo_db.patients, {"boarding_since": {"$gt": NOW}}) > 0
    assert any("surge" in event for event in events) or simulator.surge(clock[0], "ICU")
    assert_contract_shapes(mongo_db)
    assert_room_invariants(mongo_db)
    assert_patient_invariants(mongo_db)


def test_a_surge_fills_a_department_past_the_occupancy_threshold(mongo_db) -> None:
    seed_hospital(mongo_db, now=NOW, rng=random.Random(7))
    simulator = HospitalSimulator(mongo_db, rng=random.Random(3), clock=lambda: NOW)
    assert simulator.surge(NOW, "ICU")
    rooms = list(mongo_db.rooms.find({"department": "ICU", "status": {"$ne": "maintenance"}}))
    assert sum(r["occupied_beds"] for r in rooms) / sum(r["beds"] for r in rooms) > 0.9
    assert_room_invariants(mongo_db)


@pytest.mark.timeout(30)
def test_run_simulation_stops_promptly(mongo_db) -> None:
    stop = threading.Event()
    thread = threading.Thread(
        target=run_simulation,
        kwargs={"db": mongo_db, "stop": stop, "rng": random.Random(1), "interval_s": 0.05},
    )
    thread.start()
    time.sleep(0.3)
    stopped_at = time.monotonic()
    stop.set()
    thread.join(5)
    assert not thread.is_alive()
    assert time.monotonic() - stopped_at < 2

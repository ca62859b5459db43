"""Property: whatever inserts, updates, replaces and deletes happen across the six collections,
the critical tiers the watcher maintains end equal to a from-scratch recomputation.

The real watcher loop follows real change streams of the MongoDB wire server; no Celery beat
runs, so a department the event path forgets stays wrong and the test fails. Transfers
between departments and deletes are where a forgotten department would hide.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pymongo.database import Database

from dashboard.metrics import maintained, runner
from dashboard.models import Department
from dashboard.protocol.scopes import HOSPITAL_SCOPE, Scope
from dashboard.sources import mongo
from dashboard.stream import publish, tier_cache
from dashboard.watcher.loop import Watcher

pytestmark = pytest.mark.django_db(transaction=True)

CODES = ("ER", "ICU", "CARD")
SCOPES = (HOSPITAL_SCOPE, *(Scope(code) for code in CODES))
CONVERGE_S = 10.0
NOW = datetime.now(UTC)

when = st.integers(-3 * 86400, 0).map(lambda seconds: NOW + timedelta(seconds=seconds))
department = st.sampled_from(CODES)
DOCUMENTS = {
    "patients": st.fixed_dictionaries(
        {
            "department": department,
            "status": st.sampled_from(["admitted", "outpatient", "discharged"]),
            "is_emergency": st.booleans(),
            "admitted_at": when,
            "discharged_at": st.none() | when,
        }
    ),
    "rooms": st.fixed_dictionaries(
        {
            "department": department,
            "status": st.sampled_from(["available", "occupied", "cleaning", "maintenance"]),
            "beds": st.integers(1, 4),
            "occupied_beds": st.integers(0, 4),
        }
    ),
    "appointments": st.fixed_dictionaries(
        {
            "department": department,
            "scheduled_at": when,
            "status": st.sampled_from(["scheduled", "checked_in", "completed", "cancelled", "no_show"]),
        }
    ),
    "staff": st.fixed_dictionaries(
        {"department": department, "role": st.just("nurse"), "on_duty": st.booleans(), "last_active_at": when}
    ),
    "billing": st.fixed_dictionaries(
        {
            "department": department,
            "amount": st.integers(1, 500).map(float),
            "status": st.sampled_from(["paid", "pending", "refunded"]),
            "paid_at": when,
        }
    ),
    "alerts": st.fixed_dictionaries(
        {
            "department": department,
            "severity": st.sampled_from(["critical", "warning", "info"]),
            "kind": st.just("prop"),
            "message": st.just("property test"),
            "created_at": when,
            "acknowledged_at": st.none() | when,
            "acknowledged_by": st.none(),
        }
    ),
}
COLLECTIONS = tuple(DOCUMENTS)
INITIAL: dict[str, dict[str, Any]] = {
    "patients": {
        "department": "ER",
        "status": "admitted",
        "is_emergency": True,
        "admitted_at": NOW,
        "discharged_at": None,
    },
    "rooms": {"department": "ICU", "status": "occupied", "beds": 2, "occupied_beds": 1},
    "appointments": {"department": "CARD", "scheduled_at": NOW, "status": "scheduled"},
    "staff": {"department": "ER", "role": "nurse", "on_duty": True, "last_active_at": NOW},
    "billing": {"department": "ICU", "amount": 120.0, "status": "paid", "paid_at": NOW},
    "alerts": {
        "department": "CARD",
        "severity": "warning",
        "kind": "prop",
        "message": "start",
        "created_at": NOW,
        "acknowledged_at": None,
        "acknowledged_by": None,
    },
}


@st.composite
def operations(draw: Any) -> list[tuple[str, str, int, dict[str, Any]]]:
    """(operation, collection, which existing document, new document or fields)."""
    ops = []
    for _ in range(draw(st.integers(1, 25))):
        collection = draw(st.sampled_from(COLLECTIONS))
        operation = draw(st.sampled_from(["insert", "insert", "update", "move", "replace", "delete"]))
        doc = draw(DOCUMENTS[collection])
        ops.append((operation, collection, draw(st.integers(0, 10_000)), doc))
    return ops


def apply(db: Database, ops: list[tuple[str, str, int, dict[str, Any]]]) -> None:
    for operation, collection, pick, doc in ops:
        ids = [d["_id"] for d in db[collection].find({}, {"_id": 1}).sort("_id", 1)]
        if operation == "insert" or not ids:
            db[collection].insert_one(dict(doc))
            continue
        target = {"_id": ids[pick % len(ids)]}
        if operation == "update":
            # Dates and booleans change by replace only: nx-27017's $set stores a date as a
            # string and true as 1 (docs/MONGODB_COMPATIBILITY.md, 19 and 21); MongoDB does not.
            fields = {
                key: value
                for key, value in doc.items()
                if key != "department" and not isinstance(value, datetime | bool)
            }
            db[collection].update_one(target, {"$set": fields})
        elif operation == "move":
            db[collection].update_one(target, {"$set": {"department": doc["department"]}})
        elif operation == "replace":
            db[collection].replace_one(target, dict(doc))
        else:
            db[collection].delete_one(target)


def without_time(data: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if data is None else {key: value for key, value in data.items() if key != "computed_at"}


def differences() -> list[str]:
    wrong = []
    for scope in SCOPES:
        maintained = without_time(tier_cache.load_tiers(scope, ("critical",))["critical"])
        fresh = without_time(runner.compute_tier(scope, "critical"))
        if maintained != fresh:
            wrong.append(f"{scope}: maintained {maintained} != recomputed {fresh}")
    return wrong


@pytest.fixture
def watched(mongo_db: Database, redis_client: Any) -> Any:
    Department.objects.bulk_create([Department(code=code, name=code) for code in CODES])
    for collection, doc in INITIAL.items():
        mongo_db[collection].insert_one(dict(doc))
    for scope in SCOPES:
        publish.publish_tier(scope, "critical", runner.compute_tier(scope, "critical"))
    stop = threading.Event()
    watcher = Watcher(mongo_db, coalesce_s=0.05, stop=stop)
    thread = threading.Thread(target=watcher.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + CONVERGE_S
    # The watcher rebuilds its counters once its streams are open, then marks them live.
    while not maintained.is_live() and time.monotonic() < deadline:
        time.sleep(0.05)
    probe = mongo_db.patients.insert_one(
        {
            "department": "ER",
            "status": "admitted",
            "is_emergency": True,
            "admitted_at": NOW,
            "discharged_at": None,
        }
    )
    deadline = time.monotonic() + CONVERGE_S
    while differences() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert probe.inserted_id is not None
    yield mongo_db
    stop.set()
    thread.join(timeout=10)


def test_maintained_critical_tiers_equal_a_recomputation_after_any_changes(watched: Database) -> None:
    assert mongo.WATCHED_COLLECTIONS == COLLECTIONS
    assert not differences(), "the watcher did not catch up with the starting state"

    @settings(
        max_examples=15,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(operations())
    def changes_then_compare(ops: list[tuple[str, str, int, dict[str, Any]]]) -> None:
        apply(watched, ops)
        deadline = time.monotonic() + CONVERGE_S
        while (wrong := differences()) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not wrong, "\n".join(wrong)

    changes_then_compare()

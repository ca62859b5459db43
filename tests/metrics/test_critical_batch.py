"""The critical tier of every scope from one hospital-wide read, when the counters are not live.

Each scope's result must equal its own recomputation (`runner.compute_tier`), valid and invalid
documents alike; the Celery run publishes every scope from one pass and reads each collection
as often as one hospital-wide computation does, however many scopes there are. Real Redis and
MongoDB wire server.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from bson import Int64
from django.conf import settings
from pymongo import MongoClient, monitoring
from pymongo.database import Database

from dashboard import tasks
from dashboard.metrics import runner
from dashboard.metrics.critical import compute_critical, compute_critical_scopes
from dashboard.models import Department
from dashboard.protocol.scopes import HOSPITAL_SCOPE, Scope
from dashboard.sources import mongo, redis_store, service_clock
from dashboard.stream import publish, tier_cache
from tests.support.step_down import stepping_down

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 28, 18, 0, tzinfo=UTC)  # noon in Chicago
TODAY = NOW - timedelta(hours=2)
YEAR_9999 = datetime(9999, 12, 31, 23, 59, tzinfo=UTC)
# ER, ICU and CARD have documents; PEDS has none.
CODES = ("ER", "ICU", "CARD", "PEDS")
# Departments that are no code: each document with one counts nowhere, not even in the hospital.
NOT_A_CODE: tuple[Any, ...] = ("er", "ER ", 7, ["ER"], None)


def patient(department: Any, status: Any = "admitted", **fields: Any) -> dict[str, Any]:
    return {"department": department, "status": status, "admitted_at": TODAY, **fields}


def room(department: Any, status: Any = "occupied", beds: Any = 2, occupied: Any = 1) -> dict[str, Any]:
    return {"department": department, "status": status, "beds": beds, "occupied_beds": occupied}


def alert(department: Any, severity: Any = "critical", acknowledged_at: Any = None) -> dict[str, Any]:
    return {"department": department, "severity": severity, "acknowledged_at": acknowledged_at}


def staff(department: Any, on_duty: Any = True, last_active_at: Any = NOW) -> dict[str, Any]:
    return {"department": department, "on_duty": on_duty, "last_active_at": last_active_at}


def seed(db: Database) -> None:
    db.patients.insert_many(
        [
            patient("ER", is_emergency=True),
            patient("ER", is_emergency="yes"),  # wrong type: not an emergency
            patient("ER", "outpatient", admitted_at=TODAY - timedelta(days=2)),
            patient("ER", "Admitted"),  # no status
            patient("ER", "admitted", admitted_at="2026-11-28T16:00:00Z"),  # a string date
            patient("ER", "discharged", discharged_at=TODAY),
            patient("ER", boarding_since=NOW - timedelta(minutes=90)),
            patient("ER", boarding_since=TODAY - timedelta(minutes=1)),  # before admitted_at
            patient("ER", boarding_since=NOW + timedelta(hours=1)),  # too far ahead
            patient("ICU", is_emergency=1),  # 1 is not true
            patient("ICU", boarding_since=NOW - timedelta(minutes=30)),
            patient("ICU", boarding_since="yesterday"),
            patient("CARD", "outpatient"),
            patient("CARD", "discharged", discharged_at=TODAY - timedelta(days=3)),
            *(patient(bad, is_emergency=True, boarding_since=TODAY) for bad in NOT_A_CODE),
            {"status": "admitted", "admitted_at": TODAY},  # no department at all
        ]
    )
    db.rooms.insert_many(
        [
            room("ER", beds=Int64(4), occupied=Int64(3)),
            room("ER", "available", occupied=0),
            room("ER", beds=Int64(2**62)),  # beyond MAX_BEDS
            room("ER", beds="two"),
            room("ER", beds=-1),
            room("ER", "maintenance", beds=4, occupied=0),
            room("ICU", "cleaning", beds=2, occupied=0),
            room("ICU", beds=True),
            room("CARD", "closed"),  # no room status
            *(room(bad) for bad in NOT_A_CODE),
        ]
    )
    db.alerts.insert_many(
        [
            alert("ER"),
            alert("ER", "info"),
            alert("ER", "urgent"),  # no severity
            alert("ER", acknowledged_at=TODAY),
            alert("ICU", "warning"),
            *(alert(bad) for bad in NOT_A_CODE),
        ]
    )
    db.staff.insert_many(
        [
            staff("ER"),
            staff("ER", on_duty="true"),
            staff("ER", last_active_at=NOW - timedelta(hours=1)),
            staff("ER", last_active_at=YEAR_9999),  # out of range: no activity
            staff("ICU", on_duty=1, last_active_at="2026-11-28T17:59:00Z"),
            staff("CARD", on_duty=False),
            *(staff(bad) for bad in NOT_A_CODE),
        ]
    )


@pytest.fixture
def chicago(settings) -> None:
    settings.TIME_ZONE = "America/Chicago"


@pytest.fixture
def departments(mongo_db: Database) -> list[Scope]:
    for code in CODES:
        Department.objects.create(code=code, name=code)
    return [HOSPITAL_SCOPE, *(Scope(code) for code in CODES)]


def test_every_scope_from_one_read_equals_its_own_recomputation(
    mongo_db: Database, redis_client, chicago
) -> None:
    seed(mongo_db)
    tiers = compute_critical_scopes(mongo_db, CODES, now=NOW, tz=ZoneInfo(settings.TIME_ZONE))
    assert set(tiers) == {None, *CODES}
    for scope in (HOSPITAL_SCOPE, *(Scope(code) for code in CODES)):
        assert runner.stamped(scope, "critical", tiers[scope.department], NOW) == runner.compute_tier(
            scope, "critical", now=NOW
        ), scope
    # Not equal by being empty: the seeded departments differ from each other and from none.
    assert tiers["ER"]["patients"] == {
        "total": 7,
        "active": 6,
        "new_today": 6,
        "emergency": 1,
        "discharged_today": 1,
    }
    assert tiers["ER"]["flow"]["boarding"] == 1
    assert tiers["ICU"]["flow"]["boarding"] == 1
    assert tiers["ICU"]["rooms"]["cleaning"] == 1
    assert tiers["PEDS"]["patients"]["total"] == 0
    assert tiers[None]["patients"]["total"] == 11


def test_a_code_without_a_department_group_has_zero_counts(mongo_db: Database) -> None:
    mongo_db.patients.insert_one(patient("ER", is_emergency=True))
    tiers = compute_critical_scopes(mongo_db, ["ICU"], now=NOW, tz=ZoneInfo("UTC"))
    assert tiers["ICU"] == compute_critical(mongo_db, "ICU", now=NOW, tz=ZoneInfo("UTC"))
    assert tiers["ICU"]["patients"]["total"] == 0
    assert "ER" not in tiers, "a department not asked for"


def test_the_run_publishes_every_scope_from_one_pass_when_the_counters_are_not_live(
    mongo_db: Database, redis_client, departments: list[Scope]
) -> None:
    mongo_db.patients.insert_one(patient("ER", is_emergency=True, admitted_at=service_clock.now()))
    assert tasks.run_tier("critical") == len(departments)
    published = {scope: tier_cache.load_tiers(scope, ("critical",))["critical"] for scope in departments}
    assert len({tier["computed_at"] for tier in published.values()}) == 1, "not one pass at one now"
    assert published[Scope("ER")]["patients"]["emergency"] == 1
    assert published[HOSPITAL_SCOPE]["patients"]["emergency"] == 1
    assert published[Scope("ICU")]["patients"]["emergency"] == 0
    assert tasks.run_tier("critical") == len(departments), "a lock was left held"


def test_the_run_skips_a_scope_whose_lock_another_run_holds(
    mongo_db: Database, redis_client, departments: list[Scope], caplog
) -> None:
    held = Scope("ICU")
    elsewhere = redis_store.client().lock(redis_store.tier_run_lock_key(held, "critical"), timeout=5)
    assert elsewhere.acquire(blocking=False)
    with caplog.at_level(logging.INFO, "dashboard.metrics.runner"):
        assert tasks.run_tier("critical") == len(departments) - 1
    assert "tier critical of dept:ICU is already running elsewhere; skipped" in caplog.text
    assert publish.position(held).seq == 0, "a skipped scope was published"
    assert all(publish.position(scope).seq == 1 for scope in departments if scope != held)
    assert elsewhere.owned(), "the other run's lock was released"
    elsewhere.release()


def test_one_scope_failing_to_publish_does_not_stop_the_others(
    mongo_db: Database, redis_client, departments: list[Scope], monkeypatch, caplog
) -> None:
    real = publish.publish_tier

    def publish_tier(scope: Scope, tier: str, data: dict[str, Any]) -> Any:
        if scope == Scope("ER"):
            raise ConnectionError("injected")
        return real(scope, tier, data)

    monkeypatch.setattr(publish, "publish_tier", publish_tier)
    assert tasks.run_tier("critical") == len(departments) - 1
    assert "tier critical of dept:ER failed" in caplog.text
    assert all(publish.position(scope).seq == 1 for scope in departments if scope != Scope("ER"))


def test_a_failed_shared_read_fails_the_pass_and_the_next_one_publishes(
    mongo_db: Database, redis_client, departments: list[Scope], caplog
) -> None:
    with caplog.at_level(logging.ERROR, "dashboard.tasks"), stepping_down({"aggregate": 2}):
        assert tasks.run_tier("critical") == 0
    assert "NotPrimaryError" in caplog.text
    assert all(publish.position(scope).seq == 0 for scope in departments)
    assert tasks.run_tier("critical") == len(departments), "the failed pass left a lock held"


class Commands(monitoring.CommandListener):
    """The reads sent to one database: (command, collection) → how many."""

    def __init__(self, database: str) -> None:
        self.database = database
        self.reads: Counter[tuple[str, str]] = Counter()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.database_name == self.database and event.command_name in ("aggregate", "find", "getMore"):
            self.reads[event.command_name, str(event.command[event.command_name])] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.fixture
def commands(mongo_db: Database, monkeypatch) -> Iterator[Commands]:
    """Every read of the test database through `mongo.client()`, as sent on the wire."""
    listener = Commands(mongo_db.name)
    client: MongoClient = MongoClient(settings.MONGO_URL, tz_aware=True, event_listeners=[listener])
    monkeypatch.setattr(mongo, "client", lambda: client)
    yield listener
    monkeypatch.undo()  # before the database is dropped through `mongo.client()`
    client.close()


def test_a_pass_reads_each_collection_as_one_hospital_wide_computation_does(
    mongo_db: Database, redis_client, departments: list[Scope], commands: Commands
) -> None:
    seed(mongo_db)
    compute_critical(mongo.hospital_db(), None, now=NOW, tz=ZoneInfo("UTC"))
    one_computation = Counter(commands.reads)
    assert one_computation[("find", "patients")] == 1
    commands.reads.clear()
    assert tasks.run_tier("critical") == len(departments)
    assert commands.reads == one_computation, f"{len(departments)} scopes"

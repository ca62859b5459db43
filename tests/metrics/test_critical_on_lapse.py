"""The critical tier is recomputed from MongoDB as soon as the watcher's counters stop being live.

Real Redis and MongoDB wire server; the task is called as beat would call it, once a second.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest
from django.conf import settings
from pymongo.database import Database

from dashboard import tasks
from dashboard.metrics import maintained
from dashboard.models import Department
from dashboard.protocol.scopes import Scope
from dashboard.sources import redis_store
from dashboard.stream import tier_cache

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _a_process_that_saw_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(maintained, "_seen_live_here", False)


def er_emergencies() -> Any:
    critical = tier_cache.load_tiers(Scope("ER"), ("critical",))["critical"] or {}
    return critical.get("patients", {}).get("emergency")


def test_a_lapsed_mark_recomputes_the_critical_tier_once_at_the_next_check(
    mongo_db: Database, redis_client: Any
) -> None:
    Department.objects.create(code="ER", name="Emergency")
    # The counters say 5 emergencies; MongoDB has one, admitted after the watcher died.
    redis_store.client().hset(
        redis_store.maintained_counts_key("ER"), mapping={"emergency": 5, "admitted": 5}
    )
    redis_store.client().sadd(redis_store.MAINTAINED_DEPARTMENTS_KEY, "ER")
    mongo_db.patients.insert_one(
        {"department": "ER", "status": "admitted", "is_emergency": True, "admitted_at": datetime.now(UTC)}
    )
    maintained.mark_live(30)
    assert tasks.critical_on_lapse() == 0, "published while the counters were live"
    assert er_emergencies() is None
    maintained.clear_live()  # as the watcher's stop, or the mark's expiry after a kill
    assert tasks.critical_on_lapse() == 2, "the hospital and ER were not recomputed"
    assert er_emergencies() == 1


def test_after_a_lapse_the_critical_tier_follows_mongodb_every_second_for_a_while(
    mongo_db: Database, redis_client: Any, monkeypatch
) -> None:
    # A change made while no watcher maintains the counters (a restart, a takeover) must not wait
    # for the 5 s run: it would show, unmarked, up to one interval plus a computation late.
    monkeypatch.setattr(tasks, "RECOMPUTE_EVERY_SECOND_FOR_S", 1.5)
    Department.objects.create(code="ER", name="Emergency")
    maintained.mark_live(30)
    assert tasks.critical_on_lapse() == 0
    maintained.clear_live()
    assert tasks.critical_on_lapse() == 2
    assert er_emergencies() == 0
    mongo_db.patients.insert_one(
        {"department": "ER", "status": "admitted", "is_emergency": True, "admitted_at": datetime.now(UTC)}
    )
    assert tasks.critical_on_lapse() == 2, "the next check did not recompute"
    assert er_emergencies() == 1
    time.sleep(1.6)
    assert tasks.critical_on_lapse() == 0, "still every second after RECOMPUTE_EVERY_SECOND_FOR_S"


def test_a_watcher_back_stops_the_recomputation(mongo_db: Database, redis_client: Any) -> None:
    Department.objects.create(code="ER", name="Emergency")
    maintained.mark_live(30)
    tasks.critical_on_lapse()
    maintained.clear_live()
    assert tasks.critical_on_lapse() == 2
    maintained.mark_live(30)  # a watcher is back
    assert tasks.critical_on_lapse() == 0, "recomputed while the counters were live again"


def test_a_redis_restarted_empty_is_a_lapse_for_a_process_that_saw_the_counters_live(
    mongo_db: Database, redis_client: Any
) -> None:
    # Fault matrix row 4: the restart took the live mark and the record of it having been seen,
    # so beat left the tiles to the 5 s run while the new watcher rebuilt its counters for 21 s,
    # and the CARD tile stayed one admission behind, unmarked, for 10.3 s.
    Department.objects.create(code="ER", name="Emergency")
    maintained.mark_live(30)
    assert tasks.critical_on_lapse() == 0
    redis_client.flushdb()  # Redis restarted empty
    mongo_db.patients.insert_one(
        {"department": "ER", "status": "admitted", "is_emergency": True, "admitted_at": datetime.now(UTC)}
    )
    assert tasks.critical_on_lapse() == 2, "the restart was not taken for a lapse"
    assert er_emergencies() == 1
    assert tasks.critical_on_lapse() == 2, "not every second after it"


def test_without_a_watcher_ever_live_the_check_does_nothing(mongo_db: Database, redis_client: Any) -> None:
    Department.objects.create(code="ER", name="Emergency")
    assert tasks.critical_on_lapse() == 0
    assert er_emergencies() is None


def test_beat_runs_the_check_every_second() -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["critical-on-lapse"]
    assert entry["task"] == "dashboard.tasks.critical_on_lapse"
    assert entry["schedule"] == 1.0

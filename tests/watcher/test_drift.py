"""The drift check: maintained counters against MongoDB, confirmed twice, logged, counted, repaired."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from dashboard.metrics import maintained
from dashboard.protocol.scopes import Scope
from dashboard.sources import redis_store
from dashboard.stream import tier_cache
from dashboard.watcher import stats
from dashboard.watcher.drift import RECHECK_AFTER_S, DriftCheck, find_drift
from dashboard.watcher.loop import Watcher

TZ = ZoneInfo("UTC")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def counted(mongo_db, redis_client):
    mongo_db.patients.insert_many(
        [
            {"department": "ER", "status": "admitted", "admitted_at": datetime.now(UTC)},
            {"department": "ICU", "status": "outpatient"},
        ]
    )
    maintained.rebuild(mongo_db, TZ)
    return mongo_db


def corrupt(department: str, counter: str, amount: int) -> None:
    redis_store.client().hincrby(redis_store.maintained_counts_key(department), counter, amount)


def test_rebuilt_counters_have_no_drift_and_a_corrupted_one_is_named(counted) -> None:
    assert find_drift(counted, TZ) == {}
    corrupt("ER", "admitted", 2)
    assert find_drift(counted, TZ) == {"ER": {"patients.admitted": (3, 1)}}


def test_drift_seen_twice_is_logged_counted_and_repaired(counted, caplog) -> None:
    clock = Clock()
    check = DriftCheck(counted, TZ, every_s=300, clock=clock)
    assert not check.due()
    clock.now += 300
    corrupt("ICU", "outpatient", -1)
    assert check.run() == set()
    assert not check.due()
    clock.now += RECHECK_AFTER_S
    with caplog.at_level(logging.WARNING, logger="dashboard.watcher.drift"):
        assert check.run() == {"ICU"}
    assert "ICU drifted from MongoDB: patients.outpatient 0 != 1" in caplog.text
    assert (stats.read()["drift_found"], stats.read()["drift_repairs"]) == (1, 1)
    assert find_drift(counted, TZ) == {}
    assert clock.now + 300 == check.next_at


def test_a_difference_gone_by_the_recheck_is_not_drift(counted) -> None:
    clock = Clock()
    check = DriftCheck(counted, TZ, every_s=1, clock=clock)
    clock.now += 1
    corrupt("ER", "admitted", 1)
    assert check.run() == set()
    corrupt("ER", "admitted", -1)  # the change that was on its way arrives
    clock.now += RECHECK_AFTER_S
    assert check.run() == set()
    assert "drift_found" not in stats.read()


def test_the_watcher_repairs_drift_and_publishes_the_right_numbers(counted, settings) -> None:
    settings.WATCH_DRIFT_CHECK_S = 1
    stop = threading.Event()
    thread = threading.Thread(target=Watcher(counted, coalesce_s=0.05, stop=stop).run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not maintained.is_live() and time.monotonic() < deadline:
            time.sleep(0.05)
        corrupt("ER", "admitted", 40)

        def published_active() -> int | None:
            critical = tier_cache.load_tiers(Scope("ER"), ("critical",))["critical"]
            return None if critical is None else critical["patients"]["active"]

        # The repair is counted, then the counters are rebuilt and ER is published.
        while published_active() != 1 and time.monotonic() < deadline + 10:
            time.sleep(0.1)
        assert stats.read()["drift_repairs"] == 1
        assert published_active() == 1
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not maintained.is_live()

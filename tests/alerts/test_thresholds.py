"""Threshold alerts: raised once per crossing, re-armed below the hysteresis band, never twice.

Against the test MongoDB (nx-27017) and Redis: the uniqueness is MongoDB's `_id` index.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dashboard.alerts import thresholds
from dashboard.alerts.documents import validated_alert

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def critical(occupancy: float = 0.5, boarding: int = 0, longest_min: float = 0) -> dict[str, Any]:
    return {
        "rooms": {"occupancy_rate": occupancy},
        "flow": {"boarding": boarding, "boarding_longest_min": longest_min, "boarding_median_min": 0},
    }


@pytest.fixture
def levels(settings, mongo_db, redis_client):
    settings.THRESHOLD_OCCUPANCY = 0.9
    settings.THRESHOLD_BOARDING_COUNT = 10
    settings.THRESHOLD_BOARDING_HOURS = 4
    return mongo_db


def test_one_alert_per_crossing_with_a_hysteresis_band(levels) -> None:
    raised = []
    # 0.9 itself is not above; 0.88 and 0.86 are inside the band (re-arm at 0.85 or below).
    for minute, occupancy in enumerate([0.5, 0.9, 0.95, 0.97, 0.88, 0.92, 0.86, 0.91, 0.85, 0.91, 0.93]):
        raised.append(thresholds.evaluate("ICU", critical(occupancy), now=T0 + timedelta(minutes=minute)))
    assert [len(ids) for ids in raised] == [0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0]
    docs = list(levels.alerts.find().sort("created_at", 1))
    assert [doc["_id"] for doc in docs] == [raised[2][0], raised[9][0]]
    first = validated_alert(docs[0])  # a valid alert for every reader
    assert (first["kind"], first["source"], first["severity"], first["department"]) == (
        "threshold",
        "dashboard",
        "critical",
        "ICU",
    )
    assert first["created_at"] == T0 + timedelta(minutes=2)
    assert first["acknowledged_at"] is None
    assert first["message"] == "Occupancy in ICU is 95%, above 90%"


def test_boarding_count_and_hours_are_strictly_above_their_levels(levels) -> None:
    assert thresholds.evaluate("ER", critical(boarding=10, longest_min=240), now=T0) == []
    raised = thresholds.evaluate("ER", critical(boarding=11, longest_min=241), now=T0)
    assert [alert_id.split(":")[2] for alert_id in raised] == ["boarding_count", "boarding_hours"]
    assert {doc["severity"] for doc in levels.alerts.find()} == {"warning"}
    # 9 is inside the band of 2 (re-arm at 8), 3.6 h inside 0.5 h (re-arm at 3.5 h).
    thresholds.evaluate("ER", critical(boarding=9, longest_min=216), now=T0 + timedelta(minutes=1))
    assert (
        thresholds.evaluate("ER", critical(boarding=11, longest_min=241), now=T0 + timedelta(minutes=2)) == []
    )
    thresholds.evaluate("ER", critical(boarding=8, longest_min=210), now=T0 + timedelta(minutes=3))
    assert (
        len(thresholds.evaluate("ER", critical(boarding=12, longest_min=250), now=T0 + timedelta(minutes=4)))
        == 2
    )


def test_departments_and_checks_are_independent(levels) -> None:
    thresholds.evaluate("ICU", critical(0.95), now=T0)
    assert len(thresholds.evaluate("CARD", critical(0.95), now=T0)) == 1
    assert len(thresholds.evaluate("ICU", critical(0.95, boarding=11), now=T0)) == 1


def test_a_crash_between_insert_and_state_change_inserts_nothing_twice(levels, redis_client) -> None:
    raised = thresholds.evaluate("ICU", critical(0.95), now=T0)
    episode = raised[0].rsplit(":", 1)[1]
    redis_client.set("dash:threshold:ICU:occupancy", f"armed:{episode}")  # as if the CAS never ran
    assert thresholds.evaluate("ICU", critical(0.96), now=T0 + timedelta(seconds=5)) == []
    assert levels.alerts.count_documents({}) == 1
    assert redis_client.get("dash:threshold:ICU:occupancy") == f"raised:{episode}"


def test_two_concurrent_raisers_raise_each_crossing_once(levels) -> None:
    """Two raisers (a watcher and a worker, say) see every crossing at the same moment."""
    rounds = 15
    barrier = threading.Barrier(2)
    inserted: list[list[str]] = [[], []]
    errors: list[BaseException] = []

    def raiser(index: int) -> None:
        try:
            for round_index in range(rounds):
                now = T0 + timedelta(minutes=round_index)
                barrier.wait(timeout=30)
                inserted[index] += thresholds.evaluate("ER", critical(0.95), now=now)
                barrier.wait(timeout=30)
                thresholds.evaluate("ER", critical(0.5), now=now + timedelta(seconds=30))
        except BaseException as exc:
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=raiser, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors
    assert levels.alerts.count_documents({"kind": "threshold"}) == rounds
    assert len(inserted[0]) + len(inserted[1]) == rounds
    assert len(set(inserted[0]) | set(inserted[1])) == rounds

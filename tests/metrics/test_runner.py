"""Tier runs: one at a time per tier and scope, whichever beat or worker starts it."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import pytest

from dashboard.metrics import runner
from dashboard.protocol.messages import iso
from dashboard.protocol.scopes import Scope
from dashboard.sources import redis_store
from dashboard.stream import publish, tier_cache


def test_a_tier_run_already_running_elsewhere_is_skipped_not_repeated(mongo_db, redis_client) -> None:
    scope = Scope("ER")
    elsewhere = redis_store.client().lock(redis_store.tier_run_lock_key(scope, "critical"), timeout=5)
    assert elsewhere.acquire(blocking=False)
    assert runner.run_tier(scope, "critical") is False
    assert publish.position(scope).seq == 0, "a skipped run published"
    elsewhere.release()
    assert runner.run_tier(scope, "critical") is True
    assert publish.position(scope).seq == 1


def test_many_concurrent_runs_publish_in_strict_seq_order_without_duplicates(mongo_db, redis_client) -> None:
    scope = Scope("ER")
    outcomes: list[bool] = []
    start = threading.Barrier(8)

    def run() -> None:
        start.wait()
        outcomes.append(runner.run_tier(scope, "critical"))

    threads = [threading.Thread(target=run) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count(True) >= 1
    assert publish.position(scope).seq == outcomes.count(True), "a run published twice or a skip published"


def test_a_run_slower_than_its_interval_never_publishes_after_a_newer_one(
    redis_client, monkeypatch: pytest.MonkeyPatch
) -> None:
    scope = Scope("ER")
    started: list[datetime] = []
    slow_may_finish = threading.Event()

    def compute(scope: Scope, tier: str, **_: Any) -> dict[str, Any]:
        now = datetime.now(UTC)
        started.append(now)
        run = len(started)
        if run == 1:
            slow_may_finish.wait(5)
        return {"run": run, "computed_at": iso(now)}

    monkeypatch.setattr(runner, "compute_tier", compute)
    monkeypatch.setattr(runner, "interval_s", lambda tier: 0.3)  # the run lock lasts 0.3 s
    outcomes: list[bool] = []
    slow = threading.Thread(target=lambda: outcomes.append(runner.run_tier(scope, "critical")))
    slow.start()
    while not started:
        threading.Event().wait(0.01)
    threading.Event().wait(0.5)  # the slow run's lock has expired: the next run starts
    assert runner.run_tier(scope, "critical") is True
    slow_may_finish.set()
    slow.join(10)
    assert outcomes == [True], "the slow run failed instead of finishing"
    assert publish.position(scope).seq == 1, "the slow run published its older numbers"
    assert tier_cache.load_tiers(scope, ("critical",))["critical"]["run"] == 2

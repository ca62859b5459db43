"""Tier runs: one at a time per tier and scope, whichever beat or worker starts it."""

from __future__ import annotations

import threading

from dashboard.metrics import runner
from dashboard.protocol.scopes import Scope
from dashboard.sources import redis_store
from dashboard.stream import publish


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

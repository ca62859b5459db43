"""A cold tier cache and many snapshots at once: one computation per tier, on real Redis and MongoDB."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest

from dashboard.metrics import cold_tiers, runner
from dashboard.metrics.snapshots import snapshot_message
from dashboard.protocol.scopes import HOSPITAL_SCOPE, Scope
from dashboard.protocol.tiers import TIERS
from dashboard.sources import redis_store
from dashboard.stream import tier_cache

pytestmark = pytest.mark.django_db

CLIENTS = 24


@pytest.fixture
def hospital(mongo_db):
    mongo_db.patients.insert_many(
        [
            {
                "department": "ER",
                "status": "admitted",
                "is_emergency": True,
                "admitted_at": datetime.now(UTC),
            },
            {
                "department": "ICU",
                "status": "admitted",
                "is_emergency": False,
                "admitted_at": datetime.now(UTC),
            },
            {
                "department": "ICU",
                "status": "outpatient",
                "is_emergency": False,
                "admitted_at": datetime.now(UTC),
            },
        ]
    )
    return mongo_db


@pytest.fixture
def computations(monkeypatch) -> Counter[str]:
    """Each real MongoDB computation of a tier, counted by tier.

    The computation is held 0.3 s longer than it takes, so that every concurrent snapshot
    misses the cache while it runs: without single-flight each of them would compute.
    """
    counts: Counter[str] = Counter()
    lock = threading.Lock()

    def counted(scope: Scope, tier: str, **kwargs: Any) -> dict[str, Any]:
        with lock:
            counts[tier] += 1
        data = runner.compute_tier(scope, tier, **kwargs)
        time.sleep(0.3)
        return data

    monkeypatch.setattr(cold_tiers, "compute_tier", counted)
    return counts


def test_concurrent_snapshots_of_a_cold_cache_compute_each_tier_once(
    hospital, redis_client, computations
) -> None:
    start = threading.Barrier(CLIENTS)

    def one_client(_: int) -> dict[str, Any]:
        start.wait()
        return snapshot_message(HOSPITAL_SCOPE, with_revenue=True)

    with ThreadPoolExecutor(CLIENTS) as pool:
        snapshots = list(pool.map(one_client, range(CLIENTS)))

    assert computations == dict.fromkeys(TIERS, 1)
    assert all(snapshot["data"] == snapshots[0]["data"] for snapshot in snapshots)
    assert snapshots[0]["data"]["critical"]["patients"]["total"] == 3
    assert snapshots[0]["data"]["critical"]["patients"]["emergency"] == 1
    assert tier_cache.load_tiers(HOSPITAL_SCOPE, TIERS)["historical"] == snapshots[0]["data"]["historical"]


def test_a_process_holding_the_lock_computes_and_the_others_read_its_result(
    hospital, redis_client, computations
) -> None:
    other = redis_store.client().lock(
        redis_store.snapshot_fill_lock_key(HOSPITAL_SCOPE, "standard"), timeout=10, thread_local=False
    )
    assert other.acquire(blocking=False)
    theirs = {"patients": {"total": 77}, "computed_at": datetime.now(UTC).isoformat().replace("+00:00", "Z")}

    def other_process_finishes() -> None:
        time.sleep(0.5)
        tier_cache.store_tier(HOSPITAL_SCOPE, "standard", theirs)
        other.release()

    finisher = threading.Thread(target=other_process_finishes)
    finisher.start()
    started = time.monotonic()
    data = cold_tiers.fill_tier(HOSPITAL_SCOPE, "standard")
    waited = time.monotonic() - started
    finisher.join()

    assert data == theirs
    assert computations["standard"] == 0
    assert 0.4 <= waited < cold_tiers.WAIT_S


@pytest.mark.parametrize(
    ("lock_ttl_s", "wait_s"),
    [(1.0, 5.0), (60.0, 1.0)],
    ids=["its-lock-expires-first", "the-wait-ends-first"],
)
def test_a_lock_holder_that_died_blocks_the_others_no_longer_than_the_timeout(
    hospital, redis_client, computations, monkeypatch, lock_ttl_s: float, wait_s: float
) -> None:
    # A process took the lock and died before computing: nothing releases it.
    redis_client.set(
        redis_store.snapshot_fill_lock_key(HOSPITAL_SCOPE, "critical"), "dead", px=int(lock_ttl_s * 1000)
    )
    monkeypatch.setattr(cold_tiers, "WAIT_S", wait_s)

    started = time.monotonic()
    data = cold_tiers.fill_tier(HOSPITAL_SCOPE, "critical")
    waited = time.monotonic() - started

    assert data["patients"]["total"] == 3
    assert computations["critical"] == 1
    bound = min(lock_ttl_s, wait_s)
    assert bound - 0.1 <= waited < bound + 2.0, waited
    assert tier_cache.load_tiers(HOSPITAL_SCOPE, ["critical"])["critical"] == data

"""Snapshots in the three states: normal, Redis unavailable, MongoDB unavailable (and both)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from dashboard.access.users import upsert_dashboard_user
from dashboard.metrics.snapshots import DIRECT_EPOCH, SnapshotUnavailable, snapshot_message
from dashboard.protocol.scopes import HOSPITAL_SCOPE
from dashboard.protocol.tiers import TIERS
from dashboard.sources import mongo, redis_store
from dashboard.stream import tier_cache
from devstack.services import ManagedProcess, start_redis

pytestmark = pytest.mark.django_db

TEN_MINUTES_AGO = (datetime.now(UTC) - timedelta(minutes=10)).isoformat().replace("+00:00", "Z")


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
                "status": "outpatient",
                "is_emergency": False,
                "admitted_at": datetime.now(UTC),
            },
        ]
    )
    return mongo_db


@pytest.fixture
def own_redis(tmp_path: Path, settings) -> Iterator[ManagedProcess]:
    """A Redis of this test's own, which the test may stop."""
    proc, url = start_redis(tmp_path / "redis")
    settings.REDIS_URL = url
    redis_store.client.cache_clear()
    yield proc
    proc.stop()
    redis_store.client.cache_clear()


@pytest.fixture
def mongo_down(hospital) -> Iterator[None]:
    """MongoDB unreachable for the code under test; restored before `hospital` is dropped."""
    unreachable = mongo.make_client("mongodb://127.0.0.1:1/?directConnection=true", timeout_ms=300)
    reachable = mongo.client
    mongo.client = lambda: unreachable  # type: ignore[assignment]
    yield
    mongo.client = reachable


def api_get(path: str):
    user, _ = upsert_dashboard_user(username="ada", role="admin", departments=[], password=None)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
    return client.get(path)


def test_normal_state_reads_redis_and_is_fresh(hospital, redis_client) -> None:
    first = snapshot_message(HOSPITAL_SCOPE, with_revenue=True)
    assert first["stale"] is False
    assert first["data"]["critical"]["patients"]["total"] == 2
    hospital.patients.delete_many({})
    second = snapshot_message(HOSPITAL_SCOPE, with_revenue=True)
    assert second["data"]["critical"]["patients"]["total"] == 2, "the cached tier was not used"


def test_without_redis_snapshots_are_computed_from_mongodb(hospital, own_redis) -> None:
    tier_cache.store_tier(
        HOSPITAL_SCOPE, "critical", {"patients": {"total": 999}, "computed_at": TEN_MINUTES_AGO}
    )
    own_redis.stop()
    snapshot = snapshot_message(HOSPITAL_SCOPE, with_revenue=False)
    assert snapshot["epoch"] == DIRECT_EPOCH
    assert snapshot["seq"] == 0
    assert snapshot["stale"] is False
    assert snapshot["data"]["critical"]["patients"]["total"] == 2
    assert "revenue" not in snapshot["data"]["standard"]
    response = api_get("/api/snapshot/?scope=hospital")
    assert response.status_code == 200
    assert response.json()["data"]["critical"]["patients"]["emergency"] == 1


def test_without_mongodb_snapshots_serve_the_last_values_marked_stale_with_their_age(
    hospital, redis_client, mongo_down
) -> None:
    for tier in TIERS:
        tier_cache.store_tier(
            HOSPITAL_SCOPE, tier, {"patients": {"total": 41}, "computed_at": TEN_MINUTES_AGO}
        )
    redis_client.delete(*(redis_store.tier_key(HOSPITAL_SCOPE, tier) for tier in TIERS))  # their TTLs ran out
    snapshot = snapshot_message(HOSPITAL_SCOPE, with_revenue=True)
    assert snapshot["stale"] is True
    assert 595 <= snapshot["age_s"] <= 660
    assert snapshot["data"]["critical"]["patients"]["total"] == 41
    response = api_get("/api/snapshot/?scope=hospital")
    assert response.status_code == 200
    assert response.json()["stale"] is True
    assert api_get("/api/alerts/?scope=hospital").status_code == 503


def test_without_either_source_the_api_says_unavailable(hospital, own_redis, mongo_down) -> None:
    own_redis.stop()
    with pytest.raises(SnapshotUnavailable):
        snapshot_message(HOSPITAL_SCOPE, with_revenue=True)
    response = api_get("/api/snapshot/?scope=hospital")
    assert response.status_code == 503
    assert response.json()["code"] == "unavailable"

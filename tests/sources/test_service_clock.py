"""The service's clock: a host whose clock runs 5 minutes ahead stamps and judges times as the
rest of the service does (row 8 of the fault matrix)."""

from __future__ import annotations

import logging
import time as real_time
from datetime import UTC, datetime

import pytest
import redis

from dashboard.metrics import runner, snapshots
from dashboard.protocol.scopes import Scope
from dashboard.realtime import connection_limit
from dashboard.sources import redis_store, service_clock
from dashboard.stream import publish

AHEAD_S = 300.0
_HOST_TIME = real_time.time


class _AheadClock:
    """`time` as seen on a host whose wall clock runs AHEAD_S ahead (the monotonic clock is right)."""

    monotonic = staticmethod(real_time.monotonic)

    @staticmethod
    def time() -> float:
        return _HOST_TIME() + AHEAD_S


@pytest.fixture
def fresh_clock(monkeypatch):
    """The clock as in a process that has not measured its offset yet."""
    monkeypatch.setattr(service_clock, "_offset_s", 0.0)
    monkeypatch.setattr(service_clock, "_next_refresh", 0.0)
    return service_clock


@pytest.fixture
def host_ahead(fresh_clock, monkeypatch):
    monkeypatch.setattr(service_clock, "time", _AheadClock)
    return fresh_clock


def redis_now(client: redis.Redis) -> float:
    seconds, microseconds = client.time()
    return seconds + microseconds / 1_000_000


def test_a_host_clock_ahead_is_corrected_to_redis_and_logged(redis_client, host_ahead, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="dashboard.sources.service_clock")
    assert abs(host_ahead.time_s() - redis_now(redis_client)) < 1.0
    assert host_ahead.offset_s(refresh=False) == pytest.approx(-AHEAD_S, abs=1.0)
    assert "300.0 s ahead of Redis's" in caplog.text


def test_refresh_false_never_asks_redis(host_ahead, monkeypatch) -> None:
    def no_redis() -> redis.Redis:
        raise AssertionError("asked Redis from a caller that must not wait on it")

    monkeypatch.setattr(redis_store, "client", no_redis)
    assert host_ahead.time_s(refresh=False) == pytest.approx(real_time.time() + AHEAD_S, abs=1.0)


def test_without_redis_the_last_offset_is_kept_and_retried_later(
    redis_client, host_ahead, monkeypatch
) -> None:
    host_ahead.measure()
    asked = []

    def unreachable() -> redis.Redis:
        asked.append(1)
        return redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)

    monkeypatch.setattr(redis_store, "client", unreachable)
    monkeypatch.setattr(service_clock, "_next_refresh", 0.0)
    assert abs(host_ahead.time_s() - real_time.time()) < 1.0  # never raises, keeps the offset
    assert abs(host_ahead.time_s() - real_time.time()) < 1.0
    assert asked == [1], "asked again before RETRY_S"


def test_a_tier_computed_on_a_host_ahead_is_stamped_on_the_service_clock(
    redis_client, host_ahead, caplog
) -> None:
    data = runner.maintained_critical(Scope("ER"))
    stamped = datetime.fromisoformat(data["computed_at"]).timestamp()
    assert abs(stamped - redis_now(redis_client)) < 1.0
    caplog.set_level(logging.WARNING, logger="dashboard.stream.publish")
    assert publish.publish_tier(Scope("ER"), "critical", data) is not None
    assert "ahead of Redis's clock" not in caplog.text


def test_a_web_process_ahead_does_not_mark_a_fresh_tier_stale(redis_client, host_ahead) -> None:
    fresh = {
        tier: {"computed_at": datetime.now(UTC).isoformat()}
        for tier in ("critical", "standard", "historical")
    }
    message = snapshots._message(Scope("ER"), fresh, epoch="e", seq=1, with_revenue=True, degraded=False)
    assert (message["stale"], message["age_s"]) == (False, pytest.approx(0.0, abs=1.0))


def test_connection_leases_are_timed_on_redis_clock(redis_client, settings, monkeypatch) -> None:
    settings.MAX_CONNECTIONS_PER_USER = 2
    monkeypatch.setattr(real_time, "time", _AheadClock.time)  # this whole process runs ahead
    assert connection_limit.acquire(7, "conn")
    monkeypatch.undo()
    assert redis_client.zscore("dash:conns:7", "conn") == pytest.approx(redis_now(redis_client), abs=1.0)

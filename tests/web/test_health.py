"""Ops endpoints on the real test Redis and MongoDB: readiness, watcher lag, Prometheus text."""

from __future__ import annotations

import time

import pytest

from dashboard.protocol.scopes import Scope
from dashboard.stream import publish
from dashboard.watcher import stats


def test_readyz_is_ready_and_shows_the_watcher_lag(client, redis_client) -> None:
    stats.set_lag(0.25)
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["sources"] == {"redis": "ok", "mongo": "ok", "channel_layer": "ok"}
    assert body["watcher"]["lag_s"] == 0.25
    assert 0 <= body["watcher"]["report_age_s"] < 5


def test_readyz_is_503_and_names_redis_when_redis_is_down(client, settings) -> None:
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["sources"]["redis"] == "down"
    assert response.json()["sources"]["channel_layer"] == "down"
    redis = response.json()["checks"]["redis"]
    assert redis["state"] == "down"
    assert redis["last_error"] == "unreachable (ConnectionError)"  # no address in the answer
    assert redis["last_error_at"]
    assert 0 <= redis["latency_ms"] < 1000
    assert response.json()["checks"]["mongo"]["state"] == "ok"


def test_metrics_exposes_the_watcher_counters(client, redis_client) -> None:
    stats.incr("events_processed", 7)
    stats.incr("failovers")
    stats.set_lag(1.5)
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    lines = response.content.decode().splitlines()
    assert "dash_redis_up 1.0" in lines
    assert "dash_watcher_events_processed_total 7.0" in lines
    assert "dash_watcher_failovers_total 1.0" in lines
    assert "dash_watcher_events_dead_lettered_total 0.0" in lines
    assert "dash_watcher_lag_seconds 1.5" in lines
    assert "# TYPE dash_watcher_events_processed_total counter" in lines


def test_metrics_says_when_each_tier_was_last_published(client, redis_client) -> None:
    before = time.time()
    publish.publish_tier(Scope("ER"), "critical", {"computed_at": "2030-01-01T00:00:00.000Z"})
    lines = client.get("/metrics").content.decode().splitlines()
    assert "# TYPE dash_tier_last_published_timestamp_seconds gauge" in lines
    [sample] = [line for line in lines if line.startswith("dash_tier_last_published_timestamp_seconds{")]
    name, value = sample.split()
    assert name == 'dash_tier_last_published_timestamp_seconds{tier="critical"}'
    assert before - 0.01 <= float(value) <= time.time()


@pytest.mark.parametrize("address", ["10.0.0.5", "192.168.1.20"])
def test_metrics_refuses_addresses_outside_the_allow_list(client, address: str) -> None:
    response = client.get("/metrics", REMOTE_ADDR=address)
    assert response.status_code == 403


def test_metrics_answers_in_time_while_redis_hangs(client, monkeypatch) -> None:
    from dashboard.web import prometheus

    monkeypatch.setattr(prometheus, "REDIS_BUDGET_S", 0.2)
    monkeypatch.setattr(stats, "report", lambda: time.sleep(2))
    started = time.monotonic()
    response = client.get("/metrics")
    assert time.monotonic() - started < 1.5
    lines = response.content.decode().splitlines()
    assert "dash_redis_up 0.0" in lines
    assert "# TYPE dash_ws_connections gauge" in lines  # the processes' own figures still come

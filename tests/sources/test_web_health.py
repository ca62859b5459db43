"""Web processes' health reports in a real Redis: written with a short TTL, read back by server,
stale once older than STALE_AFTER_S, unreadable ones left out."""

from __future__ import annotations

import time

from dashboard.sources import redis_store, web_health


def health(server: str, reported_at: float, connections: int = 3) -> web_health.WebHealth:
    return web_health.WebHealth(
        server=server,
        pid=4242,
        resident_bytes=150_000_000,
        cpu_percent=12.5,
        connections=connections,
        reported_at=reported_at,
    )


def test_reports_are_read_back_by_server_and_kept_a_short_while(redis_client) -> None:
    now = time.time()
    web_health.report(health("host-b:8001", now, connections=7))
    web_health.report(health("host-a:8000", now - 1))
    found = web_health.reports()
    assert [h.server for h in found] == ["host-a:8000", "host-b:8001"]
    assert found[1] == health("host-b:8001", now, connections=7)
    ttl = redis_client.ttl(redis_store.web_health_key("host-a:8000"))
    assert 0 < ttl <= web_health.KEEP_S


def test_a_report_older_than_the_stale_limit_is_stale(redis_client) -> None:
    now = 1_000_000.0
    fresh = health("fresh:1", now - web_health.STALE_AFTER_S + 1)
    old = health("old:1", now - web_health.STALE_AFTER_S - 1)
    answer = web_health.as_json([fresh, old], now=now)
    assert [(p["server"], p["stale"]) for p in answer["processes"]] == [("fresh:1", False), ("old:1", True)]
    assert answer["processes"][1]["age_s"] == web_health.STALE_AFTER_S + 1
    assert answer["stale_after_s"] == web_health.STALE_AFTER_S


def test_an_unreadable_report_is_left_out(redis_client) -> None:
    web_health.report(health("good:1", time.time()))
    redis_client.set(redis_store.web_health_key("bad:1"), '{"server": "bad:1", "pid": "x"}')
    redis_client.set(redis_store.web_health_key("worse:1"), "not json")
    assert [h.server for h in web_health.reports()] == ["good:1"]

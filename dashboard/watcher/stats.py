"""The watcher's counters, kept in Redis so /metrics and /readyz in the web process can read them."""

from __future__ import annotations

from redis.exceptions import RedisError

from dashboard.sources import redis_store, service_clock

STATS_KEY = redis_store.WATCHER_STATS_KEY
COUNTERS = (
    "events_processed",
    "events_dead_lettered",
    "failovers",
    "stream_errors",
    "history_lost",
    "drift_found",
    "drift_repairs",
    "resyncs",
    "stream_restarts",
    "documents_skipped",
    "publications_dropped",
)


def incr(counter: str, amount: int = 1) -> None:
    assert counter in COUNTERS
    redis_store.client().hincrby(STATS_KEY, counter, amount)


def set_lag(lag_s: float) -> None:
    redis_store.client().hset(
        STATS_KEY, mapping={"lag_s": f"{max(0.0, lag_s):.3f}", "reported_at": f"{service_clock.time_s():.3f}"}
    )


def set_stream_down(down: bool) -> None:
    redis_store.client().hset(STATS_KEY, "stream_down", "1" if down else "0")


def read() -> dict[str, float]:
    raw: dict[str, str] = redis_store.client().hgetall(STATS_KEY)  # type: ignore[assignment]
    return {name: float(value) for name, value in raw.items()}


def report() -> dict[str, float] | None:
    """The watcher's numbers with `report_age_s` (seconds since its last report), or None while
    Redis is down: what `/readyz` and `/metrics` show of the watcher."""
    try:
        numbers = read()
    except RedisError:
        return None
    if "reported_at" in numbers:
        numbers["report_age_s"] = max(0.0, service_clock.time_s() - numbers.pop("reported_at"))
    return numbers

"""The Prometheus text exposition of the service's own numbers (contract §5, `GET /metrics`).

Plain text written by hand: a handful of gauges and counters read from Redis, where the
watcher keeps them, needs no client library.
"""

from __future__ import annotations

from redis.exceptions import RedisError

from dashboard.realtime import socket_stats, ticker
from dashboard.sources import login_counts, skipped
from dashboard.stream import publish
from dashboard.watcher import stats

# (name in stats, metric name, type, help)
WATCHER_METRICS = (
    ("lag_s", "dash_watcher_lag_seconds", "gauge", "Now minus the time of the last processed change event."),
    ("events_processed", "dash_watcher_events_processed_total", "counter", "Change events processed."),
    (
        "events_dead_lettered",
        "dash_watcher_events_dead_lettered_total",
        "counter",
        "Change events dead-lettered.",
    ),
    ("failovers", "dash_watcher_failovers_total", "counter", "Times a standby watcher took the lease over."),
    (
        "stream_errors",
        "dash_watcher_stream_errors_total",
        "counter",
        "Change stream errors retried with backoff.",
    ),
    (
        "history_lost",
        "dash_watcher_history_lost_total",
        "counter",
        "Resyncs after change stream history was lost.",
    ),
    (
        "drift_found",
        "dash_watcher_drift_found_total",
        "counter",
        "Maintained critical counters found different from a recomputation from MongoDB.",
    ),
    (
        "drift_repairs",
        "dash_watcher_drift_repairs_total",
        "counter",
        "Rebuilds of the maintained counters after drift was found.",
    ),
    (
        "resyncs",
        "dash_watcher_resyncs_total",
        "counter",
        "Streams restarted from now with a new epoch because their resume point could not be used.",
    ),
    (
        "stream_restarts",
        "dash_watcher_stream_restarts_total",
        "counter",
        "Change stream threads found dead and restarted.",
    ),
    (
        "documents_skipped",
        "dash_watcher_documents_skipped_total",
        "counter",
        "Documents a rebuild of the maintained counters could not use.",
    ),
    (
        "publications_dropped",
        "dash_watcher_publications_dropped_total",
        "counter",
        "Batches of departments not published after repeated deterministic failures.",
    ),
    ("stream_down", "dash_watcher_stream_down", "gauge", "1 while a change stream is failing, else 0."),
)


def _sample(name: str, kind: str, help_text: str, value: float) -> list[str]:
    return [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", f"{name} {value:g}"]


def web_process_lines() -> list[str]:
    """This web process's own delivery numbers (each daphne process reports its own)."""
    delivery = socket_stats.read()
    return [
        *_sample(
            "dash_ws_connections", "gauge", "Open WebSocket connections of this process.", ticker.count()
        ),
        *_sample(
            "dash_ws_coalesced_total",
            "counter",
            "Updates replaced by a newer one while their client was not reading.",
            delivery["coalesced"],
        ),
        *_sample(
            "dash_ws_closed_slow_total",
            "counter",
            "Connections closed with 1013 because their client did not keep up.",
            delivery["closed_slow"],
        ),
    ]


def skipped_lines() -> list[str]:
    """Documents skipped as invalid, by collection and field (none while Redis is down)."""
    try:
        found = skipped.counts()
    except RedisError:
        return []
    name = "dash_documents_skipped_total"
    return [
        f"# HELP {name} Documents left out because a field is outside what the contract allows.",
        f"# TYPE {name} counter",
        *(f'{name}{{collection="{c}",field="{f}"}} {n}' for (c, f), n in sorted(found.items())),
    ]


def login_lines() -> list[str]:
    """Failed logins and lockouts of every web process (none while Redis is down)."""
    try:
        found = login_counts.counts()
    except RedisError:
        return []
    return [
        *_sample(
            "dash_login_failures_total",
            "counter",
            "Failed logins on every way in (API token, login form, admin), refused ones included.",
            found["failed"],
        ),
        *_sample(
            "dash_login_lockouts_total",
            "counter",
            "Login attempts that reached the failure limit or were refused while locked out.",
            found["locked_out"],
        ),
    ]


def tier_lines() -> list[str]:
    """When each tier was last published (none while Redis is down): a stalled producer shows."""
    try:
        published = publish.tiers_last_published()
    except RedisError:
        return []
    name = "dash_tier_last_published_timestamp_seconds"
    return [
        f"# HELP {name} Unix time of the last update of each tier published for any scope.",
        f"# TYPE {name} gauge",
        *(f'{name}{{tier="{tier}"}} {at:.3f}' for tier, at in sorted(published.items())),
    ]


def render() -> str:
    numbers = stats.report()
    lines = _sample(
        "dash_redis_up", "gauge", "1 when Redis answered this scrape.", 0 if numbers is None else 1
    )
    lines += web_process_lines()
    if numbers is not None:
        for key, name, kind, help_text in WATCHER_METRICS:
            lines += _sample(name, kind, help_text, numbers.get(key, 0.0))
        if "report_age_s" in numbers:
            lines += _sample(
                "dash_watcher_report_age_seconds",
                "gauge",
                "Seconds since the active watcher last reported; grows when no watcher runs.",
                numbers["report_age_s"],
            )
    lines += skipped_lines()
    lines += login_lines()
    lines += tier_lines()
    return "\n".join(lines) + "\n"

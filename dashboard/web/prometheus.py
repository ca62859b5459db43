"""`GET /metrics` (contract §5): every process's instruments and the figures kept in Redis.

Per-process figures (connections, delivery, handshakes, tier computations, Celery tasks,
source errors, memory and CPU) are prometheus_client instruments (dashboard/telemetry/),
summed over every process in multiprocess mode. Figures that already live in Redis for the
whole service (the watcher's counters, skipped documents, login counts, when each tier was
last published) are read from Redis at scrape time by `RedisFigures`; each web process
reports the same values, so dashboards take their max.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from dashboard.sources import bounded, login_counts, skipped
from dashboard.stream import publish
from dashboard.telemetry import exposition
from dashboard.watcher import stats

# (name in stats, metric name, type, help); counters are named without `_total`, which the
# exposition adds.
WATCHER_METRICS = (
    ("lag_s", "dash_watcher_lag_seconds", "gauge", "Now minus the time of the last processed change event."),
    ("events_processed", "dash_watcher_events_processed", "counter", "Change events processed."),
    ("events_dead_lettered", "dash_watcher_events_dead_lettered", "counter", "Change events dead-lettered."),
    ("failovers", "dash_watcher_failovers", "counter", "Times a standby watcher took the lease over."),
    ("stream_errors", "dash_watcher_stream_errors", "counter", "Change stream errors retried with backoff."),
    ("history_lost", "dash_watcher_history_lost", "counter", "Resyncs after change stream history was lost."),
    (
        "drift_found",
        "dash_watcher_drift_found",
        "counter",
        "Maintained critical counters found different from a recomputation from MongoDB.",
    ),
    (
        "drift_repairs",
        "dash_watcher_drift_repairs",
        "counter",
        "Rebuilds of the maintained counters after drift was found.",
    ),
    (
        "resyncs",
        "dash_watcher_resyncs",
        "counter",
        "Streams restarted from now with a new epoch because their resume point could not be used.",
    ),
    (
        "stream_restarts",
        "dash_watcher_stream_restarts",
        "counter",
        "Change stream threads found dead and restarted.",
    ),
    (
        "documents_skipped",
        "dash_watcher_documents_skipped",
        "counter",
        "Documents a rebuild of the maintained counters could not use.",
    ),
    (
        "publications_dropped",
        "dash_watcher_publications_dropped",
        "counter",
        "Batches of departments not published after repeated deterministic failures.",
    ),
    ("stream_down", "dash_watcher_stream_down", "gauge", "1 while a change stream is failing, else 0."),
)


def _family(name: str, kind: str, help_text: str, value: float) -> Metric:
    if kind == "counter":
        return CounterMetricFamily(name, help_text, value=value)
    return GaugeMetricFamily(name, help_text, value=value)


# Seconds all the Redis reads of one scrape may take together, well inside Prometheus's
# default scrape time-out of 10 s: a hung Redis makes dash_redis_up 0, not a failed scrape
# (which would read as the web process being down).
REDIS_BUDGET_S = 2.0


class RedisFigures(Collector):
    """The service-wide figures kept in Redis, read at each scrape, at once and within
    REDIS_BUDGET_S (none while Redis is down or hung)."""

    def collect(self) -> Iterator[Metric]:
        read = bounded.run_all(
            {"watcher": stats.report, "skipped": _skipped, "logins": _logins, "tiers": _tiers},
            REDIS_BUDGET_S,
        )
        numbers = read["watcher"].value
        if not isinstance(numbers, dict):
            numbers = None
        yield GaugeMetricFamily(
            "dash_redis_up", "1 when Redis answered this scrape.", value=0 if numbers is None else 1
        )
        if numbers is None:
            return
        for key, name, kind, help_text in WATCHER_METRICS:
            yield _family(name, kind, help_text, numbers.get(key, 0.0))
        if "report_age_s" in numbers:
            yield GaugeMetricFamily(
                "dash_watcher_report_age_seconds",
                "Seconds since the active watcher last reported; grows when no watcher runs.",
                value=numbers["report_age_s"],
            )
        for name in ("skipped", "logins", "tiers"):
            families = read[name].value
            if isinstance(families, list):
                yield from families


def _skipped() -> list[Metric]:
    family = CounterMetricFamily(
        "dash_documents_skipped",
        "Documents left out because a field is outside what the contract allows.",
        labels=["collection", "field"],
    )
    for (collection, field), count in sorted(skipped.counts().items()):
        family.add_metric([collection, field], count)
    return [family]


def _logins() -> list[Metric]:
    found = login_counts.counts()
    return [
        CounterMetricFamily(
            "dash_login_failures",
            "Failed logins on every way in (API token, login form, admin), refused ones included.",
            value=found["failed"],
        ),
        CounterMetricFamily(
            "dash_login_lockouts",
            "Login attempts that reached the failure limit or were refused while locked out.",
            value=found["locked_out"],
        ),
    ]


def _tiers() -> list[Metric]:
    family = GaugeMetricFamily(
        "dash_tier_last_published_timestamp_seconds",
        "Unix time of the last update of each tier published for any scope.",
        labels=["tier"],
    )
    for tier, at in sorted(publish.tiers_last_published().items()):
        family.add_metric([tier], at)
    return [family]


def render() -> bytes:
    return exposition.render([RedisFigures()])

"""Each web process's memory, CPU and open connections, reported to Redis for the admins'
system-health tile (docs/OPERATIONS.md, "System health on the page").

A web process writes its report every REPORT_EVERY_S under its own key, kept KEEP_S: a process
that stops reporting shows as stale once its report is older than STALE_AFTER_S, and leaves
the tile when the key expires.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from dashboard.sources import outages, redis_store, service_clock

REPORT_EVERY_S = 5.0
STALE_AFTER_S = 15.0
KEEP_S = 60


@dataclass(frozen=True)
class WebHealth:
    """One web process's report: `server` its `hostname:port`; `resident_bytes` its RSS;
    `cpu_percent` its CPU use since its previous report (100 = one core); `connections` its
    open WebSockets; `reported_at` Unix time."""

    server: str
    pid: int
    resident_bytes: int
    cpu_percent: float
    connections: int
    reported_at: float

    def age_s(self, now: float) -> float:
        return max(0.0, now - self.reported_at)

    def is_stale(self, now: float) -> bool:
        return self.age_s(now) > STALE_AFTER_S


def report(health: WebHealth) -> None:
    """Store `health` as its process's latest report; raises what redis-py raises."""
    redis_store.client().set(redis_store.web_health_key(health.server), json.dumps(asdict(health)), ex=KEEP_S)


def _parsed(text: str | bytes | None) -> WebHealth | None:
    if text is None:
        return None
    try:
        fields = json.loads(text)
        return WebHealth(
            server=str(fields["server"]),
            pid=int(fields["pid"]),
            resident_bytes=int(fields["resident_bytes"]),
            cpu_percent=float(fields["cpu_percent"]),
            connections=int(fields["connections"]),
            reported_at=float(fields["reported_at"]),
        )
    except (ValueError, KeyError, TypeError):
        return None


def reports() -> list[WebHealth]:
    """Every web process's report still kept, by server (a report that does not parse is left
    out); raises `Unavailable` while Redis does not answer."""
    with outages.unavailable_on_outage():
        client = redis_store.client()
        keys = sorted(client.scan_iter(redis_store.WEB_HEALTH_PATTERN, count=100))
        texts = client.mget(keys) if keys else []
    found = (_parsed(text) for text in texts)
    return [health for health in found if health is not None]


def as_json(found: list[WebHealth], now: float | None = None) -> dict[str, object]:
    """The tile's data: each process's report with its age and whether it is stale."""
    at = service_clock.time_s() if now is None else now
    return {
        "stale_after_s": STALE_AFTER_S,
        "processes": [
            {**asdict(health), "age_s": round(health.age_s(at), 1), "stale": health.is_stale(at)}
            for health in found
        ],
    }

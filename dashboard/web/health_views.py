"""Liveness and readiness for ops (contract §5); no authentication, no secrets in answers."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from dashboard.sources import bounded, health
from dashboard.telemetry import exposition
from dashboard.watcher import stats
from dashboard.web import prometheus


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def readyz(request: HttpRequest) -> JsonResponse:
    """200 or 503 within about health.CHECK_BUDGET_S, whether or not a dependency answers.

    `sources` holds each one's state; `checks` adds its probe's latency (ms) and the last error
    this process saw (with when); `watcher` its lag, read from Redis within the same budget.
    """
    outcomes = bounded.run_all({**health.probes(), "watcher": stats.report}, health.CHECK_BUDGET_S)
    checks = health.details(outcomes)
    watcher_report = outcomes["watcher"].value
    # The channel layer lives on REDIS_URL (pub/sub or lists): it is up exactly when Redis is.
    checks["channel_layer"] = checks["redis"]
    states = {name: check.state for name, check in checks.items()}
    ready = health.all_ok(states)
    body: dict[str, Any] = {
        "ready": ready,
        "sources": states,
        "checks": {name: check.as_dict() for name, check in checks.items()},
        "watcher": _watcher_state(watcher_report if isinstance(watcher_report, dict) else None),
    }
    return JsonResponse(body, status=200 if ready else 503)


def _watcher_state(numbers: dict[str, float] | None) -> dict[str, float | None]:
    """The watcher's lag for ops; a lagging watcher does not make this web process unready."""
    found = numbers or {}
    return {"lag_s": found.get("lag_s"), "report_age_s": found.get("report_age_s")}


def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text, answered only to METRICS_ALLOWED_IPS; 403 `forbidden` to anyone else.

    REMOTE_ADDR is the direct peer, or the client a trusted proxy (TRUSTED_PROXIES) forwarded
    for (hospital_dash/asgi.py); an X-Forwarded-For from any other peer changes nothing.
    """
    if request.META.get("REMOTE_ADDR") not in settings.METRICS_ALLOWED_IPS:
        return HttpResponse("forbidden\n", status=403, content_type="text/plain")
    return HttpResponse(prometheus.render(), content_type=exposition.CONTENT_TYPE)

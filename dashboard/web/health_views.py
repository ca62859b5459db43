"""Liveness and readiness for ops (contract §5); no authentication, no secrets in answers."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from dashboard.sources import health
from dashboard.telemetry import exposition
from dashboard.watcher import stats
from dashboard.web import prometheus


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def readyz(request: HttpRequest) -> JsonResponse:
    states = health.check()
    # The channel layer lives on REDIS_URL (pub/sub or lists): it is up exactly when Redis is.
    states["channel_layer"] = states["redis"]
    ready = health.all_ok(states)
    body = {"ready": ready, "sources": states, "watcher": _watcher_state()}
    return JsonResponse(body, status=200 if ready else 503)


def _watcher_state() -> dict[str, float | None]:
    """The watcher's lag for ops; a lagging watcher does not make this web process unready."""
    numbers = stats.report() or {}
    return {"lag_s": numbers.get("lag_s"), "report_age_s": numbers.get("report_age_s")}


def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text, answered only to METRICS_ALLOWED_IPS; 403 `forbidden` to anyone else.

    REMOTE_ADDR is the direct peer, or the client a trusted proxy (TRUSTED_PROXIES) forwarded
    for (hospital_dash/asgi.py); an X-Forwarded-For from any other peer changes nothing.
    """
    if request.META.get("REMOTE_ADDR") not in settings.METRICS_ALLOWED_IPS:
        return HttpResponse("forbidden\n", status=403, content_type="text/plain")
    return HttpResponse(prometheus.render(), content_type=exposition.CONTENT_TYPE)

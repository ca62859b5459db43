"""Liveness and readiness for ops (contract §5); no authentication, no secrets in answers."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, JsonResponse

from dashboard.preflight import SourceUnavailable, check_mongo, check_redis

READY_CHECK_TIMEOUT_S = 1.0


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def readyz(request: HttpRequest) -> JsonResponse:
    states = {}
    for name, check, url in (
        ("redis", check_redis, settings.REDIS_URL),
        ("mongo", check_mongo, settings.MONGO_URL),
    ):
        try:
            check(url, READY_CHECK_TIMEOUT_S)
            states[name] = "ok"
        except SourceUnavailable:
            states[name] = "down"
    # The channel layer is Redis pub/sub on REDIS_URL: it is up exactly when Redis is.
    states["channel_layer"] = states["redis"]
    ready = all(state == "ok" for state in states.values())
    return JsonResponse({"ready": ready, "sources": states}, status=200 if ready else 503)

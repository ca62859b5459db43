"""`GET /system-health/`: the data of the admins' system-health tile, for admins only.

The permission is checked here, on the server: any other user, or none, gets 403 and no figure.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

from dashboard.access import permissions
from dashboard.protocol.errors import ErrorCode, Unavailable
from dashboard.sources import web_health


@never_cache
def system_health(request: HttpRequest) -> JsonResponse:
    """200 with `{stale_after_s, processes: [{server, pid, resident_bytes, cpu_percent,
    connections, reported_at, age_s, stale}]}` for an admin's session; 403 `{code, message}`
    for anyone else; 503 `{code: "unavailable", message}` while Redis does not answer. Never
    cached (`Cache-Control: private, no-store, ...`): a browser or proxy keeps no admin's figure."""
    access = permissions.load_access(request.user)
    if access is None or not access.sees_system_health:
        return JsonResponse({"code": ErrorCode.FORBIDDEN, "message": "for admins only"}, status=403)
    try:
        found = web_health.reports()
    except Unavailable as exc:
        return JsonResponse({"code": exc.code, "message": exc.message}, status=exc.http_status)
    return JsonResponse(web_health.as_json(found))

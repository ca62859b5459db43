"""The server-rendered dashboard page (`/`): thin, the content comes from `page_presenter`."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from dashboard.access import audit, permissions
from dashboard.models import AccessLog
from dashboard.protocol.errors import Unavailable
from dashboard.web import page_version as versions
from dashboard.web.page_presenter import page_context


@login_required
def dashboard_page(request: HttpRequest) -> HttpResponse:
    access = permissions.load_access(request.user)
    if access is None:
        return render(request, "dashboard/no_access.html", status=403)
    try:
        context = page_context(access, request.GET.get("scope"), wall=request.GET.get("wall") == "1")
    except Unavailable:
        return render(request, "dashboard/unavailable.html", status=503)
    # Admins only; GET /system-health/ checks the role again (dashboard/web/system_health_views.py).
    context["shows_system_health"] = access.sees_system_health
    audit.record_request(request, access, AccessLog.Action.API_READ, scope=context["scope"], detail="page")
    return render(request, "dashboard/page.html", context)


@never_cache
@login_required
def page_version(request: HttpRequest) -> JsonResponse:
    """`{"version": "<16 hex>"}`: what an open page compares with the one it was rendered with."""
    return JsonResponse({"version": versions.current()})

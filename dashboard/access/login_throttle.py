"""Failed-login throttling with django-axes: the address it counts and the answer to a lockout.

axes counts failed logins per username and per client address separately
(`AXES_LOCKOUT_PARAMETERS`); at `LOGIN_FAILURE_LIMIT` failures within `LOGIN_COOLOFF_S` it
refuses every further attempt of that username, or from that address, before any password is
checked. Each refused attempt counts as a failure too and so starts the cool-off again: the
wait it answers with is the whole cool-off.
"""

from __future__ import annotations

import math

from axes.helpers import get_cool_off
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse


def client_address(request: HttpRequest) -> str | None:
    """`AXES_CLIENT_IP_CALLABLE`: REMOTE_ADDR, the direct peer or the client a proxy in
    TRUSTED_PROXIES forwarded for (hospital_dash/asgi.py); never a header a client chose."""
    address = request.META.get("REMOTE_ADDR")
    return str(address) if address else None


def cool_off_s(request: HttpRequest) -> int:
    """Whole seconds a locked-out client waits before its next attempt counts (LOGIN_COOLOFF_S)."""
    cool_off = get_cool_off(request)
    return math.ceil(cool_off.total_seconds()) if cool_off is not None else 0


def lockout_response(request: HttpRequest, *_axes_arguments: object) -> HttpResponse:
    """`AXES_LOCKOUT_CALLABLE`: the login form's and admin's answer, 429 with `Retry-After` (s).

    axes passes (request, response, credentials) from synchronous code but (request,
    credentials) from its asynchronous middleware, so only `request` is used.
    """
    wait_s = cool_off_s(request)
    response = TemplateResponse(
        request, "registration/locked_out.html", {"minutes": math.ceil(wait_s / 60)}, status=429
    )
    response["Retry-After"] = str(wait_s)
    return response.render()

"""Middleware of the HTTP edge.

`RequestContextMiddleware` gives each request an id for its log lines (and the user's id once
known). `ContentSecurityPolicyMiddleware` puts a Content-Security-Policy on every response:
scripts and styles from this origin only. Django 5.2 has no CSP support of its own. The
dashboard page and the login page carry no inline script or style; Django admin's templates
use inline style attributes, so /admin/ alone allows them.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from dashboard.sources import log_context

_COMMON = (
    "default-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
POLICY = f"{_COMMON}; style-src 'self'"
ADMIN_POLICY = f"{_COMMON}; style-src 'self' 'unsafe-inline'"
# A request id from the proxy is kept only when it is short and plain: it goes into every line.
REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


class RequestContextMiddleware:
    """Binds the request's id (the proxy's X-Request-ID when safe, a new one otherwise) for its
    log lines and returns it in X-Request-ID; binds the user's id once authentication is done.

    Both servers run each request in a task of its own, so the ids never outlive it.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        offered = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = offered if _SAFE_REQUEST_ID.fullmatch(offered) else uuid.uuid4().hex
        log_context.bind(request_id=request_id)
        response = self.get_response(request)
        # Django's line for a 4xx or 5xx response is written after this: it gets the user too.
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            log_context.bind(user_id=user.pk)
        response[REQUEST_ID_HEADER] = request_id
        return response


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        policy = ADMIN_POLICY if request.path.startswith("/admin/") else POLICY
        response.setdefault("Content-Security-Policy", policy)
        return response

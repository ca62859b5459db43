"""Failed logins and lockouts, on every way in: counted for /metrics and written to the access log.

Django sends `user_login_failed` for every failed attempt (wrong credentials, an inactive
account, or an attempt axes refused); axes sends `user_locked_out` for the attempt that reaches
the limit and for each one it refuses afterwards. Each becomes one access-log entry
(`login_failed`, `locked_out`) with the username tried, the client address and the path, and
one count (`dash_login_failures_total`, `dash_login_lockouts_total`). Django has already
replaced the password in `credentials`; nothing else of the request is kept.
"""

from __future__ import annotations

from typing import Any

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_login_failed
from django.http import HttpRequest

from dashboard.access import audit
from dashboard.access.login_throttle import client_address
from dashboard.models import AccessLog
from dashboard.sources import login_counts


def _record(action: str, username: str, request: HttpRequest | None) -> None:
    audit.record_now(
        action,
        user_id=None,
        username=username,
        client_address=(client_address(request) or "") if request is not None else "",
        detail=request.path if request is not None else "",
    )


def _login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **_: Any
) -> None:
    login_counts.count("failed")
    _record(AccessLog.Action.LOGIN_FAILED, str(credentials.get("username") or ""), request)


def _locked_out(sender: Any, request: HttpRequest, username: str | None = None, **_: Any) -> None:
    login_counts.count("locked_out")
    _record(AccessLog.Action.LOCKED_OUT, username or "", request)


def connect() -> None:
    user_login_failed.connect(_login_failed, dispatch_uid="dash-login-failed")
    user_locked_out.connect(_locked_out, dispatch_uid="dash-locked-out")

"""HTTP API (contract §5): thin views over the services; permissions from `dashboard.access.permissions`."""

from __future__ import annotations

from typing import Any

from pymongo.errors import PyMongoError
from rest_framework import status
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dashboard.access import audit, permissions, tickets
from dashboard.access.permissions import Access
from dashboard.alerts import acknowledgement, listing
from dashboard.metrics.snapshots import SnapshotUnavailable, snapshot_message
from dashboard.models import AccessLog
from dashboard.protocol.scopes import InvalidScope, Scope, parse_scope


class HasDashboardAccess(BasePermission):
    """Authenticated users with a dashboard role; the loaded Access is kept on the request."""

    def has_permission(self, request: Request, view: Any) -> bool:
        access = permissions.load_access(request.user)
        if access is None:
            return False
        request.dashboard_access = access  # type: ignore[attr-defined]
        return True


def _access(request: Request) -> Access:
    return request.dashboard_access  # type: ignore[attr-defined]


def _error(code: str, message: str, http_status: int) -> Response:
    return Response({"code": code, "message": message}, status=http_status)


class DashboardAPIView(APIView):
    permission_classes = [HasDashboardAccess]


class WsTicketView(DashboardAPIView):
    def post(self, request: Request) -> Response:
        ticket = tickets.issue(_access(request).user_id)
        return Response({"ticket": ticket, "expires_in": tickets.TICKET_TTL_S})


class ScopeError(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


def _readable_scope(request: Request) -> Scope:
    """The `scope` query parameter, parsed and checked against the user's access."""
    access = _access(request)
    try:
        scope = parse_scope(request.query_params.get("scope", ""))
    except InvalidScope as exc:
        raise ScopeError(_error("bad_request", str(exc), status.HTTP_400_BAD_REQUEST)) from None
    if not permissions.scope_exists(scope):
        raise ScopeError(_error("unknown_scope", f"no such scope: {scope}", status.HTTP_404_NOT_FOUND))
    if not access.may_subscribe(scope):
        raise ScopeError(_error("forbidden", f"you may not read {scope}", status.HTTP_403_FORBIDDEN))
    return scope


def _audit_read(request: Request, scope: Scope, what: str) -> None:
    audit.record_request(request, _access(request), AccessLog.Action.API_READ, scope=scope.name, detail=what)


class SnapshotView(DashboardAPIView):
    def get(self, request: Request) -> Response:
        try:
            scope = _readable_scope(request)
        except ScopeError as exc:
            return exc.response
        _audit_read(request, scope, "snapshot")
        try:
            return Response(snapshot_message(scope, with_revenue=_access(request).sees_revenue))
        except SnapshotUnavailable as exc:
            return _error("unavailable", str(exc), status.HTTP_503_SERVICE_UNAVAILABLE)


class AlertListView(DashboardAPIView):
    def get(self, request: Request) -> Response:
        try:
            scope = _readable_scope(request)
        except ScopeError as exc:
            return exc.response
        state = request.query_params.get("state", "open")
        if state not in listing.ALERT_STATES:
            return _error("bad_request", "state must be open or all", status.HTTP_400_BAD_REQUEST)
        _audit_read(request, scope, f"alerts state={state}")
        try:
            listed = listing.list_alerts(_access(request), scope, state)
        except PyMongoError:
            return _error(
                "unavailable", "the hospital database is not answering", status.HTTP_503_SERVICE_UNAVAILABLE
            )
        return Response({"scope": scope.name, "alerts": listed})


class AlertAckView(DashboardAPIView):
    def post(self, request: Request, alert_id: str) -> Response:
        try:
            ack = acknowledgement.acknowledge(_access(request), alert_id)
        except acknowledgement.AlertNotFound:
            return _error("not_found", "no such alert", status.HTTP_404_NOT_FOUND)
        except acknowledgement.AlertForbidden:
            return _error("forbidden", "you may not acknowledge this alert", status.HTTP_403_FORBIDDEN)
        audit.record_request(request, _access(request), AccessLog.Action.ACKNOWLEDGE, detail=ack.alert_id)
        return Response({"ok": True, "alert_id": ack.alert_id, "by": ack.by, "at": ack.at})

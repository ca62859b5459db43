"""HTTP API (contract §5): thin views over the services.

Each view checks access through `dashboard.access.permissions`, calls one service and returns
its result. Errors are `DashboardError`s raised by the services and rendered once, as JSON,
by `dashboard.web.errors.exception_handler`.
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dashboard.access import audit, permissions, tickets
from dashboard.access.permissions import Access
from dashboard.alerts import acknowledgement, listing
from dashboard.metrics.snapshots import snapshot_message
from dashboard.models import AccessLog
from dashboard.protocol.errors import Unavailable
from dashboard.protocol.scopes import Scope
from dashboard.sources import log_context


class HasDashboardAccess(BasePermission):
    """Authenticated users with a dashboard role; the loaded Access is kept on the request."""

    def has_permission(self, request: Request, view: Any) -> bool:
        access = permissions.load_access(request.user)
        if access is None:
            return False
        request.dashboard_access = access  # type: ignore[attr-defined]
        log_context.bind(user_id=access.user_id)  # the view's log lines name the user
        return True


def _access(request: Request) -> Access:
    return request.dashboard_access  # type: ignore[attr-defined]


class DashboardAPIView(APIView):
    permission_classes = [HasDashboardAccess]


class WsTicketView(DashboardAPIView):
    def post(self, request: Request) -> Response:
        ticket = tickets.issue(_access(request).user_id)
        return Response({"ticket": ticket, "expires_in": tickets.TICKET_TTL_S})


def _readable_scope(request: Request, what: str) -> Scope:
    """The `scope` query parameter the user may read; the read is written to the access log."""
    access = _access(request)
    scope = permissions.access_scope(access, request.query_params.get("scope", ""))
    audit.record_request(request, access, AccessLog.Action.API_READ, scope=scope.name, detail=what)
    return scope


class SnapshotView(DashboardAPIView):
    def get(self, request: Request) -> Response:
        scope = _readable_scope(request, "snapshot")
        return Response(snapshot_message(scope, with_revenue=_access(request).sees_revenue))


class AlertListView(DashboardAPIView):
    def get(self, request: Request) -> Response:
        state = listing.alert_state(request.query_params.get("state", "open"))
        scope = _readable_scope(request, f"alerts state={state}")
        return Response({"scope": scope.name, "alerts": listing.list_alerts(_access(request), scope, state)})


class AlertAckView(DashboardAPIView):
    def post(self, request: Request, alert_id: str) -> Response:
        try:
            ack = acknowledgement.acknowledge(_access(request), alert_id)
        except Unavailable:
            # The contract's answer (§8): nothing was recorded, the caller may try again.
            return Response({"ok": False, "reason": "unavailable"}, status=503)
        audit.record_request(request, _access(request), AccessLog.Action.ACKNOWLEDGE, detail=ack.alert_id)
        return Response({"ok": True, "alert_id": ack.alert_id, "by": ack.by, "at": ack.at})

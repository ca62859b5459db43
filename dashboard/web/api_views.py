"""HTTP API (contract §5): thin views over the services.

Each view checks access through `dashboard.access.permissions`, calls one service and returns
its result. Errors are `DashboardError`s raised by the services and rendered once, as JSON,
by `dashboard.web.errors.exception_handler`. Each view's `extend_schema` states its answers for
the OpenAPI schema (GET /api/schema/), from the descriptions in `dashboard.web.api_schema`.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
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
from dashboard.web import api_schema as doc

# Answers every dashboard endpoint may give before its own work starts.
_GUARDED = {401: doc.NOT_AUTHENTICATED}


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
    @extend_schema(
        operation_id="ws_ticket",
        summary="A single-use ticket for one WebSocket handshake (?ticket=), valid 30 s",
        tags=["websocket"],
        request=None,
        responses={
            200: doc.TicketSerializer,
            **_GUARDED,
            403: OpenApiResponse(
                doc.DetailSerializer, "No dashboard access, or no CSRF token with a session."
            ),
            503: doc.coded("`unavailable`: Redis does not answer."),
        },
    )
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
    @extend_schema(
        operation_id="snapshot",
        summary="The scope's snapshot: the same object as the WebSocket `snapshot` message",
        tags=["dashboard"],
        parameters=[doc.SCOPE_PARAMETER],
        responses={
            200: OpenApiResponse(doc.SNAPSHOT_SCHEMA, "Revenue included for admins only."),
            400: doc.coded("`bad_request`: a malformed scope."),
            **_GUARDED,
            403: doc.refused_or_coded("No dashboard access, or `forbidden`: not the caller's scope."),
            404: doc.coded("`unknown_scope`: no active department of that code."),
            503: doc.coded("`unavailable`: neither Redis nor MongoDB can give the snapshot."),
        },
    )
    def get(self, request: Request) -> Response:
        scope = _readable_scope(request, "snapshot")
        return Response(snapshot_message(scope, with_revenue=_access(request).sees_revenue))


class AlertListView(DashboardAPIView):
    @extend_schema(
        operation_id="alerts",
        summary="The scope's alerts the caller may see, newest first",
        tags=["alerts"],
        parameters=[
            doc.SCOPE_PARAMETER,
            OpenApiParameter("state", str, enum=list(listing.ALERT_STATES), default="open"),
        ],
        responses={
            200: doc.AlertListSerializer,
            400: doc.coded("`bad_request`: a malformed scope or state."),
            **_GUARDED,
            403: doc.refused_or_coded("No dashboard access, or `forbidden`: not the caller's scope."),
            404: doc.coded("`unknown_scope`: no active department of that code."),
            503: doc.coded("`unavailable`: MongoDB does not answer."),
        },
    )
    def get(self, request: Request) -> Response:
        state = listing.alert_state(request.query_params.get("state", "open"))
        scope = _readable_scope(request, f"alerts state={state}")
        return Response({"scope": scope.name, "alerts": listing.list_alerts(_access(request), scope, state)})


class AlertAckView(DashboardAPIView):
    @extend_schema(
        operation_id="alert_ack",
        summary="Acknowledge an alert, as `ack_alert` does; idempotent",
        tags=["alerts"],
        request=None,
        responses={
            200: OpenApiResponse(
                doc.AcknowledgedSerializer, "Acknowledged now, or earlier (the first by and at)."
            ),
            **_GUARDED,
            403: doc.refused_or_coded(
                "No dashboard access, no CSRF token, or `forbidden`: not the caller's alert."
            ),
            404: doc.coded("`not_found`: no alert with that id."),
            503: OpenApiResponse(
                doc.NotAcknowledgedSerializer, "MongoDB did not confirm it; nothing was recorded."
            ),
        },
    )
    def post(self, request: Request, alert_id: str) -> Response:
        try:
            ack = acknowledgement.acknowledge(_access(request), alert_id)
        except Unavailable:
            # The contract's answer (§8): nothing was recorded, the caller may try again.
            return Response({"ok": False, "reason": "unavailable"}, status=503)
        audit.record_request(request, _access(request), AccessLog.Action.ACKNOWLEDGE, detail=ack.alert_id)
        return Response({"ok": True, "alert_id": ack.alert_id, "by": ack.by, "at": ack.at})

"""The `/ws/dashboard/` consumer (contract §4): thin, every decision made by a service.

Client messages are parsed by `messages.parse_client_message` and dispatched by their parsed
class, never by a client-supplied name. Group messages of type `dashboard.push` carry text
serialized once by `dashboard.publish`, forwarded to the socket as it is.
"""

from __future__ import annotations

import logging
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from dashboard import messages, permissions, publish
from dashboard.messages import AckAlert, ClientError, Ping, Reauth, Subscribe, Unsubscribe
from dashboard.permissions import Access
from dashboard.scopes import Scope
from dashboard.services import alerts
from dashboard.services.snapshots import snapshot_message
from dashboard.ws_auth import CLOSE_NOT_AUTHENTICATED, HandshakeAuth, access_token_user_id

logger = logging.getLogger(__name__)

CLOSE_FORBIDDEN = 4403
CLOSE_TOKEN_EXPIRED = 4408


class DashboardConsumer(AsyncWebsocketConsumer):
    access: Access
    subscriptions: set[Scope]

    async def connect(self) -> None:
        auth: HandshakeAuth = self.scope["dash_auth"]
        self.subscriptions = set()
        await self.accept()
        if auth.user is None:
            await self.close(code=CLOSE_NOT_AUTHENTICATED)
            return
        access = await database_sync_to_async(permissions.load_access)(auth.user)
        if access is None:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.access = access
        scopes = await database_sync_to_async(permissions.known_scopes)(access)
        defaults = access.default_scopes()
        await self._send(
            messages.hello(
                user=access.user_summary(),
                scopes=[scope.name for scope in scopes],
                subscribed=[scope.name for scope in defaults],
            )
        )
        for scope in defaults:
            await self._join(scope)
            await self._send(await self._snapshot(scope))

    async def disconnect(self, code: int) -> None:
        for scope in list(self.subscriptions):
            await self._leave(scope)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if not hasattr(self, "access"):
            return
        if text_data is None:
            await self._send(messages.error("bad_request", "binary frames are not supported"))
            return
        try:
            message = messages.parse_client_message(text_data)
            await self._handle(message)
        except ClientError as exc:
            await self._send(messages.error(exc.code, exc.message, exc.request_id))

    async def _handle(self, message: messages.ClientMessage) -> None:
        if isinstance(message, Subscribe):
            await self._subscribe(message)
        elif isinstance(message, Unsubscribe):
            await self._unsubscribe(message)
        elif isinstance(message, Ping):
            await self._send(messages.pong(message.request_id))
        elif isinstance(message, AckAlert):
            await self._ack(message)
        elif isinstance(message, Reauth):
            await self._reauth(message)

    async def _subscribe(self, message: Subscribe) -> None:
        scope = message.scope
        exists = await database_sync_to_async(permissions.scope_exists)(scope)
        if not exists:
            raise ClientError("unknown_scope", f"no such scope: {scope}", message.request_id)
        if not self.access.may_subscribe(scope):
            raise ClientError("forbidden", f"you may not subscribe to {scope}", message.request_id)
        await self._join(scope)
        missed = None
        if message.since is not None:
            missed = await database_sync_to_async(publish.replay)(
                scope, with_revenue=self.access.sees_revenue, since=message.since
            )
        await self._send(messages.subscribed(scope, recovered=missed is not None))
        if missed is None:
            await self._send(await self._snapshot(scope))
            return
        for text in missed:
            await self.send(text_data=text)

    async def _unsubscribe(self, message: Unsubscribe) -> None:
        await self._leave(message.scope)
        await self._send(messages.unsubscribed(message.scope, reason="requested"))

    async def _ack(self, message: AckAlert) -> None:
        try:
            await database_sync_to_async(alerts.acknowledge)(self.access, message.alert_id)
        except alerts.AlertNotFound:
            raise ClientError("not_found", "no such alert", message.request_id) from None
        except alerts.AlertForbidden:
            raise ClientError("forbidden", "you may not acknowledge this alert", message.request_id) from None
        await self._send({"type": "ack_result", "request_id": message.request_id, "ok": True})

    async def _reauth(self, message: Reauth) -> None:
        claims = access_token_user_id(message.token)
        if claims is None or claims[0] != self.access.user_id:
            await self.close(code=CLOSE_NOT_AUTHENTICATED)
            return
        self.scope["dash_auth"].token_expires_at = claims[1]

    async def _join(self, scope: Scope) -> None:
        await self.channel_layer.group_add(
            scope.group(with_revenue=self.access.sees_revenue), self.channel_name
        )
        self.subscriptions.add(scope)

    async def _leave(self, scope: Scope) -> None:
        await self.channel_layer.group_discard(
            scope.group(with_revenue=self.access.sees_revenue), self.channel_name
        )
        self.subscriptions.discard(scope)

    async def _snapshot(self, scope: Scope) -> dict[str, Any]:
        return await database_sync_to_async(snapshot_message)(scope, with_revenue=self.access.sees_revenue)

    async def _send(self, message: dict[str, Any]) -> None:
        await self.send(text_data=messages.encode(message))

    async def dashboard_push(self, event: dict[str, Any]) -> None:
        """A message published by `dashboard.publish`, already serialized for this class."""
        await self.send(text_data=event["text"])

"""The `/ws/dashboard/` consumer (contract §4): thin, every decision made by a service.

Client messages are parsed by `client_messages.parse_client_message` and dispatched by their parsed
class, never by a client-supplied name. Group messages of type `dashboard.push` carry text
serialized once by `dashboard.stream.publish`, forwarded to the socket as it is.
"""

from __future__ import annotations

import functools
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from channels.consumer import get_handler_name
from channels.db import DatabaseSyncToAsync, database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.contrib.sessions.backends.base import SessionBase
from django.utils.module_loading import import_string

from dashboard.access import audit, permissions
from dashboard.access.permissions import Access
from dashboard.alerts import acknowledgement
from dashboard.metrics.snapshots import SnapshotUnavailable, snapshot_message
from dashboard.models import AccessLog
from dashboard.protocol import client_messages, messages
from dashboard.protocol.client_messages import AckAlert, Ping, Reauth, Subscribe, Unsubscribe
from dashboard.protocol.close_codes import CloseCode
from dashboard.protocol.errors import DashboardError, ErrorCode
from dashboard.protocol.scopes import Scope, parse_scope
from dashboard.realtime import connection_limit, handshake, hub, ticker
from dashboard.realtime.handshake_auth import HandshakeAuth, access_token_user_id
from dashboard.realtime.rate_limit import TokenBucket, Verdict
from dashboard.sources import health
from dashboard.stream import publish

logger = logging.getLogger(__name__)

HEARTBEAT_AFTER_S = 10.0
SESSION_CHECK_EVERY_S = 30.0


def off_the_database_thread(function: Any) -> Any:
    """For calls that read only Redis (and MongoDB): run them in the event loop's thread pool.

    `database_sync_to_async` runs every call of a process on one thread, in order. In a
    reconnect storm each client's snapshot and replay then waited behind every other client's
    handshake; these need no database connection, so they need not wait.
    """
    return sync_to_async(function, thread_sensitive=False)


@dataclass
class ScopeState:
    epoch: str
    seq: int
    last_sent_at: float
    # Pushes that arrive while the scope's snapshot or replay is on its way, sent after it.
    held: list[dict[str, Any]] | None = None

    def sent(self, epoch: str, seq: int) -> None:
        """The client now has the scope up to (epoch, seq)."""
        self.epoch, self.seq, self.last_sent_at = epoch, seq, time.monotonic()


class DashboardConsumer(AsyncWebsocketConsumer):
    access: Access
    auth: HandshakeAuth
    scopes: dict[Scope, ScopeState]

    # --- lifecycle -------------------------------------------------------------------------
    async def connect(self) -> None:
        self.auth = self.scope["dash_auth"]
        self.scopes = {}
        self.connection_id = uuid.uuid4().hex
        self.bucket = TokenBucket()
        self.registered = False
        await self.accept()
        # Reads only, so it need not wait its turn on the one database thread (see handshake.py).
        opening = await DatabaseSyncToAsync(handshake.open_connection, thread_sensitive=False)(
            self.auth, self.connection_id
        )
        if opening.close_code is not None or opening.access is None:
            await self.close(code=opening.close_code or CloseCode.NOT_AUTHENTICATED)
            return
        access = self.access = opening.access
        self.known_scopes = set(opening.known_scopes)
        self.registered = True
        now = time.monotonic()
        self.next_session_check = now + SESSION_CHECK_EVERY_S
        ticker.register(self)
        await self.channel_layer.group_add(publish.user_group(access.user_id), self.channel_name)
        self._audit(AccessLog.Action.CONNECT, detail=self.auth.method or "")
        defaults = access.default_scopes()
        await self._send_message(
            messages.hello(
                user=access.user_summary(),
                scopes=[scope.name for scope in opening.known_scopes],
                subscribed=[scope.name for scope in defaults],
            )
        )
        sources = health.current()
        if not health.all_ok(sources):
            await self._send_message(messages.status(sources))
        for scope in defaults:
            await self._join(scope)
            self._audit(AccessLog.Action.SUBSCRIBE, scope=scope.name, detail="default")
            await self._send_snapshot(scope)

    async def disconnect(self, code: int) -> None:
        if not self.registered:
            return
        ticker.unregister(self)
        for scope in list(self.scopes):
            await self._leave(scope)
        await self.channel_layer.group_discard(publish.user_group(self.access.user_id), self.channel_name)
        await off_the_database_thread(connection_limit.release)(self.access.user_id, self.connection_id)
        self._audit(AccessLog.Action.DISCONNECT, detail=str(code))
        self.registered = False

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels closes stale database connections before every handler, on the one database
        # thread; every database call here goes through database_sync_to_async, which does that
        # itself, so the extra hop per message is skipped.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"no handler for message type {message['type']!r}")
        await handler(message)

    async def on_tick(self, now: float) -> None:
        """Periodic duties, called about once a second by `dashboard.realtime.ticker`."""
        expires_at = self.auth.token_expires_at
        if self.auth.method == "jwt" and expires_at is not None and time.time() >= expires_at:
            await self.close(code=CloseCode.TOKEN_EXPIRED)
            return
        if self.auth.method == "session" and now >= self.next_session_check:
            self.next_session_check = now + SESSION_CHECK_EVERY_S
            if not await database_sync_to_async(self._session_still_valid)():
                await self.close(code=CloseCode.NOT_AUTHENTICATED)
                return
        for scope, state in self.scopes.items():
            if now - state.last_sent_at >= HEARTBEAT_AFTER_S:
                state.last_sent_at = now
                await self._send_message(messages.heartbeat(scope, epoch=state.epoch, seq=state.seq))

    def lease(self) -> tuple[int, str]:
        """This connection's slot among its user's, refreshed by the per-process ticker."""
        return self.access.user_id, self.connection_id

    async def on_sources_changed(self, states: dict[str, messages.SourceState]) -> None:
        await self._send_message(messages.status(states))

    def _session_still_valid(self) -> bool:
        session: SessionBase | None = self.scope.get("session")
        if session is None or not session.session_key:
            return False
        from django.conf import settings

        store = import_string(f"{settings.SESSION_ENGINE}.SessionStore")(session.session_key)
        return str(store.get("_auth_user_id")) == str(self.access.user_id)

    # --- client messages -------------------------------------------------------------------
    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if not self.registered:
            return
        verdict = self.bucket.take()
        if verdict is Verdict.CLOSE:
            await self.close(code=CloseCode.TOO_MANY)
            return
        if verdict is Verdict.DROP:
            return
        if verdict is Verdict.WARN:
            await self._send_message(messages.error(ErrorCode.RATE_LIMITED, "too many messages; slow down"))
            return
        if text_data is None:
            await self._send_message(messages.error(ErrorCode.BAD_REQUEST, "binary frames are not supported"))
            return
        if client_messages.too_large(text_data):
            await self.close(code=CloseCode.TOO_BIG)
            return
        try:
            message = client_messages.parse_client_message(text_data)
        except DashboardError as exc:
            await self._send_message(messages.error(exc.code, exc.message, exc.request_id))
            return
        try:
            await self._handle(message)
        except DashboardError as exc:
            await self._send_message(messages.error(exc.code, exc.message, message.request_id))

    async def _handle(self, message: client_messages.ClientMessage) -> None:
        if isinstance(message, Subscribe):
            await self._subscribe(message)
        elif isinstance(message, Unsubscribe):
            await self._unsubscribe(message)
        elif isinstance(message, Ping):
            await self._send_message(messages.pong(message.request_id))
        elif isinstance(message, AckAlert):
            await self._ack(message)
        elif isinstance(message, Reauth):
            await self._reauth(message)

    async def _subscribe(self, message: Subscribe) -> None:
        check = functools.partial(
            permissions.access_scope, self.access, message.scope, known=self.known_scopes
        )
        # The scopes the handshake listed exist; only another one needs the database.
        scope = check() if message.scope in self.known_scopes else await database_sync_to_async(check)()
        await self._join(scope)
        self._audit(AccessLog.Action.SUBSCRIBE, scope=scope.name)
        missed = None
        if message.since is not None:
            missed = await off_the_database_thread(publish.replay)(
                scope, with_revenue=self.access.sees_revenue, since=message.since
            )
        await self._send_message(messages.subscribed(scope, recovered=missed is not None))
        if missed is None or message.since is None:
            await self._send_snapshot(scope)
            return
        for text in missed:
            await self.send(text_data=text)
        self.scopes[scope].sent(message.since.epoch, message.since.seq + len(missed))
        await self._release(scope)

    async def _unsubscribe(self, message: Unsubscribe) -> None:
        await self._leave(message.scope)
        self._audit(AccessLog.Action.UNSUBSCRIBE, scope=message.scope.name)
        await self._send_message(messages.unsubscribed(message.scope, reason="requested"))

    async def _ack(self, message: AckAlert) -> None:
        await database_sync_to_async(acknowledgement.acknowledge)(self.access, message.alert_id)
        self._audit(AccessLog.Action.ACKNOWLEDGE, detail=message.alert_id)
        await self._send_message(messages.ack_result(message.request_id))

    async def _reauth(self, message: Reauth) -> None:
        claims = access_token_user_id(message.token)
        if claims is None or claims[0] != self.access.user_id:
            await self.close(code=CloseCode.NOT_AUTHENTICATED)
            return
        self.auth.token_expires_at = claims[1]

    # --- group messages --------------------------------------------------------------------
    async def dashboard_push(self, event: dict[str, Any]) -> None:
        """A message published by `dashboard.stream.publish`, already serialized for this class."""
        state = self.scopes.get(parse_scope(event["scope"]))
        if state is None:
            return
        if state.held is not None:
            state.held.append(event)
            return
        if state.epoch == event["epoch"] and event["seq"] <= state.seq:
            return  # already sent (a snapshot or replay covered it)
        state.sent(event["epoch"], event["seq"])
        await self.send(text_data=event["text"])

    async def dashboard_access_changed(self, event: dict[str, Any]) -> None:
        access = await database_sync_to_async(permissions.load_access_by_id)(self.access.user_id)
        if access is None:
            await self.close(code=CloseCode.FORBIDDEN)
            return
        previous, self.access = self.access, access
        for scope in list(self.scopes):
            if not access.may_subscribe(scope):
                await self._leave(scope, sees_revenue=previous.sees_revenue)
                self._audit(AccessLog.Action.UNSUBSCRIBE, scope=scope.name, detail="forbidden")
                await self._send_message(messages.unsubscribed(scope, reason="forbidden"))
            elif previous.sees_revenue != access.sees_revenue:
                await self._leave(scope, sees_revenue=previous.sees_revenue)
                await self._join(scope)
                await self._send_snapshot(scope)

    async def dashboard_session_ended(self, event: dict[str, Any]) -> None:
        session: SessionBase | None = self.scope.get("session")
        if (
            self.auth.method == "session"
            and session is not None
            and session.session_key == event["session_key"]
        ):
            await self.close(code=CloseCode.NOT_AUTHENTICATED)

    # --- helpers ---------------------------------------------------------------------------
    async def _join(self, scope: Scope) -> None:
        """Join the scope's group; its pushes are held until the snapshot or replay is sent."""
        state = self.scopes.setdefault(scope, ScopeState(epoch="", seq=0, last_sent_at=time.monotonic()))
        state.held = []
        # Pushes reach this connection through the process's hub, not its own channel.
        await hub.current(self.channel_layer).join(scope.group(with_revenue=self.access.sees_revenue), self)

    async def _release(self, scope: Scope) -> None:
        """Send the pushes held during the snapshot or replay, newer ones only, in order."""
        state = self.scopes.get(scope)
        if state is None or state.held is None:
            return
        held, state.held = state.held, None
        for event in held:
            await self.dashboard_push(event)

    async def _leave(self, scope: Scope, *, sees_revenue: bool | None = None) -> None:
        with_revenue = self.access.sees_revenue if sees_revenue is None else sees_revenue
        await hub.current(self.channel_layer).leave(scope.group(with_revenue=with_revenue), self)
        self.scopes.pop(scope, None)

    async def _send_snapshot(self, scope: Scope) -> None:
        try:
            snapshot = await off_the_database_thread(snapshot_message)(
                scope, with_revenue=self.access.sees_revenue
            )
        except SnapshotUnavailable:
            # Nothing to show yet: say which source is down; the client retries on `status`.
            # Not recorded here: the ticker must still see the change and tell every connection.
            states = await database_sync_to_async(health.check)()
            await self._send_message(messages.status(states))
            await self._release(scope)
            return
        self.scopes[scope].sent(snapshot["epoch"], snapshot["seq"])
        await self._send_message(snapshot)
        await self._release(scope)

    async def _send_message(self, message: messages.ServerMessage) -> None:
        await self.send(text_data=messages.encode(message))

    def _audit(self, action: str, *, scope: str = "", detail: str = "") -> None:
        client = self.scope.get("client") or ("", 0)
        audit.record(
            action,
            user_id=self.access.user_id,
            username=self.access.username,
            scope=scope,
            client_address=str(client[0]),
            detail=detail,
        )

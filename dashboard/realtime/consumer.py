"""The `/ws/dashboard/` consumer (contract §4): thin, every decision made by a service.

Client messages are parsed by `client_messages.parse_client_message` and dispatched by their
parsed class, never by a client-supplied name. Group messages of type `dashboard.push` carry
text serialized once by `dashboard.stream.publish`, forwarded to the socket as it is. Every
group message, pushes and the per-user events alike, reaches a connection through its
process's hub (`dashboard.realtime.hub`): a connection has no channel-layer channel of its own.

No client input and no data-source outage ends a connection with 1011: a client message that
cannot be served is answered with `error` (or `ack_result` with `ok: false`), a handler that
fails unexpectedly is logged and answered, and every way a connection ends, a failed
handshake included, releases its place among its user's connections and writes its
access-log entry.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from channels.consumer import get_handler_name
from channels.db import DatabaseSyncToAsync, database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer

from dashboard.access import access_cache, audit, permissions
from dashboard.access.permissions import Access
from dashboard.alerts import acknowledgement
from dashboard.metrics.snapshots import snapshot_message
from dashboard.models import AccessLog
from dashboard.protocol import client_messages, messages
from dashboard.protocol.client_messages import AckAlert, Ping, Reauth, Subscribe, Unsubscribe
from dashboard.protocol.close_codes import CloseCode
from dashboard.protocol.errors import DashboardError, ErrorCode, Unavailable
from dashboard.protocol.scopes import Scope, parse_scope
from dashboard.realtime import (
    connection_ids,
    connection_limit,
    connection_metrics,
    handshake,
    hub,
    read_coalescing,
    ticker,
)
from dashboard.realtime.auth_lifetime import AuthLifetime
from dashboard.realtime.handshake_auth import HandshakeAuth
from dashboard.realtime.rate_limit import TokenBucket, Verdict
from dashboard.sources import health, log_context
from dashboard.stream import publish
from dashboard.stream.publish import Position

logger = logging.getLogger(__name__)

HEARTBEAT_AFTER_S = 10.0
HANDLER_FAILED = "this message could not be served; the connection stays open"
# A CHANNEL_LAYERS alias that is not configured: `get_channel_layer` returns None for it, so
# Channels gives a connection no channel of its own (on the pub/sub layer a Redis SUBSCRIBE and
# a receive task per connection, a cost paid again by every client of a reconnect storm).
# Group messages reach the connection through the hub, which uses the configured layer.
NO_CHANNEL_OF_ITS_OWN = "dashboard.realtime.consumer:no-channel-of-its-own"


def off_the_database_thread(function: Any) -> Any:
    """For calls that read only Redis (and MongoDB): run them in the event loop's thread pool.

    `database_sync_to_async` runs every call of a process on one thread, in order. In a
    reconnect storm each client's snapshot and replay then waited behind every other client's
    handshake; these need no database connection, so they need not wait.
    """
    return sync_to_async(function, thread_sensitive=False)


def shared_read(key: tuple[Any, ...], function: Any, *args: Any, **kwargs: Any) -> Awaitable[Any]:
    """`function(*args, **kwargs)` off the database thread, one call for the connections asking at once.

    The call starts after this request (dashboard/realtime/read_coalescing.py), so it reads
    what was published after the caller joined the scope's group. Every caller gets the same
    result object: it must not be mutated. Raises what `function` raises.
    """
    return read_coalescing.current().run(
        key, functools.partial(off_the_database_thread(function), *args, **kwargs)
    )


@dataclass(frozen=True)
class EncodedSnapshot:
    """A scope's snapshot and its text, made once for every connection sharing the read.

    `text` is `messages.encode(message)`, or None when the message cannot be encoded (a
    non-finite number): sending it then raises that ValueError per connection, as before the
    text was shared. Neither is ever mutated: every connection of the read holds the same.
    """

    message: messages.Snapshot
    text: str | None


def encoded_snapshot(scope: Scope, *, with_revenue: bool) -> EncodedSnapshot:
    """`snapshot_message` and its text, both made in the thread pool by the one shared read.

    Raises what `snapshot_message` raises (Unavailable when no source can give it).
    """
    message = snapshot_message(scope, with_revenue=with_revenue)
    try:
        text: str | None = messages.encode(message)
    except ValueError:
        text = None
    return EncodedSnapshot(message, text)


@dataclass
class Subscription:
    """What the client has of one subscribed scope."""

    epoch: str
    seq: int
    last_sent_at: float
    # Pushes that arrive while the scope's snapshot or replay is on its way, sent after it.
    held: list[dict[str, Any]] | None = None
    # A newer epoch the client was told of by a heartbeat (it resyncs; not told again).
    told_epoch: str = ""

    def sent(self, epoch: str, seq: int) -> None:
        """The client now has the scope up to (epoch, seq)."""
        self.epoch, self.seq, self.last_sent_at = epoch, seq, time.monotonic()


# Pushes whose content a snapshot does not carry: a snapshot's tiers replace every earlier
# `update`, but the client learns of an alert or an acknowledgement only from its message.
NOT_IN_SNAPSHOTS = frozenset({"alert", "alert_acknowledged"})


def covered_seq(epoch: str, seq: int, held: Iterable[dict[str, Any]]) -> int:
    """The seq a snapshot read at (epoch, seq) may claim, given the pushes held meanwhile.

    The connection joins the scope's group before the snapshot reads its position, so an
    alert published in between is both held and at or below the position; claiming that
    position would make the client drop the alert as already applied, and the snapshot does
    not carry it. The snapshot then claims the seq just before the first such push, and the
    held pushes from there on (contiguous: the hub hands every push over in order from the
    join on) are sent after it. `held` are hub events (`epoch`, `seq`, `kind`).
    """
    missing = [
        int(event["seq"])
        for event in held
        if event["epoch"] == epoch and event["seq"] <= seq and event.get("kind") in NOT_IN_SNAPSHOTS
    ]
    return min(missing) - 1 if missing else seq


class DashboardConsumer(AsyncWebsocketConsumer):
    channel_layer_alias = NO_CHANNEL_OF_ITS_OWN
    # Set in connect(); `registered` is True from the moment the connection holds a place.
    registered: bool = False
    connection_id: str
    bucket: TokenBucket
    subscriptions: dict[Scope, Subscription]
    access: Access
    user_id: int
    lifetime: AuthLifetime
    known_scopes: set[Scope]
    # The labels its open-connection gauge was raised with: (role, server).
    counted_as: tuple[str, str]

    # --- lifecycle -------------------------------------------------------------------------
    async def connect(self) -> None:
        started = time.monotonic()
        auth: HandshakeAuth = self.scope["dash_auth"]
        self.subscriptions = {}
        self.connection_id = connection_ids.new_connection_id()
        # Every later handler runs in this connection's task: its lines carry these ids.
        log_context.bind(connection_id=self.connection_id)
        self.bucket = TokenBucket()
        await self.accept()
        # Reads only, so it need not wait its turn on the one database thread (see handshake.py).
        opening = await DatabaseSyncToAsync(handshake.open_connection, thread_sensitive=False)(
            auth, self.connection_id
        )
        if opening.close_code is not None or opening.access is None:
            code = opening.close_code or CloseCode.NOT_AUTHENTICATED
            connection_metrics.handshake_refused(code)
            # The way in it tried (a ticket unknown, used or expired; a token of a deleted user;
            # no valid credentials at all), never the credential itself; the user when known.
            if auth.user_id is not None:
                log_context.bind(user_id=auth.user_id)
            logger.info("handshake refused with %d (credentials: %s)", int(code), auth.method or "none valid")
            await self.close(code=code)
            return
        access = self.access = opening.access
        self.user_id = access.user_id
        log_context.bind(user_id=access.user_id)
        logger.debug("connection opened by %s", auth.method)
        self.known_scopes = set(opening.known_scopes)
        self.lifetime = AuthLifetime.of(auth, access.user_id, time.monotonic())
        self.registered = True
        self.counted_as = (access.role, connection_metrics.server_label(self.scope))
        connection_metrics.opened(*self.counted_as)
        ticker.register(self)
        self._audit(AccessLog.Action.CONNECT, detail=auth.method or "")
        await self._hub().join(publish.user_group(access.user_id), self)
        defaults = access.default_scopes()
        await self._send_message(
            messages.hello(
                user=access.user_summary(),
                scopes=[scope.name for scope in opening.known_scopes],
                subscribed=[scope.name for scope in defaults],
            )
        )
        connection_metrics.handshake_done(started)
        sources = health.current()
        if not health.all_ok(sources):
            await self._send_message(messages.status(sources))
        for scope in defaults:
            await self._join(scope)
            self._audit(AccessLog.Action.SUBSCRIBE, scope=scope.name, detail="default")
            await self._send_snapshot(scope)

    async def disconnect(self, code: int) -> None:
        """Give back the connection's place and record the disconnect, whatever else fails."""
        if not self.registered:
            return
        self.registered = False
        connection_metrics.closed(*self.counted_as)
        ticker.unregister(self)
        try:
            await self._hub().leave(publish.user_group(self.user_id), self)
            for scope in list(self.subscriptions):
                await self._leave(scope)
        except Exception:
            logger.exception("connection %s: could not leave its groups", self.connection_id)
        try:
            await off_the_database_thread(connection_limit.release)(self.user_id, self.connection_id)
        except Exception as exc:
            # The lease expires by itself within LEASE_TTL_S.
            logger.warning(
                "connection %s: lease not released (%s)", self.connection_id, exc.__class__.__name__
            )
        self._audit(AccessLog.Action.DISCONNECT, detail=str(code))
        logger.debug("connection closed with %s", code)

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels closes stale database connections before every handler, on the one database
        # thread; every database call here goes through database_sync_to_async, which does that
        # itself, so the extra hop per message is skipped.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            logger.warning(
                "connection %s: no handler for %r; ignored", self.connection_id, message.get("type")
            )
            return
        try:
            await handler(message)
        except StopConsumer:
            raise
        except Exception:
            logger.exception("connection %s: %s failed", self.connection_id, message.get("type"))
            await self._after_failure(message)

    async def _after_failure(self, message: dict[str, Any]) -> None:
        """What a failed handler leaves: never a 1011 close, never a lost place."""
        kind = message.get("type")
        if kind == "websocket.disconnect":
            raise StopConsumer
        if kind == "websocket.connect":
            # The handshake failed half way (a source went down): the client tries again later.
            await self.disconnect(CloseCode.TRY_AGAIN_LATER)
            await self.close(code=CloseCode.TRY_AGAIN_LATER)
        elif kind == "websocket.receive" and self.registered:
            await self._send_message(messages.error(ErrorCode.BAD_REQUEST, HANDLER_FAILED))

    # --- periodic duties (dashboard.realtime.ticker) --------------------------------------------
    async def on_tick(self, now: float, positions: Mapping[Scope, Position]) -> None:
        """Expiry, the session check and heartbeats, about once a second."""
        if self.lifetime.token_expired():
            await self.close(code=CloseCode.TOKEN_EXPIRED)
            return
        if (
            self.lifetime.session_check_due(now)
            and not await database_sync_to_async(self.lifetime.session_still_valid)()
        ):
            await self.close(code=CloseCode.NOT_AUTHENTICATED)
            return
        for scope in self.heartbeats_due(now, positions):
            subscription = self.subscriptions[scope]
            subscription.last_sent_at = now
            # The scope's last published position, so a client that missed a push sees the gap.
            published = positions.get(scope, Position(subscription.epoch, subscription.seq))
            if published.epoch != subscription.epoch:
                subscription.told_epoch = published.epoch
            await self._send_message(messages.heartbeat(scope, epoch=published.epoch, seq=published.seq))

    def heartbeats_due(self, now: float, positions: Mapping[Scope, Position]) -> Iterable[Scope]:
        """Subscribed scopes that had no other message for HEARTBEAT_AFTER_S, and those whose
        epoch changed since the client's snapshot or last push (`positions`: the scopes' last
        published positions): the heartbeat's new epoch makes the client resync at once."""
        return [
            scope
            for scope, subscription in self.subscriptions.items()
            if now - subscription.last_sent_at >= HEARTBEAT_AFTER_S
            or (
                subscription.held is None
                and subscription.epoch
                and (published := positions.get(scope)) is not None
                and published.epoch not in (subscription.epoch, subscription.told_epoch)
            )
        ]

    def followed_scopes(self) -> Iterable[Scope]:
        """The scopes this connection is subscribed to."""
        return self.subscriptions.keys()

    def lease(self) -> tuple[int, str]:
        """This connection's slot among its user's, refreshed by the per-process ticker."""
        return self.user_id, self.connection_id

    def uses_session(self) -> bool:
        return self.lifetime.method == "session"

    async def on_sources_changed(self, states: dict[str, messages.SourceState]) -> None:
        await self._send_message(messages.status(states))

    async def on_access_read(self, access: Access | None, session_hashes: Collection[str]) -> None:
        """The user's access and session hashes as the database has them now (read by the ticker)."""
        if not self.lifetime.session_hash_current(session_hashes) and access is not None:
            await self.close(code=CloseCode.NOT_AUTHENTICATED)  # the password changed
            return
        await self._apply_access(access)

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
            try:
                since, with_revenue = message.since, self.access.sees_revenue
                missed = await shared_read(
                    ("replay", scope, with_revenue, since.epoch, since.seq),
                    publish.replay,
                    scope,
                    with_revenue=with_revenue,
                    since=since,
                )
            except Exception as exc:
                # Without the history the client gets a snapshot (from MongoDB if need be).
                logger.warning("replay of %s failed (%s); sending a snapshot", scope, exc.__class__.__name__)
        await self._send_message(messages.subscribed(scope, recovered=missed is not None))
        if missed is None or message.since is None:
            await self._send_snapshot(scope)
            return
        for text in missed:
            await self.send(text_data=text)
        self.subscriptions[scope].sent(message.since.epoch, message.since.seq + len(missed))
        await self._release(scope)

    async def _unsubscribe(self, message: Unsubscribe) -> None:
        await self._leave(message.scope)
        self._audit(AccessLog.Action.UNSUBSCRIBE, scope=message.scope.name)
        await self._send_message(messages.unsubscribed(message.scope, reason="requested"))

    async def _ack(self, message: AckAlert) -> None:
        try:
            await database_sync_to_async(acknowledgement.acknowledge)(self.access, message.alert_id)
        except Unavailable:
            # Nothing was recorded; the client may try again (contract §8).
            await self._send_message(messages.ack_result(message.request_id, failure="unavailable"))
            return
        self._audit(AccessLog.Action.ACKNOWLEDGE, detail=message.alert_id)
        await self._send_message(messages.ack_result(message.request_id))

    async def _reauth(self, message: Reauth) -> None:
        if not self.lifetime.renew(message.token):
            await self.close(code=CloseCode.NOT_AUTHENTICATED)

    # --- group messages --------------------------------------------------------------------
    async def dashboard_push(self, event: dict[str, Any]) -> None:
        """A message published by `dashboard.stream.publish`, already serialized for this class."""
        subscription = self.subscriptions.get(parse_scope(event["scope"]))
        if subscription is None:
            return
        if subscription.held is not None:
            subscription.held.append(event)
            return
        if subscription.epoch == event["epoch"] and event["seq"] <= subscription.seq:
            return  # already sent (a snapshot or replay covered it)
        subscription.sent(event["epoch"], event["seq"])
        await self.send(text_data=event["text"])

    async def dashboard_access_changed(self, event: dict[str, Any]) -> None:
        """A signal in this service said the user's access changed: read it now, not at the next check.

        Run by the hub as a task of its own (it reads the database); failures are logged there.
        """
        access_cache.forget(self.user_id)
        await self._apply_access(await database_sync_to_async(permissions.load_access_by_id)(self.user_id))

    async def dashboard_session_ended(self, event: dict[str, Any]) -> None:
        """A session of the user ended (`session_key`): close if it is this connection's (4401)."""
        if self.lifetime.ended_by(event["session_key"]):
            await self.close(code=CloseCode.NOT_AUTHENTICATED)

    # --- helpers ---------------------------------------------------------------------------
    async def _apply_access(self, access: Access | None) -> None:
        """Follow a change of the user's access: lose forbidden scopes, resend what revenue changes."""
        if not self.registered or access == self.access:
            return
        if access is None:
            await self.close(code=CloseCode.FORBIDDEN)
            return
        previous, self.access = self.access, access
        for scope in list(self.subscriptions):
            if not access.may_subscribe(scope):
                await self._leave(scope, sees_revenue=previous.sees_revenue)
                self._audit(AccessLog.Action.UNSUBSCRIBE, scope=scope.name, detail="forbidden")
                await self._send_message(messages.unsubscribed(scope, reason="forbidden"))
            elif previous.sees_revenue != access.sees_revenue:
                await self._leave(scope, sees_revenue=previous.sees_revenue)
                await self._join(scope)
                await self._send_snapshot(scope)

    async def _join(self, scope: Scope) -> None:
        """Join the scope's group; its pushes are held until the snapshot or replay is sent."""
        subscription = self.subscriptions.setdefault(
            scope, Subscription(epoch="", seq=0, last_sent_at=time.monotonic())
        )
        subscription.held = []
        await self._hub().join(scope.group(with_revenue=self.access.sees_revenue), self)

    async def _release(self, scope: Scope) -> None:
        """Send the pushes held during the snapshot or replay, newer ones only, in order."""
        subscription = self.subscriptions.get(scope)
        if subscription is None or subscription.held is None:
            return
        held, subscription.held = subscription.held, None
        for event in held:
            await self.dashboard_push(event)

    async def _leave(self, scope: Scope, *, sees_revenue: bool | None = None) -> None:
        with_revenue = self.access.sees_revenue if sees_revenue is None else sees_revenue
        self.subscriptions.pop(scope, None)
        await self._hub().leave(scope.group(with_revenue=with_revenue), self)

    @staticmethod
    def _hub() -> hub.Hub:
        """The process's hub, on the configured channel layer (the consumer has none: see above)."""
        return hub.current(get_channel_layer())

    async def _send_snapshot(self, scope: Scope) -> None:
        """Send the scope's snapshot, read and encoded once for the connections asking at once.

        The shared text goes out as it is (one str object for all: `frames.text_frame` frames
        it once per process); a snapshot that must claim a lower seq (`covered_seq`) is copied
        and encoded for this connection alone. Raises ValueError when the snapshot cannot be
        encoded (a non-finite number).
        """
        try:
            with_revenue = self.access.sees_revenue
            shared: EncodedSnapshot = await shared_read(
                ("snapshot", scope, with_revenue), encoded_snapshot, scope, with_revenue=with_revenue
            )
        except Unavailable:
            # Nothing to show yet: say which source is down; the client retries on `status`.
            # Not recorded here: the ticker must still see the change and tell every connection.
            states = await off_the_database_thread(health.check)()
            await self._send_message(messages.status(states))
            await self._release(scope)
            return
        snapshot = shared.message
        subscription = self.subscriptions[scope]
        covered = covered_seq(snapshot["epoch"], snapshot["seq"], subscription.held or [])
        subscription.sent(snapshot["epoch"], covered)
        if covered == snapshot["seq"] and shared.text is not None:
            await self.send(text_data=shared.text)
            connection_metrics.sent("snapshot")
        else:
            # A copy (other connections share the snapshot), encoded here: raises ValueError
            # for a snapshot that cannot be encoded, as every connection of the read does.
            await self._send_message({**snapshot, "seq": covered})
        await self._release(scope)

    async def _send_message(self, message: messages.ServerMessage) -> None:
        await self.send(text_data=messages.encode(message))
        connection_metrics.sent(message["type"])

    def _audit(self, action: str, *, scope: str = "", detail: str = "") -> None:
        client = self.scope.get("client") or ("", 0)
        audit.record(
            action,
            user_id=self.user_id,
            username=self.access.username,
            scope=scope,
            client_address=str(client[0]),
            detail=detail,
        )

"""Opening a dashboard connection: the user, their access and their slot, in one database call.

Everything a handshake needs from the database and Redis is done here, so a consumer makes a
single call for it. It only reads the database, so the consumer runs it in the event loop's
thread pool rather than on the one thread `database_sync_to_async` uses per process, where
thousands of handshakes queued during a reconnect storm (docs/BENCHMARKS.md).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db import DatabaseError
from redis.exceptions import RedisError

from dashboard.access import access_cache, permissions, tickets
from dashboard.access.permissions import Access
from dashboard.protocol.close_codes import CloseCode
from dashboard.protocol.scopes import Scope
from dashboard.realtime import connection_limit
from dashboard.realtime.handshake_auth import HandshakeAuth
from dashboard.telemetry import instruments

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Opening:
    close_code: CloseCode | None
    access: Access | None = None
    known_scopes: list[Scope] = field(default_factory=list)


def handshake_user_id(auth: HandshakeAuth) -> int | None:
    """The id of the user a token or ticket handshake names (a ticket is redeemed, once)."""
    if auth.method == "ticket" and auth.ticket is not None:
        return tickets.redeem(auth.ticket)
    if auth.method == "jwt":
        return auth.user_id
    return None


def handshake_access(auth: HandshakeAuth) -> Access | CloseCode:
    """The access of the handshake's user, or the close code: 4401 for no such user, 4403 for
    a user without dashboard access (deactivated, no profile, a department role with none)."""
    if auth.method == "session":
        if auth.user is None:
            return CloseCode.NOT_AUTHENTICATED
        return permissions.load_access(auth.user) or CloseCode.FORBIDDEN
    user_id = handshake_user_id(auth)
    if user_id is None:
        return CloseCode.NOT_AUTHENTICATED
    access = access_cache.access_by_id(user_id)
    if access is not None:
        return access
    known = get_user_model().objects.filter(pk=user_id).exists()
    return CloseCode.FORBIDDEN if known else CloseCode.NOT_AUTHENTICATED


def open_connection(auth: HandshakeAuth, connection_id: str) -> Opening:
    """Who connects, what they may see, and whether they have a connection slot left.

    A token or ticket user's access and the scopes they may know come from this process's
    short-lived access cache (dashboard/access/access_cache.py) when read within its FRESH_S.

    An outage never ends a handshake with 1011: without Django's database, or without Redis
    to redeem a ticket, the client is told 1013 (try again later); without Redis to count
    connections, the connection is let in uncounted (the ticker counts it once Redis is back).
    """
    try:
        access = handshake_access(auth)
        if isinstance(access, CloseCode):
            return Opening(access)
        known = access_cache.known_scopes(access)
    except (DatabaseError, RedisError) as exc:
        if isinstance(exc, RedisError):
            instruments.SOURCE_ERRORS.labels("redis", "handshake").inc()
        logger.warning("handshake refused with 1013: %s is down", exc.__class__.__name__)
        return Opening(CloseCode.TRY_AGAIN_LATER)
    try:
        if not connection_limit.acquire(access.user_id, connection_id):
            return Opening(CloseCode.TOO_MANY)
    except RedisError as exc:
        instruments.SOURCE_ERRORS.labels("redis", "handshake").inc()
        logger.warning("connection of user %s let in uncounted: %s", access.user_id, exc.__class__.__name__)
    return Opening(None, access, known)

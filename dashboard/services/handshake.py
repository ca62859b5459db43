"""Opening a dashboard connection: the user, their access and their slot, in one database call.

Everything a handshake needs from the database and Redis is done here, so a consumer makes a
single call for it. It only reads the database, so the consumer runs it in the event loop's
thread pool rather than on the one thread `database_sync_to_async` uses per process, where
thousands of handshakes queued during a reconnect storm (docs/BENCHMARKS.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser

from dashboard import permissions
from dashboard.permissions import Access
from dashboard.scopes import Scope
from dashboard.services import connection_limit, tickets
from dashboard.ws_auth import CLOSE_NOT_AUTHENTICATED, HandshakeAuth

CLOSE_FORBIDDEN = 4403
CLOSE_TOO_MANY = 4429


@dataclass(frozen=True)
class Opening:
    close_code: int | None
    access: Access | None = None
    known_scopes: list[Scope] = field(default_factory=list)


def handshake_user(auth: HandshakeAuth) -> AbstractBaseUser | None:
    """The user the handshake names, active or not (a deactivated one is told 4403, not 4401)."""
    if auth.method == "session":
        return auth.user
    user_id = auth.user_id
    if auth.method == "ticket" and auth.ticket is not None:
        user_id = tickets.redeem(auth.ticket)
    if auth.method not in ("jwt", "ticket") or user_id is None:
        return None
    return get_user_model().objects.filter(pk=user_id).first()


def open_connection(auth: HandshakeAuth, connection_id: str) -> Opening:
    """Who connects, what they may see, and whether they have a connection slot left."""
    user = handshake_user(auth)
    if user is None:
        return Opening(CLOSE_NOT_AUTHENTICATED)
    access = permissions.load_access(user)
    if access is None:
        return Opening(CLOSE_FORBIDDEN)
    if not connection_limit.acquire(access.user_id, connection_id):
        return Opening(CLOSE_TOO_MANY)
    return Opening(None, access, permissions.known_scopes(access))

"""WebSocket handshake authentication (contract §4).

A handshake authenticates by an `Authorization: Bearer` access JWT, a single-use `?ticket=`,
or the Django session cookie. The outcome goes into `scope["dash_auth"]`; the consumer
accepts and closes with 4401 when it failed, so clients see the contract's close code.
A session-cookie handshake whose Origin is not allowed is refused before it is accepted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qs

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.http.request import split_domain_port, validate_host
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import AccessToken

from dashboard.protocol.origins import Origin, parse_origin

# How a handshake authenticated (contract §4), or None when it did not.
AuthMethod = Literal["jwt", "ticket", "session"]


@dataclass
class HandshakeAuth:
    """What the handshake carries, checked without the database; the consumer resolves the user.

    `method` is "jwt" (a valid access token: `user_id`), "ticket" (to redeem: `ticket`),
    "session" (`user`, resolved by Channels' session middleware, with the session's key and
    the auth hash it carried) or None.
    """

    method: AuthMethod | None
    user: AbstractBaseUser | None = None
    user_id: int | None = None
    ticket: str | None = None
    token_expires_at: float | None = None
    session_key: str | None = None
    session_hash: str | None = None


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def own_origin(scope: dict[str, Any]) -> Origin | None:
    """The origin the handshake itself was sent to: its scheme, and its `Host` if ALLOWED_HOSTS has it.

    The scheme is `https` for a `wss` scope, which behind a proxy only a trusted proxy's
    `X-Forwarded-Proto` makes it (hospital_dash/asgi.py), else `http`. None without a valid Host.
    """
    host = _header(scope, b"host")
    if not host:
        return None
    domain, _port = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return None
    return parse_origin(f"{'https' if scope.get('scheme') == 'wss' else 'http'}://{host}")


def origin_allowed(origin: str | None, scope: dict[str, Any]) -> bool:
    """Whether a handshake's `Origin` may open a connection (contract §4).

    Allowed exactly when it names the same scheme, host and port as the handshake's own origin
    (`own_origin`) or as an entry of WS_ALLOWED_ORIGINS. A missing Origin, `null`, or anything
    that is not `http(s)://host[:port]` is not allowed.
    """
    wanted = parse_origin(origin) if origin else None
    if wanted is None:
        return False
    if wanted == own_origin(scope):
        return True
    return any(wanted == parse_origin(entry) for entry in settings.WS_ALLOWED_ORIGINS)


def access_token_user_id(raw: str) -> tuple[int, float] | None:
    """The user id and expiry of a valid access JWT; None for anything else (refresh, forged, expired)."""
    try:
        token = AccessToken(raw)  # type: ignore[arg-type]
    except TokenError:
        return None
    user_id = token.get(jwt_settings.USER_ID_CLAIM)
    if not isinstance(user_id, int | str):
        return None
    return int(user_id), float(token["exp"])


@database_sync_to_async
def _user(user_id: int | str) -> AbstractBaseUser | None:
    """The user, active or not: a deactivated account is told 4403, not 4401 (contract §4)."""
    return get_user_model().objects.filter(pk=user_id).first()


async def _inactive_session_user(scope: dict[str, Any]) -> AbstractBaseUser | None:
    # Django's auth backend treats a deactivated user's session as anonymous; find the user.
    session = scope.get("session")
    user_id = session.get("_auth_user_id") if session is not None else None
    if user_id is None:
        return None
    user = await _user(user_id)
    return user if user is not None and not user.is_active else None


def _ticket(scope: dict[str, Any]) -> str | None:
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("ticket")
    return values[0] if values else None


def carries_token(scope: dict[str, Any]) -> bool:
    """A handshake with a bearer token or a ticket never needs the session."""
    return _header(scope, b"authorization") is not None or _ticket(scope) is not None


async def authenticate_handshake(scope: dict[str, Any]) -> HandshakeAuth:
    authorization = _header(scope, b"authorization")
    if authorization is not None:
        kind, _, raw = authorization.partition(" ")
        claims = access_token_user_id(raw.strip()) if kind == "Bearer" else None
        if claims is None:
            return HandshakeAuth(method=None)
        return HandshakeAuth(method="jwt", user_id=claims[0], token_expires_at=claims[1])
    ticket = _ticket(scope)
    if ticket is not None:
        return HandshakeAuth(method="ticket", ticket=ticket)
    session_user = scope.get("user")
    if session_user is not None and session_user.is_authenticated:
        # The session was loaded to resolve the user: reading it again needs no database.
        session = scope["session"]
        return HandshakeAuth(
            method="session",
            user=session_user,
            session_key=session.session_key,
            session_hash=session.get(HASH_SESSION_KEY),
        )
    inactive = await _inactive_session_user(scope)
    return HandshakeAuth(method="session" if inactive else None, user=inactive)


class DashboardAuthMiddleware(BaseMiddleware):
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        auth = await authenticate_handshake(scope)
        origin = _header(scope, b"origin")
        # Decided by how the handshake actually authenticated, not by what it seems to carry:
        # a session always needs an allowed Origin; any Origin sent must be allowed.
        if (auth.method == "session" or origin is not None) and not origin_allowed(origin, scope):
            return await WebsocketDenier.as_asgi()(scope, receive, send)
        scope = dict(scope, dash_auth=auth)
        return await super().__call__(scope, receive, send)


class DashboardAuthStack:
    """Token and ticket handshakes go straight in; the others through Channels' session stack.

    Skipping the session and user lookup saves token handshakes a database call.
    """

    def __init__(self, inner: Any) -> None:
        self.direct = DashboardAuthMiddleware(inner)
        self.with_session = AuthMiddlewareStack(self.direct)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        app = self.direct if carries_token(scope) else self.with_session
        return await app(scope, receive, send)

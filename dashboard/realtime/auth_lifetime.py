"""How long a connection's authentication holds (contract §4): token expiry, reauth, and the
session's validity, in one small object the consumer asks.

- A token (or ticket) connection lives until its access token expires (4408) unless a
  `reauth` brings a fresh token of the same user.
- A session connection lives while its session is valid: it is checked every
  SESSION_CHECK_EVERY_S against the session store, at once when the session is ended by a
  logout in this service, and every few seconds (with every connection's access) against
  the user's current session auth hash, so a password change closes it (4401).
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass

from dashboard.access import sessions
from dashboard.realtime.handshake_auth import AuthMethod, HandshakeAuth, access_token_user_id

SESSION_CHECK_EVERY_S = 30.0


@dataclass
class AuthLifetime:
    """The authentication of one open connection of `user_id`."""

    method: AuthMethod
    user_id: int
    # Wall-clock expiry of the access token (POSIX seconds), for jwt connections.
    token_expires_at: float | None = None
    session_key: str | None = None
    # The session auth hash the session carried when the socket opened.
    session_hash: str | None = None
    # Monotonic time of the next check of the session store.
    next_session_check: float = 0.0

    @classmethod
    def of(cls, auth: HandshakeAuth, user_id: int, now: float) -> AuthLifetime:
        """The lifetime of a connection that authenticated as `auth` at monotonic time `now`."""
        return cls(
            method=auth.method or "jwt",
            user_id=user_id,
            token_expires_at=auth.token_expires_at if auth.method == "jwt" else None,
            session_key=auth.session_key,
            session_hash=auth.session_hash,
            next_session_check=now + SESSION_CHECK_EVERY_S,
        )

    def token_expired(self, wall_now: float | None = None) -> bool:
        """True once a token connection's access token has expired."""
        expires_at = self.token_expires_at
        return expires_at is not None and (wall_now if wall_now is not None else time.time()) >= expires_at

    def session_check_due(self, now: float) -> bool:
        """True when a session connection should check its session store (and schedules the next)."""
        if self.method != "session" or now < self.next_session_check:
            return False
        self.next_session_check = now + SESSION_CHECK_EVERY_S
        return True

    def session_still_valid(self) -> bool:
        """The session store's answer (database queries: call off the event loop)."""
        return sessions.session_is_valid(self.session_key, self.user_id)

    def session_hash_current(self, hashes: Collection[str]) -> bool:
        """For a session connection, whether its session hash is among the user's valid `hashes`."""
        return self.method != "session" or sessions.hash_matches(self.session_hash, hashes)

    def ended_by(self, session_key: str) -> bool:
        """True when the ended session `session_key` is this connection's."""
        return self.method == "session" and self.session_key is not None and self.session_key == session_key

    def renew(self, token: str) -> bool:
        """Take a fresh access token of the same user (`reauth`); False for anything else."""
        claims = access_token_user_id(token)
        if claims is None or claims[0] != self.user_id:
            return False
        self.token_expires_at = claims[1]
        return True

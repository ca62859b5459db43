"""Every close code the server sends (contract §4), each saying what the client should do.

The 1xxx codes are the WebSocket protocol's own (RFC 6455 §7.4.1); the 44xx codes are the
contract's, in the application range. Clients decide whether to reconnect by the code alone.
"""

from __future__ import annotations

from enum import IntEnum


class CloseCode(IntEnum):
    """Why the server closed a dashboard WebSocket."""

    # A client frame over MAX_CLIENT_FRAME_BYTES. Reconnect, and send smaller messages: the
    # same message will be refused again.
    TOO_BIG = 1009
    # The client did not keep up with its messages (its outbox overflowed or stalled).
    # Reconnect, and resubscribe with `since` to replay what was missed.
    TRY_AGAIN_LATER = 1013
    # Not authenticated, or the token, ticket or session is not (or no longer) valid.
    # Do not reconnect with the same credentials: log in or get a fresh token first.
    NOT_AUTHENTICATED = 4401
    # The account is deactivated or has no dashboard access. Do not reconnect.
    FORBIDDEN = 4403
    # The access token expired without a `reauth`. Reconnect with a fresh access token.
    TOKEN_EXPIRED = 4408
    # Still flooding after `rate_limited`, or too many connections for one user. Reconnect
    # after a pause (with backoff), and close the user's other connections first.
    TOO_MANY = 4429


# Codes of the WebSocket protocol itself; autobahn (daphne) lets an application close only
# with 1000 or 3000-4999, so daphne's protocol sends these as plain close frames.
PROTOCOL_LEVEL = (CloseCode.TOO_BIG, CloseCode.TRY_AGAIN_LATER)

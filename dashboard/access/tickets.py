"""Single-use WebSocket tickets (contract §5 `POST /api/ws-ticket/`).

A ticket lets a browser or client that cannot set headers authenticate a handshake without
putting a long-lived token in a URL: it is random, valid for 30 s and redeemable once.
"""

from __future__ import annotations

import secrets

from dashboard.sources import redis_store

TICKET_TTL_S = 30
TICKET_BYTES = 32


def issue(user_id: int) -> str:
    ticket = secrets.token_urlsafe(TICKET_BYTES)
    redis_store.client().set(redis_store.ticket_key(ticket), str(user_id), ex=TICKET_TTL_S)
    return ticket


def redeem(ticket: str) -> int | None:
    """The ticket's user id, once; None for an unknown, expired or already used ticket."""
    if not ticket or len(ticket) > 128:
        return None
    value = redis_store.client().getdel(redis_store.ticket_key(ticket))
    return int(value) if value is not None else None

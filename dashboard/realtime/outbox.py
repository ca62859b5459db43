"""What a WebSocket holds back while its client is not reading (contract §4, close 1013).

While the socket's send buffer is full, messages wait here instead of in an unbounded buffer.
A socket full for less than BURST_GRACE_S still takes what is written: one turn of the event
loop can write more than the buffer's 64 KiB mark (a replay of up to 500 messages, the hub's
batch of pushes) before the client had a chance to read any of it, and daphne (Twisted) counts
a whole turn's writes as buffered before any reaches the kernel. An `update` replaces the
waiting update of the same scope and tier (only the latest matters; the client sees the seq
gap and resubscribes with `since`); every other message, alerts included, is kept. Past
MAX_PENDING_MESSAGES the client is too slow and is closed with 1013. Both servers' protocols
(dashboard/realtime/daphne_protocol.py, uvicorn_protocol.py) ask `Outbox.passes` and hold
messages through `Outbox.hold`, which decides and counts; each closes the socket its own way.
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from collections import OrderedDict

from dashboard.telemetry import instruments

logger = logging.getLogger(__name__)

MAX_PENDING_MESSAGES = 256
# A send buffer full for less than this is a burst being written, not a client that stopped reading.
BURST_GRACE_S = 0.05
# A socket whose send buffer stays full this long is closed too, however little waits.
STALL_LIMIT_S = 15.0
# How long a client closed with 1013 has to read up to the close frame before the socket drops.
CLOSE_GRACE_S = 30.0


def coalesce_key(text: str) -> tuple[str, str] | None:
    """(scope, tier) for an `update`, None for messages that must all be delivered."""
    try:
        message = json.loads(text)
    except ValueError:
        return None
    if isinstance(message, dict) and message.get("type") == "update":
        return str(message.get("scope")), str(message.get("tier"))
    return None


class Outbox:
    def __init__(self, limit: int = MAX_PENDING_MESSAGES) -> None:
        self._items: OrderedDict[object, str] = OrderedDict()
        self._numbers = itertools.count()
        self.limit = limit
        self.coalesced = 0

    def passes(self, blocked_since: float | None) -> bool:
        """True when a message goes straight to the socket's send buffer.

        That is when nothing waits here (order is kept) and the buffer is not full, or has been
        full since `blocked_since` (time.monotonic(), s) for at most BURST_GRACE_S.
        """
        if self._items:
            return False
        return blocked_since is None or time.monotonic() - blocked_since <= BURST_GRACE_S

    def add(self, text: str) -> bool:
        """Queue a message in order; False when the outbox is over its limit."""
        key: object = coalesce_key(text)
        if key is None:
            key = next(self._numbers)
        elif key in self._items:
            # Drop the older update and queue the newer one last, so the queue stays in seq order.
            del self._items[key]
            self.coalesced += 1
        self._items[key] = text
        return len(self._items) <= self.limit

    def hold(self, text: str, blocked_since: float | None, client: object) -> bool:
        """Queue `text` while the socket's send buffer has been full since `blocked_since`.

        False when the client is too slow (over the limit, or blocked past STALL_LIMIT_S): the
        outbox is then emptied and the caller closes the socket with 1013.
        """
        stalled_s = time.monotonic() - (blocked_since or time.monotonic())
        before = self.coalesced
        kept = self.add(text) and stalled_s <= STALL_LIMIT_S
        if self.coalesced > before:
            instruments.WS_COALESCED.inc(self.coalesced - before)
        if not kept:
            logger.warning(
                "closing %s with 1013: %d messages waiting, send buffer full for %.1f s",
                client,
                len(self),
                stalled_s,
            )
            instruments.WS_CLOSED_SLOW.inc()
            self.clear()
        return kept

    def pop(self) -> str:
        return self._items.popitem(last=False)[1]

    def clear(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)

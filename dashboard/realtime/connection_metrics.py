"""What the consumer and the hub count for /metrics: connections, messages, handshakes, delivery.

Cheap enough for the send path: one labelled counter increment per message (a few µs in
multiprocess mode; docs/OPERATIONS.md has the measurement). The hub counts a push once per
process for all its receiving sockets, not once per socket.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Mapping
from typing import Any

from dashboard.sources import service_clock
from dashboard.telemetry import instruments


def server_label(asgi_scope: Mapping[str, Any]) -> str:
    """The web process a connection is on: `hostname:port` (the port of ASGI `server`), unique
    across hosts even where every web process listens on 127.0.0.1."""
    server = asgi_scope.get("server") or ("", None)
    return f"{socket.gethostname()}:{server[1]}"


def opened(role: str, server: str) -> None:
    instruments.WS_CONNECTIONS.labels(role, server).inc()


def closed(role: str, server: str) -> None:
    instruments.WS_CONNECTIONS.labels(role, server).dec()


def handshake_refused(close_code: int) -> None:
    instruments.WS_HANDSHAKE_FAILURES.labels(str(int(close_code))).inc()


def handshake_done(started_monotonic: float) -> None:
    """A hello was sent: observe the seconds since the handshake started (time.monotonic())."""
    instruments.WS_HANDSHAKE_SECONDS.observe(time.monotonic() - started_monotonic)


def sent(message_type: str, count: int = 1) -> None:
    """`count` messages of `message_type` written to sockets."""
    instruments.WS_MESSAGES_SENT.labels(message_type).inc(count)


def delivered(event: Mapping[str, Any]) -> None:
    """A push handed to every local socket: seconds since it was published (`generated_at`,
    Unix time, set by dashboard/stream/publish.py); nothing for an event without it."""
    generated_at = event.get("generated_at")
    if isinstance(generated_at, float):
        instruments.WS_DELIVERY_SECONDS.observe(max(0.0, service_clock.time_s(refresh=False) - generated_at))

"""The `web` process: daphne (the default) or uvicorn, with the same limits on both.

    WEB_SERVER=daphne|uvicorn WEB_HOST=127.0.0.1 PORT=8000 python -m hospital_dash.web

daphne is the server this service documents first; uvicorn is the option for large fan-out
(docs/BENCHMARKS.md has both sets of figures). On both, every WebSocket has a bounded outbox
(a client that does not keep up is closed with 1013), a client message over 4 KiB is closed
with 1009, and X-Forwarded-For counts only from TRUSTED_PROXIES: neither server reads proxy
headers itself (daphne's --proxy-headers would trust any peer), hospital_dash/asgi.py applies
the one rule on both. Both run on uvloop, and load the application
before they listen, so its garbage-collection policy (hospital_dash.gc_policy) is in place
before the first connection.
"""

from __future__ import annotations

import asyncio
import atexit
import importlib
import os
import sys

import uvloop

from dashboard.protocol.client_messages import MAX_CLIENT_FRAME_BYTES
from dashboard.sources import log_context
from dashboard.telemetry import exposition, process_stats
from hospital_dash import gc_policy

APP = "hospital_dash.asgi:application"
SERVERS = ("daphne", "uvicorn")  # the first is the default
MAX_MESSAGE_BYTES = 1_048_576
# How long daphne waits for the consumer to accept a WebSocket (its default is 5 s). In a
# reconnect storm a busy process took longer; daphne closed those clients, they backed off
# and came back together, and on a slow machine 185 of 5,000 were back after a minute
# (36.7 s for all with 30 s; docs/BENCHMARKS.md). uvicorn has no such limit.
ACCEPT_WITHIN_S = 30
EXIT_BAD_CONFIGURATION = 2


class BadConfiguration(ValueError):
    pass


def read_config(environ: dict[str, str]) -> tuple[str, str, int]:
    """(server, host, port) from the environment, or BadConfiguration naming the variable."""
    server = environ.get("WEB_SERVER", "").strip().lower() or SERVERS[0]
    if server not in SERVERS:
        raise BadConfiguration(f"WEB_SERVER must be one of {', '.join(SERVERS)}, not {server!r}")
    host = environ.get("WEB_HOST", "").strip() or "127.0.0.1"
    port_text = environ.get("PORT", "").strip() or "8000"
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise BadConfiguration(f"PORT must be a port number from 1 to 65535, not {port_text!r}")
    return server, host, int(port_text)


def main() -> int:
    try:
        server, host, port = read_config(dict(os.environ))
    except BadConfiguration as exc:
        print(f"web: {exc}", file=sys.stderr)
        return EXIT_BAD_CONFIGURATION
    log_context.set_role("web")
    # Before anything imports daphne, which creates Twisted's event loop at import time (and the
    # settings' INSTALLED_APPS import it). With uvloop the fan-out of 2,000 clients at 10
    # updates/s on daphne had a p99 of 668 and 1,161 ms against 2,041 and 2,313 ms on asyncio's loop.
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    importlib.import_module(APP.partition(":")[0])  # Django set up, sources checked (exit 3)
    gc_policy.settle()
    # Its memory, CPU and descriptors on /metrics; its live gauges leave the sums when it ends.
    process_stats.start_sampler("web")
    atexit.register(exposition.mark_dead)
    # Its memory, CPU and connections on the admins' system-health tile (after Django's set-up).
    from dashboard.realtime import health_report

    health_report.start(port)
    if server == "uvicorn":
        from dashboard.realtime import uvicorn_protocol

        # websockets counts whole messages: a client message over 4 KiB closes with 1009.
        uvicorn_protocol.run(APP, host, port, MAX_CLIENT_FRAME_BYTES)
        return 0
    from dashboard.realtime import daphne_protocol

    daphne_protocol.run(
        [
            "--bind",
            host,
            "--port",
            str(port),
            "--websocket_connect_timeout",
            str(ACCEPT_WITHIN_S),
            "--websocket-max-frame-size",
            str(MAX_CLIENT_FRAME_BYTES),
            "--websocket-max-message-size",
            str(MAX_MESSAGE_BYTES),
            APP,
        ]
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

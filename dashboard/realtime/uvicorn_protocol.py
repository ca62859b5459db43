"""uvicorn, with the same bounded outbox per WebSocket as daphne: the `web` process's option
for large fan-out (WEB_SERVER=uvicorn, hospital_dash.web).

uvicorn's WebSocket protocol makes an application's `send` wait while the socket's send
buffer is full. The fan-out hub hands one push to every local connection in turn, so one
client that stops reading would hold up every other client of the process. Here a send never
waits: once the transport has paused writing (its buffer is over 64 KiB) for longer than a
burst takes to write (`BURST_GRACE_S`), messages wait in a `dashboard.realtime.outbox.Outbox`
and go out when it resumes. A client whose outbox overflows, or
stays blocked for STALL_LIMIT_S, is closed with 1013 and given CLOSE_GRACE_S to read what it
was sent, as on daphne (dashboard/realtime/daphne_protocol.py).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import uvicorn
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from dashboard.protocol.close_codes import CloseCode
from dashboard.protocol.frames import text_frame
from dashboard.realtime.outbox import CLOSE_GRACE_S, Outbox

GRACEFUL_SHUTDOWN_S = 10
# After refusing a message (1009), what the client still sends is read and dropped until it
# closes its side, at most this long.
REFUSED_DRAIN_S = 10.0


class WithoutQueryStrings(logging.Filter):
    """uvicorn logs each WebSocket's path with its query string; `?ticket=` values must not reach logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(arg.partition("?")[0] if isinstance(arg, str) else arg for arg in record.args)
        return True


class OutboxWebSocketProtocol(WebSocketsSansIOProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.outbox = Outbox()
        self.paused_since: float | None = None
        self.refused = False

    def data_received(self, data: bytes) -> None:
        if not self.refused:
            super().data_received(data)

    def handle_parser_exception(self) -> None:
        # uvicorn closes the socket right after the close frame; a client still sending the
        # message that was too big would then get a reset instead of the 1009. Here the close
        # frame is followed by end-of-file, and what the client still sends is dropped.
        assert self.conn.close_sent is not None
        close = self.conn.close_sent
        self.queue.put_nowait({"type": "websocket.disconnect", "code": close.code, "reason": close.reason})
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.close_sent = True
        self.refused = True
        self.transport.write_eof()
        self.close_timer = self.loop.call_later(REFUSED_DRAIN_S, self.transport.abort)

    def pause_writing(self) -> None:
        super().pause_writing()
        if self.paused_since is None:
            self.paused_since = time.monotonic()

    def resume_writing(self) -> None:
        super().resume_writing()
        self.paused_since = None
        while self.outbox and self.paused_since is None and not self.close_sent:
            self._write_text(self.outbox.pop())

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self.outbox.clear()

    async def send(self, message: Any) -> None:
        kind = message["type"]
        if not self.handshake_complete or self.initial_response is not None or kind == "websocket.accept":
            await super().send(message)
            return
        if self.disconnected or self.close_sent:
            return  # as on daphne (daphne_protocol.py), a closing socket drops pushes quietly
        if kind == "websocket.close":
            if self.paused_since is None:
                await super().send(message)
            else:
                self._close(message.get("code", 1000), message.get("reason") or "", CLOSE_GRACE_S)
            return
        text = message.get("text")
        if kind != "websocket.send" or text is None:
            await super().send(message)
        elif self.outbox.passes(self.paused_since):
            self._write_text(text)
        elif not self.outbox.hold(text, self.paused_since, self.client):
            self._close(CloseCode.TRY_AGAIN_LATER, "", CLOSE_GRACE_S)

    def _write_text(self, text: str) -> None:
        """The push's frame, built once per process (dashboard.protocol.frames), straight to the socket."""
        self.transport.write(text_frame(text))

    def _close(self, code: int, reason: str, grace_s: float) -> None:
        """A close frame behind what the buffer holds; the socket drops if not read within grace_s."""
        self.queue.put_nowait({"type": "websocket.disconnect", "code": code, "reason": reason})
        self.conn.send_close(code, reason)
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.close_sent = True
        if self.read_paused:
            self.read_paused = False
            self.transport.resume_reading()
        self.close_timer = self.loop.call_later(grace_s, self.transport.abort)


def run(app: str, host: str, port: int, max_message_bytes: int) -> None:
    logging.getLogger("uvicorn.error").addFilter(WithoutQueryStrings())
    uvicorn.run(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        ws=OutboxWebSocketProtocol,
        ws_max_size=max_message_bytes,
        ws_per_message_deflate=False,
        lifespan="off",
        # X-Forwarded-* are applied by hospital_dash.asgi from TRUSTED_PROXIES only, as on daphne.
        proxy_headers=False,
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
    )

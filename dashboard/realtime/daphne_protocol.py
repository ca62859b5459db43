"""daphne, with a bounded outbox per WebSocket: the `web` process's default server (hospital_dash.web,
which puts Twisted on uvloop's event loop before daphne is imported).

daphne writes every message into Twisted's send buffer, which grows without bound while a
client does not read. Here each WebSocket registers as the producer of its transport, so
Twisted says when the buffer is full (over 64 KiB). Twisted counts everything written in one
reactor turn as buffered until the turn ends, so a burst (a replay, the hub's batch of pushes)
passes it before the kernel was asked to take any; the outbox lets a socket full for under
`BURST_GRACE_S` take the burst. From then until it drains, messages wait in a
`dashboard.realtime.outbox.Outbox`. A client whose outbox overflows, or stays blocked for
STALL_LIMIT_S, is closed with 1013 and given CLOSE_GRACE_S to read what it was sent.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any

from daphne.access import AccessLogGenerator
from daphne.cli import CommandLineInterface
from daphne.server import Server
from daphne.ws_protocol import WebSocketProtocol
from twisted.internet import reactor
from twisted.internet.interfaces import IPushProducer
from zope.interface import implementer

from dashboard.protocol.close_codes import PROTOCOL_LEVEL, CloseCode
from dashboard.protocol.frames import text_frame
from dashboard.realtime.outbox import CLOSE_GRACE_S, Outbox


@implementer(IPushProducer)
class _SendGate:
    """Twisted pauses this producer when the socket's send buffer is full, resumes it when drained."""

    def __init__(self, protocol: OutboxWebSocketProtocol) -> None:
        self.protocol = protocol
        self.paused_since: float | None = None

    @property
    def paused(self) -> bool:
        return self.paused_since is not None

    def pauseProducing(self) -> None:
        if self.paused_since is None:
            self.paused_since = time.monotonic()

    def resumeProducing(self) -> None:
        self.paused_since = None
        self.protocol.drain_outbox()

    def stopProducing(self) -> None:
        self.paused_since = self.paused_since or time.monotonic()


class OutboxWebSocketProtocol(WebSocketProtocol):
    gate: _SendGate | None = None

    def onOpen(self) -> None:
        super().onOpen()
        self.outbox = Outbox()
        self.too_slow = False
        self.gate = _SendGate(self)
        # daphne's HTTP channel registered itself before the upgrade; the socket is ours now.
        self.transport.unregisterProducer()
        self.transport.registerProducer(self.gate, True)

    def serverSend(self, content: Any, binary: bool = False) -> None:
        gate = self.gate
        if binary or gate is None:
            super().serverSend(content, binary)
            return
        if self.too_slow or self.state in (self.STATE_CLOSING, self.STATE_CLOSED):
            # The socket is closing (a client's close frame, a dropped connection daphne has not
            # been told of yet): nothing more can reach this client, which resumes with `since`
            # when it comes back. autobahn would raise, and the hub would log a push as failed.
            return
        if self.outbox.passes(gate.paused_since):
            self._write_text(content)
        elif not self.outbox.hold(content, gate.paused_since, self.client_addr):
            self._close_too_slow()

    def drain_outbox(self) -> None:
        while self.outbox and self.gate is not None and not self.gate.paused and not self.too_slow:
            self._write_text(self.outbox.pop())

    def _write_text(self, text: str) -> None:
        """The push's frame, built once per process (dashboard.protocol.frames), straight to the socket."""
        if self.state == self.STATE_OPEN:
            self.transport.write(text_frame(text))
        else:
            super().serverSend(text, False)

    def _close_too_slow(self) -> None:
        self.too_slow = True
        # Give the client time to read up to the close frame before the socket is dropped.
        self.closeHandshakeTimeout = CLOSE_GRACE_S
        self.sendCloseFrame(code=CloseCode.TRY_AGAIN_LATER)

    def serverClose(self, code: int | None = None) -> None:
        # autobahn lets applications close only with 1000 or 3000-4999; 1009 and 1013 are the
        # protocol's own codes, which the contract uses, so they go out as plain close frames.
        if code in PROTOCOL_LEVEL:
            self.sendCloseFrame(code=code)
            return
        # autobahn refuses anything but an int: a CloseCode (4401, 4403…) raised, and the
        # consumer's failure path closed with 1013 instead.
        super().serverClose(None if code is None else int(code))


access_logger = logging.getLogger("daphne.access")


class LoggedAccessLog(AccessLogGenerator):
    """daphne's access log as lines of `daphne.access` (JSON in production) instead of raw text
    on stdout; the line's own timestamp replaces the entry's date."""

    def write_entry(
        self,
        host: str,
        date: datetime,
        request: str,
        status: int | None = None,
        length: int | None = None,
        ident: str | None = None,
        user: str | None = None,
    ) -> None:
        access_logger.info('%s "%s" %s %s', host, request, status or "-", length or "-")


class OutboxServer(Server):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("action_logger") is not None:
            kwargs["action_logger"] = LoggedAccessLog(None)
        super().__init__(*args, **kwargs)

    def run(self) -> None:
        reactor.callWhenRunning(self._use_outbox_protocol)
        super().run()

    def _use_outbox_protocol(self) -> None:
        self.ws_factory.protocol = OutboxWebSocketProtocol
        # A frame over --websocket-max-frame-size gets a close frame with 1009, not a dropped socket.
        self.ws_factory.setProtocolOptions(failByDrop=False)


class OutboxCommandLineInterface(CommandLineInterface):
    description = "daphne with bounded per-connection outboxes (hospital dashboard)"
    server_class = OutboxServer


def run(argv: list[str]) -> None:
    OutboxCommandLineInterface().run(argv)

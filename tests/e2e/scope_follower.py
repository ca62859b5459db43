"""A WebSocket client that follows one scope as the contract tells clients to (§4).

It connects (again and again, as a browser would), applies the first snapshot, and on every
reconnection resubscribes with `since` and waits for `subscribed` before applying anything.
Every stream message it applies must be the next `seq` of the same epoch: a gap, an epoch
change, a refused recovery or a heartbeat ahead of it is recorded in `errors`.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidHandshake, WebSocketException

from tests.support.schema import check_schema

STREAM_TYPES = ("update", "alert", "alert_acknowledged")
RECONNECT_DELAY_S = 0.2


@dataclass
class ScopeFollower:
    name: str
    url: str
    token: str
    tls: ssl.SSLContext
    scope: str = "hospital"
    epoch: str | None = None
    seq: int = 0
    # Alert id → when it was applied (time.monotonic()).
    alerts: dict[str, float] = field(default_factory=dict)
    disconnects: list[float] = field(default_factory=list)
    recoveries: list[float] = field(default_factory=list)
    duplicates: int = 0
    # Stream messages generated before the resubscription that delivered them: replayed ones.
    replayed: int = 0
    _resubscribed_at: datetime | None = None
    errors: list[str] = field(default_factory=list)
    synced: bool = False

    async def run(self, stop: asyncio.Event) -> None:
        """Follow the scope until `stop` is set, reconnecting whenever the connection ends."""
        while not stop.is_set():
            try:
                async with connect(
                    self.url,
                    ssl=self.tls,
                    additional_headers={"Authorization": f"Bearer {self.token}"},
                    open_timeout=10,
                ) as socket:
                    await self._follow(socket, stop)
            except (OSError, TimeoutError, InvalidHandshake, WebSocketException):
                pass
            if not stop.is_set():
                self.synced = False
                self.disconnects.append(time.monotonic())
                await asyncio.sleep(RECONNECT_DELAY_S)

    async def _follow(self, socket: ClientConnection, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                raw = await asyncio.wait_for(socket.recv(), 0.5)
            except TimeoutError:
                continue
            message = json.loads(raw)
            check_schema(message)
            await self._apply(socket, message)

    async def _apply(self, socket: ClientConnection, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "hello" and self.epoch is not None:
            since = {"epoch": self.epoch, "seq": self.seq}
            await socket.send(json.dumps({"type": "subscribe", "scope": self.scope, "since": since}))
        elif kind == "snapshot" and self.epoch is None and message["scope"] == self.scope:
            self.epoch, self.seq, self.synced = message["epoch"], message["seq"], True
        elif kind == "subscribed" and message["scope"] == self.scope and not self.synced:
            if not message["recovered"]:
                self.errors.append(f"resubscribing at seq {self.seq} was not recovered")
            self.synced = True
            self.recoveries.append(time.monotonic())
            self._resubscribed_at = datetime.now(UTC)
        elif self.synced and message.get("scope") == self.scope:
            self._apply_stream(message)

    def _apply_stream(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "heartbeat" and message["seq"] > self.seq:
            self.errors.append(f"heartbeat at seq {message['seq']} while at {self.seq}")
        if kind not in STREAM_TYPES:
            return
        if message["epoch"] != self.epoch:
            self.errors.append(f"epoch changed from {self.epoch} to {message['epoch']}")
            return
        if message["seq"] <= self.seq:
            self.duplicates += 1
            return
        if message["seq"] != self.seq + 1:
            self.errors.append(f"gap: seq {self.seq} then {message['seq']}")
        self.seq = message["seq"]
        resubscribed_at = self._resubscribed_at
        if resubscribed_at and datetime.fromisoformat(message["generated_at"]) < resubscribed_at:
            self.replayed += 1
        if kind == "alert":
            self.alerts[message["alert"]["id"]] = time.monotonic()

"""A WebSocket client in a thread that follows the hospital scope and records every alert.

It behaves as the contract tells clients to (docs/API_REFERENCE.md §3): a gap, another
epoch or a heartbeat ahead of it makes it resubscribe with `since`; a refused recovery is
followed by a snapshot; a closed connection is opened again and resubscribed. Every alert
message is recorded by id whatever its position, since alerts are deduplicated by id.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from websockets.exceptions import ConnectionClosed, InvalidHandshake

from tests.e2e.wsclient import DashboardClient

STREAM_TYPES = ("update", "alert", "alert_acknowledged")
SILENCE_S = 25.0


@dataclass
class AlertFollower:
    url: str
    token: str
    epoch: str | None = None
    seq: int = 0
    resyncing: bool = True
    # A resubscribe with `since` is unanswered: a snapshot of a reconnection is not applied before it.
    awaiting: bool = False
    # Alert id → (when it arrived, whether it arrived in sequence with nothing missed before it).
    alerts: dict[str, tuple[float, bool]] = field(default_factory=dict)
    statuses: list[tuple[float, dict[str, str]]] = field(default_factory=list)
    resubscribes: list[tuple[float, str]] = field(default_factory=list)
    recoveries: list[bool] = field(default_factory=list)
    snapshots: int = 0
    # New alerts that came with a seq this client had already applied (seq reuse after a failover).
    reused_seqs: int = 0
    reconnects: int = 0
    # Every epoch this client applied a snapshot of, in order.
    epochs: list[str] = field(default_factory=list)
    # Alert ids applied in sequence that were generated before the resubscription delivering them.
    replayed: set[str] = field(default_factory=set)
    _resubscribed_at: datetime | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> AlertFollower:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                client = DashboardClient(self.url, token=self.token)
            except (OSError, TimeoutError, InvalidHandshake):
                time.sleep(0.2)
                continue
            try:
                self._follow(client)
            except ConnectionClosed:
                self.reconnects += 1
            finally:
                client.close()

    def _follow(self, client: DashboardClient) -> None:
        last_message = time.monotonic()
        while not self._stop.is_set():
            try:
                message = client.recv(0.5)
            except TimeoutError:
                if time.monotonic() - last_message > SILENCE_S:
                    self._resubscribe(client, "silence")
                    last_message = time.monotonic()
                continue
            last_message = time.monotonic()
            self._apply(client, message)

    def _resubscribe(self, client: DashboardClient, reason: str) -> None:
        self.resubscribes.append((time.monotonic(), reason))
        self.resyncing = self.awaiting = True
        since = {"epoch": self.epoch, "seq": self.seq}
        client.send({"type": "subscribe", "scope": "hospital", "since": since})

    def _apply(self, client: DashboardClient, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "alert":
            new_alert = message["alert"]["id"] not in self.alerts
            self.alerts.setdefault(message["alert"]["id"], (time.monotonic(), False))
            if (
                new_alert
                and not self.resyncing
                and message["epoch"] == self.epoch
                and message["seq"] <= self.seq
            ):
                self.reused_seqs += 1  # a new alert at a seq already applied: Redis lost increments
        if kind == "hello" and self.epoch is not None:
            self._resubscribe(client, "reconnected")
        elif kind == "snapshot" and message["scope"] == "hospital" and not self.awaiting:
            self.epoch, self.seq, self.resyncing = message["epoch"], message["seq"], False
            self.snapshots += 1
            if not self.epochs or self.epochs[-1] != self.epoch:
                self.epochs.append(self.epoch)
        elif kind == "subscribed" and message["scope"] == "hospital":
            self.recoveries.append(message["recovered"])
            if message["recovered"]:
                self._resubscribed_at = datetime.now(UTC)
            self.awaiting = False
            self.resyncing = not message["recovered"]  # a snapshot follows a refused recovery
        elif kind == "status":
            self.statuses.append((time.monotonic(), message["sources"]))
        elif kind == "heartbeat" and not self.resyncing:
            if message["epoch"] != self.epoch or message["seq"] > self.seq:
                self._resubscribe(client, "heartbeat ahead")
        elif kind in STREAM_TYPES and not self.resyncing:
            self._apply_stream(client, message)

    def _apply_stream(self, client: DashboardClient, message: dict[str, Any]) -> None:
        if message["epoch"] != self.epoch:
            self._resubscribe(client, "new epoch")
        elif message["seq"] > self.seq + 1:
            self._resubscribe(client, f"gap {self.seq} -> {message['seq']}")
        elif message["seq"] == self.seq + 1:
            self.seq = message["seq"]
            if message["type"] == "alert":
                alert_id = message["alert"]["id"]
                self.alerts[alert_id] = (self.alerts[alert_id][0], True)
                resubscribed_at = self._resubscribed_at
                if resubscribed_at and datetime.fromisoformat(message["generated_at"]) < resubscribed_at:
                    self.replayed.add(alert_id)

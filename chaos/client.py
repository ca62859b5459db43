"""One dashboard client as the page behaves (dashboard/static/dashboard/dashboard.js and the
contract, docs/API_REFERENCE.md §3), recording what it received.

Per scope it keeps the `epoch` and `seq` last applied and the three tiers shown. A gap, another
epoch or a heartbeat ahead makes it resubscribe with `since`; while that is outstanding,
messages that do not fit are dropped. A closed connection is opened again (on the other web
process when this one refuses, as behind a load balancer) and every scope is resubscribed with
`since`. After every snapshot it fetches the scope's alerts over HTTP
(`GET /api/alerts/?state=all`), as the page reads its alert list after a snapshot: those are
the alerts it "recovered".

Alerts are recorded by id whatever their position (deduplicated by id, §3.4); each message's
delivery latency is its arrival minus its `generated_at` (one machine, one clock).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import urllib.request
from array import array
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidHandshake, WebSocketException

LATENCY_WINDOW_S = 300.0
STREAM_TYPES = ("update", "alert", "alert_acknowledged")
TIERS = ("critical", "standard", "historical")
SILENCE_S = 25.0


class LatencyLog:
    """Delivery latencies (seconds) of every client, by 5-minute window of wall-clock time."""

    def __init__(self) -> None:
        self.windows: dict[int, array[float]] = {}

    def add(self, latency_s: float) -> None:
        self.windows.setdefault(int(time.time() // LATENCY_WINDOW_S), array("d")).append(latency_s)

    def p99_by_window(self) -> list[tuple[int, float, int]]:
        """(window start as a Unix time, p99 latency in seconds, messages) per window, in order."""
        rows = []
        for window, values in sorted(self.windows.items()):
            ordered = sorted(values)
            rows.append(
                (int(window * LATENCY_WINDOW_S), ordered[int(0.99 * (len(ordered) - 1))], len(ordered))
            )
        return rows


@dataclass
class ScopeState:
    """What a client shows of one scope."""

    epoch: str | None = None
    seq: int = 0
    resyncing: bool = True
    snapshot_stale: bool = False
    tiers: dict[str, dict[str, Any]] = field(default_factory=dict)
    last_message_at: float = 0.0
    # tier → `computed_at` of the last update applied: the contract (§3.4) says it never goes
    # back from one update of a scope to the next.
    updated_at: dict[str, str] = field(default_factory=dict)
    went_back: list[str] = field(default_factory=list)


@dataclass
class Client:
    """A client of `username` (role, departments) connected to `urls[home]`."""

    index: int
    username: str
    role: str
    departments: tuple[str, ...]
    token: str
    urls: list[str]
    http_urls: list[str]
    home: int
    scopes: dict[str, ScopeState] = field(default_factory=dict)
    alerts: dict[str, float] = field(default_factory=dict)
    recovered_alerts: set[str] = field(default_factory=set)
    # Alert id → when (Unix time, this machine's clock) its escalation first arrived.
    escalations: dict[str, float] = field(default_factory=dict)
    # (scope, alert id) → the (`by`, `at`) of every `alert_acknowledged` applied, in order.
    acknowledged: dict[tuple[str, str], list[tuple[str, str]]] = field(default_factory=dict)
    sources_down: bool = False
    # Every `status` received: (time.monotonic(), its `sources`).
    statuses: list[tuple[float, dict[str, str]]] = field(default_factory=list)
    connected: bool = False
    # The URL of the open connection (None while there is none).
    url: str | None = None
    connections: int = 0
    disconnects: list[float] = field(default_factory=list)
    received: int = 0
    resubscribes: int = 0
    not_recovered: int = 0
    gaps: int = 0
    errors: list[str] = field(default_factory=list)
    latency: LatencyLog = field(default_factory=lambda: LatencyLog())
    _drop: bool = False
    _socket: ClientConnection | None = None

    @property
    def with_revenue(self) -> bool:
        return self.role == "admin"

    def visible_departments(self, all_departments: tuple[str, ...]) -> tuple[str, ...]:
        return all_departments if self.role in ("admin", "viewer") else self.departments

    def drop(self) -> None:
        """Cut the connection at once (from the load's thread): it reconnects by itself."""
        self._drop = True

    def synced(self) -> bool:
        return self.connected and bool(self.scopes) and not any(s.resyncing for s in self.scopes.values())

    async def run(self, stop: asyncio.Event) -> None:
        url_index = self.home
        attempt = 0
        while not stop.is_set():
            url = self.urls[url_index % len(self.urls)]
            try:
                async with connect(
                    url,
                    additional_headers={"Authorization": f"Bearer {self.token}"},
                    open_timeout=15,
                    max_size=2**22,
                ) as socket:
                    self._socket, self.connected, self.url, attempt = socket, True, url, 0
                    self.connections += 1
                    await self._follow(socket, stop)
            except (OSError, TimeoutError, InvalidHandshake, WebSocketException):
                url_index += 1  # the other web process, as a load balancer would pick
            except (KeyError, TypeError, ValueError) as exc:  # a message not as the contract says
                self.errors.append(f"{exc.__class__.__name__}: {exc}")
            self.connected, self._socket, self.url = False, None, None
            if not stop.is_set():
                self.disconnects.append(time.monotonic())
                for state in self.scopes.values():
                    state.resyncing = True
                attempt += 1
                await asyncio.sleep(min(5.0, 0.25 * 2 ** min(attempt, 4)) * random.uniform(0.5, 1.5))

    async def _follow(self, socket: ClientConnection, stop: asyncio.Event) -> None:
        last = time.monotonic()
        while not stop.is_set():
            if self._drop:
                self._drop = False
                socket.transport.abort()
                return
            try:
                raw = await asyncio.wait_for(socket.recv(), 0.5)
            except TimeoutError:
                if time.monotonic() - last > SILENCE_S:
                    for scope in self.scopes:
                        await self._resubscribe(socket, scope)
                    last = time.monotonic()
                continue
            last = time.monotonic()
            message = json.loads(raw)
            self.received += 1
            await self._apply(socket, message, last)

    async def _resubscribe(self, socket: ClientConnection, scope: str) -> None:
        state = self.scopes[scope]
        state.resyncing = True
        self.resubscribes += 1
        since = {"epoch": state.epoch or "none", "seq": state.seq}
        await socket.send(json.dumps({"type": "subscribe", "scope": scope, "since": since}))

    async def _apply(self, socket: ClientConnection, message: dict[str, Any], now: float) -> None:
        kind = message["type"]
        if kind in STREAM_TYPES:
            generated = datetime.fromisoformat(message["generated_at"]).timestamp()
            self.latency.add(time.time() - generated)
        scope = message.get("scope")
        if kind == "hello":
            for subscribed in message["subscribed"]:
                self.scopes.setdefault(subscribed, ScopeState())
            for known, state in self.scopes.items():
                if state.epoch is not None:
                    await self._resubscribe(socket, known)
        elif kind == "status":
            self.statuses.append((now, dict(message["sources"])))
            was_down = self.sources_down
            self.sources_down = any(value != "ok" for value in message["sources"].values())
            if was_down and not self.sources_down:  # as the page: resync every scope
                for known in self.scopes:
                    await self._resubscribe(socket, known)
        elif kind == "ack_result" and not message["ok"]:
            self.errors.append(f"ack refused: {message.get('reason')}")
        elif scope in self.scopes:
            await self._apply_scope(socket, scope, self.scopes[scope], message, now)

    async def _apply_scope(
        self, socket: ClientConnection, scope: str, state: ScopeState, message: dict[str, Any], now: float
    ) -> None:
        kind = message["type"]
        if kind == "alert":
            self.alerts.setdefault(message["alert"]["id"], now)
            if message["alert"].get("escalated"):
                self.escalations.setdefault(message["alert"]["id"], time.time())
        if kind == "snapshot":
            asyncio.get_running_loop().run_in_executor(None, self._recover_alerts, scope)
            state.epoch, state.seq, state.resyncing = message["epoch"], message["seq"], False
            state.snapshot_stale = bool(message["stale"])
            state.tiers = dict(message["data"])
            state.last_message_at = now
        elif kind == "subscribed":
            state.resyncing = not message["recovered"]
            if not message["recovered"]:
                self.not_recovered += 1
        elif kind == "heartbeat":
            if not state.resyncing and (message["epoch"] != state.epoch or message["seq"] > state.seq):
                self.gaps += 1
                await self._resubscribe(socket, scope)
        elif kind in STREAM_TYPES and not state.resyncing:
            if message["epoch"] != state.epoch or message["seq"] > state.seq + 1:
                self.gaps += 1
                await self._resubscribe(socket, scope)
            elif message["seq"] == state.seq + 1:
                state.seq = message["seq"]
                state.last_message_at = now
                self._apply_stream(state, message)

    def _apply_stream(self, state: ScopeState, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "update":
            tier = message["tier"]
            before = state.updated_at.get(tier, "")
            if message["data"]["computed_at"] < before:
                state.went_back.append(f"{tier} {before} -> {message['data']['computed_at']}")
            state.updated_at[tier] = message["data"]["computed_at"]
            state.tiers[tier] = message["data"]
            state.snapshot_stale = False
        elif kind == "alert_acknowledged":
            key = (message["scope"], message["alert_id"])
            self.acknowledged.setdefault(key, []).append((message["by"], message["at"]))

    def _recover_alerts(self, scope: str) -> None:
        base = self.http_urls[self.home % len(self.http_urls)]
        request = urllib.request.Request(  # noqa: S310 (the stack's own http:// URL)
            f"{base}/api/alerts/?scope={scope}&state=all", headers={"Authorization": f"Bearer {self.token}"}
        )
        try:
            with urllib.request.urlopen(request, timeout=15) as response:  # noqa: S310 (http://127.0.0.1)
                body = json.loads(response.read())
        except (OSError, ValueError) as exc:
            self.errors.append(f"alert recovery of {scope} failed: {exc.__class__.__name__}")
            return
        self.recovered_alerts.update(row["id"] for row in body["alerts"])

"""N clients over the three roles and several departments, spread over both web processes,
run in a thread of their own (one asyncio loop) while the faults act from the main thread.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

from chaos.client import Client, LatencyLog
from chaos.stack import USERS

# How the clients are spread over the users: admins, viewers, then the department users.
USER_CYCLE = ("chaos_admin", "chaos_viewer", "chaos_er", "chaos_icu", "chaos_card_ped")
# Connections opened per second while the load starts, so the start is no reconnect storm.
CONNECT_RATE = 100


class Load:
    """`count` clients; `start()` returns once every client is synced (or raises)."""

    def __init__(self, count: int, tokens: dict[str, str], ws_urls: list[str], http_urls: list[str]) -> None:
        self.latency = LatencyLog()
        self.clients = [
            Client(
                index=index,
                username=USER_CYCLE[index % len(USER_CYCLE)],
                role=USERS[USER_CYCLE[index % len(USER_CYCLE)]][0],
                departments=USERS[USER_CYCLE[index % len(USER_CYCLE)]][1],
                token=tokens[USER_CYCLE[index % len(USER_CYCLE)]],
                urls=ws_urls,
                http_urls=http_urls,
                home=index % len(ws_urls),
                latency=self.latency,
            )
            for index in range(count)
        ]
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="chaos-clients", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._main())
        self._loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        tasks = []
        for client in self.clients:
            tasks.append(asyncio.create_task(client.run(self._stop)))
            await asyncio.sleep(1 / CONNECT_RATE)
        await self._stop.wait()
        await asyncio.gather(*tasks, return_exceptions=True)

    def start(self, timeout_s: float = 120) -> None:
        self._thread.start()
        try:
            self.wait_until(lambda: all(c.synced() for c in self.clients), timeout_s, "clients synced")
        except AssertionError as exc:
            connected = sum(c.connected for c in self.clients)
            synced = sum(c.synced() for c in self.clients)
            errors = [e for c in self.clients for e in c.errors][:3]
            received = sum(c.received for c in self.clients)
            raise AssertionError(
                f"{exc}: {connected} connected, {synced} synced, {received} messages; {errors}"
            ) from None

    def wait_until(self, condition: Callable[[], bool], timeout_s: float, what: str) -> float:
        """Seconds until `condition()` held; AssertionError after `timeout_s`."""
        started = time.monotonic()
        while not condition():
            if time.monotonic() - started > timeout_s:
                raise AssertionError(f"not {what} within {timeout_s} s")
            time.sleep(0.1)
        return time.monotonic() - started

    def stop(self) -> None:
        """Close every client (idempotent)."""
        if self._stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread.is_alive():
            self._thread.join(30)

"""The connection ticker serves the running event loop, whatever an earlier loop left behind.

A web process runs one loop; the test suite runs one per test, and a test stopped by a timeout
leaves its loop's tasks pending for good. Such leftovers must not stop the next loop's ticks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any

import pytest

from dashboard.protocol.scopes import Scope
from dashboard.realtime import ticker
from dashboard.stream.publish import Position


class CountingConnection:
    """A connection that follows no scope and counts its ticks."""

    user_id = 0

    def __init__(self) -> None:
        self.ticks = 0

    async def on_tick(self, now: float, positions: Mapping[Scope, Position]) -> None:
        self.ticks += 1

    def followed_scopes(self) -> Iterable[Scope]:
        return ()

    async def on_sources_changed(self, states: dict[str, Any]) -> None:
        return None

    async def on_access_read(self, access: Any, session_hashes: Any) -> None:
        return None

    def uses_session(self) -> bool:
        return False

    def lease(self) -> tuple[int, str]:
        return (0, "counting")


async def _nothing(now: float) -> None:
    return None


@pytest.fixture
def quick_ticks(monkeypatch) -> None:
    """Ticks every 50 ms that neither read the sources, the database nor the leases."""
    monkeypatch.setattr(ticker, "TICK_S", 0.05)
    for duty in ("_check_sources", "_check_access", "_refresh_leases"):
        monkeypatch.setattr(ticker, duty, _nothing)


def test_a_ticker_left_on_a_stopped_loop_is_replaced(quick_ticks) -> None:
    left, current = CountingConnection(), CountingConnection()
    stopped = asyncio.new_event_loop()

    async def register_and_stop() -> None:
        ticker.register(left)

    stopped.run_until_complete(register_and_stop())
    stopped.close()  # its ticker never ran and never will, as after a test stopped by a timeout

    async def follow_for_half_a_second() -> int:
        ticker.register(current)
        await asyncio.sleep(0.5)
        ticker.unregister(current)
        return current.ticks

    try:
        assert asyncio.run(follow_for_half_a_second()) >= 3
    finally:
        ticker.unregister(left)


def test_a_call_left_running_on_a_stopped_loop_does_not_hold_back_the_next() -> None:
    bounded = ticker._Bounded("a read")
    stopped = asyncio.new_event_loop()
    bounded.running = stopped.create_future()  # never done: its loop is gone
    stopped.close()

    assert asyncio.run(bounded.run(lambda: 42)) == 42

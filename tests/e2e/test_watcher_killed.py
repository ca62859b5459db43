"""A killed watcher leaves no stale critical tile: Celery recomputes from MongoDB within a tier interval.

Real daphne, Celery worker and beat, and the watcher as separate processes; a real WebSocket
client of the ER department. The watcher is killed with SIGKILL, so it cannot clear the
counters' live mark; the mark must lapse by itself (dashboard/watcher/loop.py LIVE_TTL_S) and
the next critical run must read MongoDB, not the counters nobody maintains any more.
"""

from __future__ import annotations

import signal
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from dashboard.sources import redis_store
from dashboard.watcher.loop import LIVE_TTL_S
from tests.e2e.wsclient import DashboardClient
from tests.support.live_stack import LiveStack

pytestmark = pytest.mark.e2e

PASSWORD = "a-long-test-password-7"
# The contract (§7): no client on wrong data for longer than one tier interval; the bound.
BOUND_S = 12.0


@pytest.fixture(scope="module")
def stack(live_stack: LiveStack) -> LiveStack:
    live_stack.create_user("er_lead", PASSWORD, "department", "ER")
    live_stack.start("web", "worker", "beat", "watcher")
    live_stack.wait_for_web()
    live_stack.wait_for_log("worker", "ready")
    live_stack.wait_for_log("watcher", "6 of 6 change streams open")
    return live_stack


def wait_until_live(stack: LiveStack, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not stack.redis().exists(redis_store.MAINTAINED_LIVE_KEY):
        assert time.monotonic() < deadline, f"the counters never went live:\n{stack.logs()}"
        time.sleep(0.05)


def is_critical_update(message: dict[str, Any]) -> bool:
    return message["type"] == "update" and message["tier"] == "critical"


def test_after_a_watcher_sigkill_a_new_emergency_reaches_the_tile_within_12_s(stack: LiveStack) -> None:
    wait_until_live(stack, 30)
    client = DashboardClient(stack.ws_url, token=stack.access_token("er_lead", PASSWORD))
    try:
        assert client.recv(10)["type"] == "hello"
        snapshot = client.recv(10)
        assert snapshot["type"] == "snapshot"
        base = snapshot["data"]["critical"]["patients"]["emergency"]
        # Beat and the worker publish ER's critical tier (from the live counters) before the kill.
        client.wait_for(is_critical_update, 15)

        stack.processes["watcher"].signal(signal.SIGKILL)
        killed_at = time.monotonic()
        # The mark the dead watcher renewed last lapses by itself within LIVE_TTL_S.
        assert 0 < stack.redis().pttl(redis_store.MAINTAINED_LIVE_KEY) <= 1000 * LIVE_TTL_S
        stack.mongo().patients.insert_one(
            {
                "department": "ER",
                "status": "admitted",
                "is_emergency": True,
                "admitted_at": datetime.now(UTC),
                "discharged_at": None,
            }
        )
        inserted_at = time.monotonic()
        update = client.wait_for(
            lambda m: is_critical_update(m) and m["data"]["patients"]["emergency"] > base, BOUND_S + 5
        )
        seen_s = time.monotonic() - inserted_at
        after_kill_s = time.monotonic() - killed_at
    finally:
        client.close()
    live_left = stack.redis().pttl(redis_store.MAINTAINED_LIVE_KEY)
    print(
        f"the emergency reached the ER tile {seen_s:.2f} s after the insert, "
        f"{after_kill_s:.2f} s after the kill"
    )
    assert update["data"]["patients"]["emergency"] == base + 1
    assert live_left == -2, "the dead watcher's live mark outlived the update"
    assert seen_s < BOUND_S, f"the new emergency took {seen_s:.1f} s to reach the tile:\n{stack.logs()}"

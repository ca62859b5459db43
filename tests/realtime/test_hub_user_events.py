"""Per-user events reach connections through the hub.

On the real Redis channel layer of the test settings and the real publish module.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
import redis
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

from dashboard.protocol.scopes import Scope
from dashboard.realtime.hub import Hub
from dashboard.stream import publish
from tests.support.alerts import sample_alert

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

SCOPE = Scope("ER")


class Member:
    """A connection whose access-changed handler waits until let go; it records its pushes."""

    def __init__(self) -> None:
        self.pushes: list[int] = []
        self.pushed = asyncio.Event()
        self.access_changed = asyncio.Event()
        self.let_go = asyncio.Event()

    async def dashboard_push(self, event: dict[str, Any]) -> None:
        self.pushes.append(int(event["seq"]))
        self.pushed.set()

    async def dashboard_access_changed(self, event: dict[str, Any]) -> None:
        self.access_changed.set()
        await self.let_go.wait()

    async def dashboard_session_ended(self, event: dict[str, Any]) -> None:
        raise RuntimeError("a failing handler")


async def test_a_slow_per_user_handler_holds_back_no_push(
    redis_client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    hub = Hub(get_channel_layer())
    slow, other = Member(), Member()
    for member in (slow, other):
        await hub.join(SCOPE.group(with_revenue=False), member)
    await hub.join(publish.user_group(7), slow)
    await asyncio.sleep(0.3)

    await sync_to_async(publish.tell_user)(7, publish.ACCESS_CHANGED)
    await asyncio.wait_for(slow.access_changed.wait(), 3)
    position = await sync_to_async(publish.publish_alert)(SCOPE, sample_alert("while-slow"))
    await asyncio.wait_for(other.pushed.wait(), 3)
    await asyncio.wait_for(slow.pushed.wait(), 3)
    assert other.pushes == slow.pushes == [position.seq]
    assert len(hub.handlers) == 1  # held by the hub while it runs

    slow.let_go.set()
    caplog.set_level(logging.ERROR, logger="dashboard.realtime.hub")
    await sync_to_async(publish.tell_user)(7, publish.SESSION_ENDED, session_key="k")
    for _ in range(30):
        if not hub.handlers and "dashboard_session_ended failed" in caplog.text:
            break
        await asyncio.sleep(0.1)
    assert not hub.handlers
    assert "a connection's dashboard_session_ended failed" in caplog.text
    for task in (hub.receiver, hub.rejoiner):
        assert task is not None
        assert not task.done()
        task.cancel()

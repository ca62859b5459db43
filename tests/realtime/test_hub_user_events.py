"""Per-user events reach connections through the hub: no channel of a connection's own.

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
from channels_redis.pubsub import RedisPubSubChannelLayer

from dashboard.access.users import upsert_dashboard_user
from dashboard.protocol.scopes import Scope
from dashboard.realtime import consumer, ticker
from dashboard.realtime.hub import Hub
from dashboard.stream import publish
from tests.support.alerts import sample_alert
from tests.support.ws import Socket, bearer, next_of_type, open_socket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

SCOPE = Scope("ER")


async def opened(user: Any) -> Socket:
    socket, ok, _ = await open_socket(bearer(user))
    assert ok
    assert (await socket.recv())["type"] == "hello"
    assert (await socket.recv())["type"] == "snapshot"
    return socket


async def subscribed_channels(client: redis.Redis) -> set[str]:
    await asyncio.sleep(0.3)  # SUBSCRIBE and UNSUBSCRIBE are sent without waiting for Redis
    return set(await sync_to_async(client.pubsub_channels)())


async def test_connections_subscribe_nothing_of_their_own_and_an_access_change_reaches_each(
    ws_users: dict[str, Any], redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not isinstance(get_channel_layer(), RedisPubSubChannelLayer):
        pytest.skip("counts the pub/sub layer's subscriptions")
    assert get_channel_layer(consumer.NO_CHANNEL_OF_ITS_OWN) is None

    async def not_now(_now: float) -> None:
        return None

    # Only the event may bring the change: the ticker's periodic re-read of access is off.
    monkeypatch.setattr(ticker, "_check_access", not_now)
    sockets = [await opened(ws_users["er"])]
    # The hub's channel, the user's group and the scope's groups.
    with_one = await subscribed_channels(redis_client)
    sockets += [await opened(ws_users["er"]) for _ in range(3)]
    assert await subscribed_channels(redis_client) == with_one

    await sync_to_async(upsert_dashboard_user)(
        username="erin", role="department", departments=["ICU"], password=None
    )
    for socket in sockets:
        lost = await next_of_type(socket, "unsubscribed", timeout_s=3)
        assert lost == {"type": "unsubscribed", "scope": "dept:ER", "reason": "forbidden"}
    for socket in sockets:
        await socket.communicator.disconnect()


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

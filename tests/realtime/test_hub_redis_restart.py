"""The hub outlives a Redis restart on either channel layer, and the core layer's idle receive holds.

Each test runs its own redis-server (devstack.services.start_redis) and builds the layer from
the CHANNEL_LAYERS config of hospital_dash/settings.py, pointed at that server. The restart
is a stop and a start on the same port with an empty data directory: every group
membership the core layer kept in Redis is gone.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from channels_redis.core import RedisChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer
from django.conf import settings
from redis.exceptions import ConnectionError as RedisConnectionError

from dashboard.realtime import hub as hub_module
from dashboard.realtime.hub import Hub
from devstack.services import start_redis

GROUP = "dash.test.restart"
RECOVERY_BOUND_S = 8.0
LAYERS = {"pubsub": RedisPubSubChannelLayer, "core": RedisChannelLayer}


class OwnRedis:
    """A redis-server of the test's own that can be restarted empty on the same port."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.restarts = 0
        self.proc, self.url = start_redis(root / "data-0")
        self.port = int(self.url.rsplit(":", 1)[1].split("/")[0])

    def restart_empty(self, down_s: float) -> None:
        self.proc.stop()
        time.sleep(down_s)
        self.restarts += 1
        self.proc, _ = start_redis(self.root / f"data-{self.restarts}", port=self.port)

    def stop(self) -> None:
        self.proc.stop()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(tmp_path)
    yield server
    server.stop()


def configured_layer(kind: str, url: str) -> Any:
    """The layer `kind` with our settings' CONFIG, its hosts pointed at `url`."""
    config = copy.deepcopy(settings.CHANNEL_LAYERS["default"]["CONFIG"])
    config["hosts"] = [{**host, "address": url} for host in config["hosts"]]
    return LAYERS[kind](**config)


class Recorder:
    def __init__(self) -> None:
        self.numbers: list[int] = []
        self.arrived = asyncio.Event()

    async def dashboard_push(self, event: dict[str, Any]) -> None:
        self.numbers.append(event["n"])
        self.arrived.set()

    async def got(self, number: int, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while number not in self.numbers:
            self.arrived.clear()
            try:
                await asyncio.wait_for(self.arrived.wait(), max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                return number in self.numbers
        return True


async def push(layer: Any, number: int) -> None:
    await layer.group_send(GROUP, {"type": "dashboard.push", "group": GROUP, "n": number})


def stop_hub(hub: Hub) -> None:
    for task in (hub.receiver, hub.rejoiner):
        assert task is not None
        assert not task.done(), "a hub task died"
        task.cancel()


@pytest.mark.parametrize("kind", ["pubsub", "core"])
def test_a_hub_keeps_delivering_after_redis_restarts_empty(
    own_redis: OwnRedis, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    layer = configured_layer(kind, own_redis.url)

    async def scenario() -> float:
        hub = Hub(layer)
        member = Recorder()
        await hub.join(GROUP, member)
        await asyncio.sleep(0.2)
        await push(layer, 1)
        assert await member.got(1, 5), "no delivery before the restart"

        await asyncio.to_thread(own_redis.restart_empty, 1.0)
        restarted_at = time.monotonic()
        number = 1
        while time.monotonic() - restarted_at < RECOVERY_BOUND_S:
            number += 1
            try:
                await push(layer, number)
            except RedisConnectionError:
                await asyncio.sleep(0.2)
                continue
            if await member.got(number, 0.5):
                recovered_s = time.monotonic() - restarted_at
                break
        else:
            raise AssertionError(f"no delivery within {RECOVERY_BOUND_S} s of the restart: {member.numbers}")
        # And it goes on.
        await push(layer, 1000)
        assert await member.got(1000, 5)
        stop_hub(hub)
        await layer.flush()
        return recovered_s

    caplog.set_level(logging.WARNING, logger="dashboard.realtime.hub")
    recovered_s = asyncio.run(scenario())
    print(f"{kind}: delivering again {recovered_s:.2f} s after Redis restarted empty")
    assert not [
        r for r in caplog.records if r.name == "dashboard.realtime.hub" and r.levelno >= logging.ERROR
    ], caplog.text


def test_the_core_layers_idle_receive_does_not_time_out(
    own_redis: OwnRedis, caplog: pytest.LogCaptureFixture
) -> None:
    layer = configured_layer("core", own_redis.url)

    async def scenario() -> None:
        channel = await layer.new_channel()
        receiving = asyncio.get_running_loop().create_task(layer.receive(channel))
        await asyncio.sleep(7)  # longer than redis-py's default socket_timeout and BZPOPMIN's 5 s
        assert not receiving.done(), f"the idle receive ended: {receiving.exception()!r}"
        await layer.send(channel, {"type": "dashboard.push", "n": 1})
        assert (await asyncio.wait_for(receiving, 5))["n"] == 1

        hub = Hub(layer)
        member = Recorder()
        await hub.join(GROUP, member)
        await asyncio.sleep(7)
        await push(layer, 2)
        assert await member.got(2, 5)
        stop_hub(hub)
        await layer.flush()

    caplog.set_level(logging.WARNING, logger="dashboard.realtime.hub")
    asyncio.run(scenario())
    assert not [r for r in caplog.records if r.name.startswith("dashboard")], (
        f"the idle hub logged failures:\n{caplog.text}"
    )


def test_a_hub_joins_its_groups_again_when_the_core_layer_forgot_them(
    own_redis: OwnRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As after group_expiry (a day) or a restart no receive noticed: no error, no membership.
    monkeypatch.setattr(hub_module, "REJOIN_EVERY_S", 0.5)
    layer = configured_layer("core", own_redis.url)

    async def scenario() -> None:
        hub = Hub(layer)
        member = Recorder()
        await hub.join(GROUP, member)
        redis.Redis.from_url(own_redis.url).flushall()
        await push(layer, 1)
        assert not await member.got(1, 0.2), "the forgotten membership still delivered"
        await asyncio.sleep(1.0)
        await push(layer, 2)
        assert await member.got(2, 5)
        stop_hub(hub)
        await layer.flush()

    asyncio.run(scenario())

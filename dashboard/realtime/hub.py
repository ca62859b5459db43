"""The fan-out hub: one receiver per web process for every dashboard group's pushes.

Producers still `group_send` and groups are still channel-layer groups, but a group's members
in this process are held here: the hub's one channel joins the group once, receives each push
once, and hands it to each local member in turn. A push no longer wakes a task per consumer
(Channels' per-consumer receive loop was half of a web process's event loop at 2,000 clients
x 10 updates/s; docs/BENCHMARKS.md). Each member still decides what to send and sends
through its own socket, whose outbox bounds what a slow client holds.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import Any, Protocol

logger = logging.getLogger(__name__)


class Member(Protocol):
    async def dashboard_push(self, event: dict[str, Any]) -> None: ...


class Hub:
    def __init__(self, layer: Any) -> None:
        self.layer = layer
        self.channel: str | None = None
        self.members: dict[str, set[Member]] = {}
        self.lock = asyncio.Lock()
        self.task: asyncio.Task[None] | None = None

    async def join(self, group: str, member: Member) -> None:
        async with self.lock:
            if self.channel is None:
                self.channel = await self.layer.new_channel(prefix="dash-hub.")
                self.task = asyncio.get_running_loop().create_task(
                    self._receive_forever(), name="fan-out-hub"
                )
            members = self.members.setdefault(group, set())
            if not members:
                await self.layer.group_add(group, self.channel)
            members.add(member)

    async def leave(self, group: str, member: Member) -> None:
        async with self.lock:
            members = self.members.get(group)
            if members is None or member not in members:
                return
            members.discard(member)
            if not members and self.channel is not None:
                del self.members[group]
                await self.layer.group_discard(group, self.channel)

    async def _receive_forever(self) -> None:
        assert self.channel is not None
        while True:
            event = await self.layer.receive(self.channel)
            for member in list(self.members.get(event.get("group", ""), ())):
                try:
                    await member.dashboard_push(event)
                except Exception:
                    logger.exception("could not hand a push to a connection")


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub] = weakref.WeakKeyDictionary()


def current(layer: Any) -> Hub:
    """This event loop's hub (one per web process; tests run a loop each)."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        hub = _hubs[loop] = Hub(layer)
    return hub

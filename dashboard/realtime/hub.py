"""The fan-out hub: one receiver per web process for every dashboard group's pushes.

Producers still `group_send` and groups are still channel-layer groups, but a group's members
in this process are held here: the hub's one channel joins the group once, receives each push
once, and hands it to each local member in turn. A push no longer wakes a task per consumer
(Channels' per-consumer receive loop was half of a web process's event loop at 2,000 clients
x 10 updates/s; docs/BENCHMARKS.md). Each member still decides what to send and sends
through its own socket, whose outbox bounds what a slow client holds.

The hub outlives Redis outages on either channel layer. A failed `receive()` (the core layer
raises redis.exceptions.ConnectionError at once while Redis is down) is logged once per
outage and retried with back-off up to BACKOFF_MAX_S; before receiving again the hub joins
every group it holds once more, since a Redis that restarted empty has forgotten the core
layer's group memberships. It also re-joins every REJOIN_EVERY_S, because the core layer
drops a member that joined more than its `group_expiry` (a day) ago and a restart may go
unnoticed between two receives. Pushes sent while Redis was down are lost; clients catch up
through the heartbeat's seq. A pub/sub layer's `receive()` is never wrapped in a timeout: a
cancelled receive unsubscribes the channel.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import Any, Protocol

from dashboard.realtime import connection_metrics

logger = logging.getLogger(__name__)

# Between tries while the channel layer fails: doubling from the first to the last, in seconds.
BACKOFF_FIRST_S = 0.1
BACKOFF_MAX_S = 5.0
# Every group held is joined again this often (seconds), well inside the core layer's
# group_expiry of 86,400 s.
REJOIN_EVERY_S = 30.0


class Member(Protocol):
    async def dashboard_push(self, event: dict[str, Any]) -> None: ...


class Hub:
    def __init__(self, layer: Any) -> None:
        self.layer = layer
        self.channel: str | None = None
        self.members: dict[str, set[Member]] = {}
        self.lock = asyncio.Lock()
        self.receiver: asyncio.Task[None] | None = None
        self.rejoiner: asyncio.Task[None] | None = None

    async def join(self, group: str, member: Member) -> None:
        """Hand the group's pushes to `member`; raises what the channel layer raises (Redis down)."""
        async with self.lock:
            if self.channel is None:
                self.channel = await self.layer.new_channel(prefix="dash-hub.")
            self._ensure_running()
            if group not in self.members:
                await self.layer.group_add(group, self.channel)
                self.members[group] = set()
            self.members[group].add(member)

    async def leave(self, group: str, member: Member) -> None:
        async with self.lock:
            members = self.members.get(group)
            if members is None or member not in members:
                return
            members.discard(member)
            if not members and self.channel is not None:
                del self.members[group]
                await self.layer.group_discard(group, self.channel)

    def _ensure_running(self) -> None:
        """Start the receive and re-join tasks, or start again either of them that ended.

        A running task is never cancelled: a cancelled pub/sub receive unsubscribes the channel.
        """
        loop = asyncio.get_running_loop()
        if self.receiver is None or self.receiver.done():
            self.receiver = loop.create_task(self._receive_forever(), name="fan-out-hub")
            self.receiver.add_done_callback(_log_end)
        if self.rejoiner is None or self.rejoiner.done():
            self.rejoiner = loop.create_task(self._rejoin_forever(), name="fan-out-hub-rejoin")
            self.rejoiner.add_done_callback(_log_end)

    async def _rejoin(self) -> None:
        """Join every group held again (group_add is idempotent); raises what the layer raises."""
        async with self.lock:
            assert self.channel is not None
            for group in list(self.members):
                await self.layer.group_add(group, self.channel)

    async def _receive_forever(self) -> None:
        assert self.channel is not None
        channel = self.channel
        outage = _Outage("receive pushes from the channel layer")
        while True:
            try:
                if outage.ongoing:
                    await self._rejoin()
                    outage.over()
                event: dict[str, Any] = await self.layer.receive(channel)
            except Exception as exc:
                await outage.failed(exc)
                continue
            members = list(self.members.get(event.get("group", ""), ()))
            for member in members:
                try:
                    await member.dashboard_push(event)
                except Exception:
                    logger.exception("could not hand a push to a connection")
            if members:
                connection_metrics.sent(str(event.get("kind")), len(members))
                connection_metrics.delivered(event)

    async def _rejoin_forever(self) -> None:
        outage = _Outage("join its groups again")
        while True:
            if not outage.ongoing:
                await asyncio.sleep(REJOIN_EVERY_S)
            try:
                await self._rejoin()
            except Exception as exc:
                await outage.failed(exc)
                continue
            outage.over()


class _Outage:
    """One hub task's failures in a row: logged once, waited out with a doubling back-off."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.delay_s = 0.0

    @property
    def ongoing(self) -> bool:
        return self.delay_s > 0

    async def failed(self, exc: Exception) -> None:
        """Log the first failure of an outage, then wait BACKOFF_FIRST_S doubling to BACKOFF_MAX_S."""
        if not self.ongoing:
            logger.warning(
                "the hub could not %s (%s: %s); retrying until it can", self.what, type(exc).__name__, exc
            )
        self.delay_s = min(BACKOFF_MAX_S, 2 * self.delay_s or BACKOFF_FIRST_S)
        await asyncio.sleep(self.delay_s)

    def over(self) -> None:
        if self.ongoing:
            logger.warning("the hub can %s again", self.what)
            self.delay_s = 0.0


def _log_end(task: asyncio.Task[None]) -> None:
    """A hub task ends only when cancelled; if one ends otherwise, say so (the next join restarts it)."""
    if not task.cancelled():
        logger.error(
            "the hub's task %s ended; the next join starts it again",
            task.get_name(),
            exc_info=task.exception(),
        )


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub] = weakref.WeakKeyDictionary()


def current(layer: Any) -> Hub:
    """This event loop's hub (one per web process; tests run a loop each)."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        hub = _hubs[loop] = Hub(layer)
    return hub

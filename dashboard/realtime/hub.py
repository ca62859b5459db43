"""The fan-out hub: one receiver per web process for every dashboard group's messages.

Producers still `group_send` and groups are still channel-layer groups, but a group's members
in this process are held here: the hub's one channel joins the group once, receives each
message once, and hands it to each local member. A push no longer wakes a task per consumer
(Channels' per-consumer receive loop was half of a web process's event loop at 2,000 clients
x 10 updates/s; docs/BENCHMARKS.md). Each member still decides what to send and sends
through its own socket, whose outbox bounds what a slow client holds. The hub is a
connection's only way to group messages: a connection has no channel of its own.

A push (`dashboard.push`, a scope's group) is handed to each member in turn, in order, in the
receive loop. A per-user event (`dashboard.access_changed`, `dashboard.session_ended`, the
user's group) runs each member's handler as a task of its own: the access-changed handler
reads the database, and awaiting it for each of a user's connections would hold back every
push of the process meanwhile. Every message carries its `group`, which names the members.

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
from dashboard.stream import publish

logger = logging.getLogger(__name__)

# Between tries while the channel layer fails: doubling from the first to the last, in seconds.
BACKOFF_FIRST_S = 0.1
BACKOFF_MAX_S = 5.0
# Every group held is joined again this often (seconds), well inside the core layer's
# group_expiry of 86,400 s.
REJOIN_EVERY_S = 30.0


class Member(Protocol):
    """A connection as the hub sees it: a handler per message type of the groups it joins.

    Each takes the event as sent by `dashboard.stream.publish` (a dict with `type` and
    `group`). `dashboard_push` is awaited in the hub's receive loop, so it must not wait on
    anything but its own socket; the per-user handlers each run as a task of their own.
    """

    async def dashboard_push(self, event: dict[str, Any]) -> None: ...

    async def dashboard_access_changed(self, event: dict[str, Any]) -> None: ...

    async def dashboard_session_ended(self, event: dict[str, Any]) -> None: ...


# The per-user events and, for each, the handler of each member that runs as its own task.
_USER_EVENT_HANDLERS = {
    publish.ACCESS_CHANGED: "dashboard_access_changed",
    publish.SESSION_ENDED: "dashboard_session_ended",
}


class Hub:
    def __init__(self, layer: Any) -> None:
        self.layer = layer
        self.channel: str | None = None
        self.members: dict[str, set[Member]] = {}
        self.lock = asyncio.Lock()
        self.receiver: asyncio.Task[None] | None = None
        self.rejoiner: asyncio.Task[None] | None = None
        # Per-user handlers still running; the loop keeps only weak references to tasks.
        self.handlers: set[asyncio.Task[None]] = set()

    async def join(self, group: str, member: Member) -> None:
        """Hand the group's messages to `member`; raises what the channel layer raises (Redis down)."""
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
            if event.get("type") == publish.PUSH_EVENT_TYPE:
                await self._push(event, members)
            elif event.get("type") in _USER_EVENT_HANDLERS:
                self._start_handlers(event, members)
            else:
                logger.warning("the hub has no handler for %r; ignored", event.get("type"))

    async def _push(self, event: dict[str, Any], members: list[Member]) -> None:
        """Hand a push to each member in turn, in the order pushes arrive."""
        for member in members:
            try:
                await member.dashboard_push(event)
            except Exception:
                logger.exception("could not hand a push to a connection")
        if members:
            connection_metrics.sent(str(event.get("kind")), len(members))
            connection_metrics.delivered(event)

    def _start_handlers(self, event: dict[str, Any], members: list[Member]) -> None:
        """Run each member's handler of a per-user event as its own task; failures are logged."""
        name = _USER_EVENT_HANDLERS[event["type"]]
        loop = asyncio.get_running_loop()
        for member in members:
            task = loop.create_task(getattr(member, name)(event), name=f"hub-{name}")
            self.handlers.add(task)
            task.add_done_callback(self._handler_done)

    def _handler_done(self, task: asyncio.Task[None]) -> None:
        self.handlers.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error(
                "a connection's %s failed", task.get_name().removeprefix("hub-"), exc_info=task.exception()
            )

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

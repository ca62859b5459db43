"""One ticker per web process for the periodic duties of every open connection.

Heartbeats, token expiry and session checks need a clock per connection; the connection
leases are refreshed for the whole process in one Redis round trip; the state of Redis and
MongoDB is checked once per process and told to each connection (every SOURCE_CHECK_EVERY_S,
and every tick while a source is down or a Redis read of the tick did not answer); every
connection's access is read again from the database in one query every ACCESS_CHECK_EVERY_S,
so open connections follow the database whatever wrote it (contract §2: within 5 s); the
positions of every followed scope come from Redis in one round trip each tick, for the
heartbeats and so that a new epoch reaches every connection within a tick. One task visiting
all local connections each second costs far less than a task each. The ticker also saves
the buffered access log, so recording never waits for the database.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any, Protocol, TypeVar

from channels.db import database_sync_to_async

from dashboard.access import access_cache, audit, permissions, sessions
from dashboard.access.permissions import Access
from dashboard.protocol.messages import SourceState
from dashboard.protocol.scopes import Scope
from dashboard.realtime import connection_limit
from dashboard.sources import health
from dashboard.stream import publish
from dashboard.stream.publish import Position

logger = logging.getLogger(__name__)
T = TypeVar("T")

TICK_S = 1.0
# How long a tick waits for Redis's answer to its positions read or lease refresh; a slower answer
# (Redis frozen or partitioned: its socket timeout is 5 s) is left to finish in the background.
REDIS_WAIT_S = 0.5
# Within the contract's 5 s for a change of role, departments or active flag, whatever wrote it.
ACCESS_CHECK_EVERY_S = 2.0


class Ticking(Protocol):
    user_id: int

    async def on_tick(self, now: float, positions: Mapping[Scope, Position]) -> None: ...

    def followed_scopes(self) -> Iterable[Scope]: ...

    async def on_sources_changed(self, states: dict[str, SourceState]) -> None: ...

    async def on_access_read(self, access: Access | None, session_hashes: Collection[str]) -> None: ...

    def uses_session(self) -> bool: ...

    def lease(self) -> tuple[int, str]: ...


class _Bounded:
    """One blocking call at a time in the event loop's thread pool, waited for at most REDIS_WAIT_S.

    A tick must not stall on Redis: the source checks that tell clients Redis is down, the
    token expiries and the heartbeats come from the same tick. A call still running when the
    next is due is not started again, so a frozen Redis holds one pool thread, not one per tick.
    """

    def __init__(self, what: str) -> None:
        self.what = what
        self.running: asyncio.Future[Any] | None = None

    async def run(self, function: Callable[..., T], *args: Any) -> T | None:
        """`function(*args)`, or None when it is still running from an earlier tick or did not
        answer within REDIS_WAIT_S. Raises what the function raised."""
        loop = asyncio.get_running_loop()
        if self.running is not None and not self.running.done() and self.running.get_loop() is loop:
            return None
        running = self.running = loop.run_in_executor(None, function, *args)
        # Retrieved here too, so a call that fails after the tick stopped waiting is not reported
        # as an exception nobody retrieved: the warning below already said it did not answer.
        running.add_done_callback(lambda done: done.cancelled() or done.exception())
        try:
            result: T = await asyncio.wait_for(asyncio.shield(running), REDIS_WAIT_S)
        except TimeoutError:
            logger.warning("%s did not answer within %.1f s; tried again later", self.what, REDIS_WAIT_S)
            return None
        return result


_connections: set[Ticking] = set()
_positions_read = _Bounded("the positions read")
_lease_refresh = _Bounded("the lease refresh")
_task: asyncio.Task[None] | None = None
_next_source_check = 0.0
# Set by a tick whose Redis read did not answer, or whose source check found a source down:
# the next tick checks the sources again rather than SOURCE_CHECK_EVERY_S later, so clients
# hear of a frozen Redis, and of its return, within about two ticks.
_check_sources_next_tick = False
_next_lease_refresh = 0.0
_next_access_check = 0.0


def register(connection: Ticking) -> None:
    """Follow `connection` from the next tick; start the ticker on the running loop if it has none.

    A ticker left on another event loop (one that stopped without finishing its tasks) can never
    run again: it is replaced, or no connection of this loop would get a heartbeat or an expiry.
    """
    global _task
    _connections.add(connection)
    loop = asyncio.get_running_loop()
    if _task is None or _task.done() or _task.get_loop() is not loop:
        _task = loop.create_task(_tick_forever(), name="connection-ticker")


def unregister(connection: Ticking) -> None:
    _connections.discard(connection)


def count() -> int:
    return len(_connections)


async def _check_sources(now: float) -> None:
    global _next_source_check, _check_sources_next_tick
    if now < _next_source_check and not _check_sources_next_tick:
        return
    _next_source_check = now + health.SOURCE_CHECK_EVERY_S
    states = await asyncio.get_running_loop().run_in_executor(None, health.check)
    _check_sources_next_tick = not health.all_ok(states)
    if not health.record(states):
        return
    logger.warning("data sources changed: %s", states)
    for connection in list(_connections):
        try:
            await connection.on_sources_changed(states)
        except Exception:
            logger.exception("could not tell a connection about its data sources")


def _read_access(
    user_ids: set[int], session_user_ids: set[int]
) -> tuple[dict[int, Access], dict[int, tuple[str, ...]]]:
    accesses = permissions.load_accesses(user_ids)
    hashes = sessions.current_auth_hashes(session_user_ids) if session_user_ids else {}
    return accesses, hashes


async def _check_access(now: float) -> None:
    """Read every connected user's access (and session hashes) in one go; tell each connection."""
    global _next_access_check
    if now < _next_access_check or not _connections:
        return
    _next_access_check = now + ACCESS_CHECK_EVERY_S
    connections = list(_connections)
    user_ids = {connection.user_id for connection in connections}
    session_user_ids = {connection.user_id for connection in connections if connection.uses_session()}
    read_at = time.monotonic()
    try:
        accesses, hashes = await database_sync_to_async(_read_access)(user_ids, session_user_ids)
    except Exception:
        logger.exception("could not read the access of %d connected users; will retry", len(user_ids))
        return
    access_cache.remember(accesses, read_at)
    for connection in connections:
        if connection not in _connections:
            continue
        try:
            await connection.on_access_read(
                accesses.get(connection.user_id), hashes.get(connection.user_id, ())
            )
        except Exception:
            logger.exception("could not apply a connection's access")


async def _positions() -> Mapping[Scope, Position]:
    """The last published position of every scope a connection follows, in one Redis round trip
    (empty without Redis): for the heartbeats, and so a new epoch (Redis restarted empty or
    failed over) reaches every client within a tick rather than with the scope's next push."""
    global _check_sources_next_tick
    followed = {scope for connection in _connections for scope in connection.followed_scopes()}
    if not followed:
        return {}
    try:
        found = await _positions_read.run(publish.positions, followed)
    except Exception as exc:
        logger.warning("heartbeats without positions: %s", exc.__class__.__name__)
        found = None
    if found is None:
        _check_sources_next_tick = True  # Redis did not answer: is it down?
    return found or {}


async def _refresh_leases(now: float) -> None:
    global _next_lease_refresh
    if now < _next_lease_refresh:
        return
    _next_lease_refresh = now + connection_limit.REFRESH_EVERY_S
    leases = [connection.lease() for connection in _connections]
    try:
        refreshed = await _lease_refresh.run(_refreshed, leases)
    except Exception:
        logger.exception("could not refresh %d connection leases; will retry", len(leases))
        refreshed = False
    if not refreshed:
        _next_lease_refresh = now + TICK_S


def _refreshed(leases: list[tuple[int, str]]) -> bool:
    connection_limit.refresh_all(leases)
    return True


async def _tick(now: float) -> None:
    await _check_sources(now)
    await _check_access(now)
    positions = await _positions()
    for connection in list(_connections):
        try:
            await connection.on_tick(now, positions)
        except Exception:
            logger.exception("periodic check of a connection failed")
    await _refresh_leases(now)
    if audit.pending():
        try:
            await database_sync_to_async(audit.flush)()
        except Exception:
            logger.exception("could not save the access log; will retry")


async def _tick_forever() -> None:
    while _connections or audit.pending():
        await asyncio.sleep(TICK_S)
        try:
            await _tick(time.monotonic())
        except Exception:
            # The ticker must outlive any one failure: expiry and heartbeats depend on it.
            logger.exception("a tick of the connection ticker failed; the next one runs as usual")

"""One ticker per web process for the periodic duties of every open connection.

Heartbeats, token expiry and session checks need a clock per connection; the connection
leases are refreshed for the whole process in one Redis round trip; the state of Redis and
MongoDB is checked once per process and told to each connection; one task visiting all local
connections each second costs far less than a task each. The
ticker also saves the buffered access log, so recording never waits for the database.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Protocol

from channels.db import database_sync_to_async

from dashboard.access import audit
from dashboard.protocol.messages import SourceState
from dashboard.realtime import connection_limit
from dashboard.sources import health

logger = logging.getLogger(__name__)

TICK_S = 1.0


class Ticking(Protocol):
    async def on_tick(self, now: float) -> None: ...

    async def on_sources_changed(self, states: dict[str, SourceState]) -> None: ...

    def lease(self) -> tuple[int, str]: ...


_connections: set[Ticking] = set()
_task: asyncio.Task[None] | None = None
_next_source_check = 0.0
_next_lease_refresh = 0.0


def register(connection: Ticking) -> None:
    global _task
    _connections.add(connection)
    if _task is None or _task.done():
        _task = asyncio.get_running_loop().create_task(_tick_forever(), name="connection-ticker")


def unregister(connection: Ticking) -> None:
    _connections.discard(connection)


def count() -> int:
    return len(_connections)


async def _check_sources(now: float) -> None:
    global _next_source_check
    if now < _next_source_check:
        return
    _next_source_check = now + health.SOURCE_CHECK_EVERY_S
    states = await asyncio.get_running_loop().run_in_executor(None, health.check)
    if not health.record(states):
        return
    logger.warning("data sources changed: %s", states)
    for connection in list(_connections):
        try:
            await connection.on_sources_changed(states)
        except Exception:
            logger.exception("could not tell a connection about its data sources")


async def _refresh_leases(now: float) -> None:
    global _next_lease_refresh
    if now < _next_lease_refresh:
        return
    _next_lease_refresh = now + connection_limit.REFRESH_EVERY_S
    leases = [connection.lease() for connection in _connections]
    try:
        await database_sync_to_async(connection_limit.refresh_all)(leases)
    except Exception:
        logger.exception("could not refresh %d connection leases; will retry", len(leases))
        _next_lease_refresh = now + TICK_S


async def _tick_forever() -> None:
    while _connections or audit.pending():
        await asyncio.sleep(TICK_S)
        now = time.monotonic()
        await _check_sources(now)
        for connection in list(_connections):
            try:
                await connection.on_tick(now)
            except Exception:
                logger.exception("periodic check of a connection failed")
        await _refresh_leases(now)
        if audit.pending():
            try:
                await database_sync_to_async(audit.flush)()
            except Exception:
                logger.exception("could not save the access log; will retry")

"""Connection leases: taken at the handshake, refreshed in one batch per process, expiring if not."""

from __future__ import annotations

import time

from dashboard.realtime import connection_limit


def test_a_batch_refresh_keeps_leases_alive_and_unrefreshed_ones_expire(redis_client, settings) -> None:
    settings.MAX_CONNECTIONS_PER_USER = 1
    assert connection_limit.acquire(7, "alive")
    assert connection_limit.acquire(8, "orphan")
    aged = time.time() - connection_limit.LEASE_TTL_S + 2
    redis_client.zadd("dash:conns:7", {"alive": aged})
    redis_client.zadd("dash:conns:8", {"orphan": aged})
    connection_limit.refresh_all([(7, "alive")])
    assert redis_client.zscore("dash:conns:7", "alive") > time.time() - 5
    time.sleep(2.5)
    assert not connection_limit.acquire(7, "another")  # the refreshed lease still holds the slot
    assert connection_limit.acquire(8, "another")  # the orphan's lease expired

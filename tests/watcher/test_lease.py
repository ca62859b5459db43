"""The lease keeper renews from its own thread, and lets go when the lease was taken."""

from __future__ import annotations

import time

from dashboard.watcher.lease import LEASE_KEY, Lease, LeaseKeeper


def test_the_keeper_holds_the_lease_while_the_loop_is_busy_past_its_ttl(redis_client) -> None:
    lease = Lease(ttl_ms=1500)
    assert lease.acquire()
    keeper = LeaseKeeper(lease)
    keeper.start()
    try:
        time.sleep(3.5)  # the watcher's loop busy (opening streams, priming) for over twice the TTL
        assert Lease.holder() == lease.owner
        assert not keeper.lost.is_set()
    finally:
        keeper.halt()


def test_the_keeper_says_so_when_another_watcher_holds_the_lease(redis_client) -> None:
    lease = Lease(ttl_ms=1500)
    assert lease.acquire()
    keeper = LeaseKeeper(lease)
    keeper.start()
    try:
        redis_client.set(LEASE_KEY, "someone-else")
        assert keeper.lost.wait(3)
        assert Lease.holder() == "someone-else"
    finally:
        keeper.halt()

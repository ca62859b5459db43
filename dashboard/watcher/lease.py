"""Which watcher is active: a lease in Redis, held by one process and renewed while it lives.

A standby tries to take the lease every second; the holder renews it every second with a
TTL of a few seconds, so a standby takes over within TTL + 1 s of the holder dying.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid

from redis.exceptions import RedisError

from dashboard.sources import redis_store

logger = logging.getLogger(__name__)

LEASE_KEY = redis_store.WATCHER_LEASE_KEY
LEASE_TTL_MS = 5000
RENEW_EVERY_S = 1.0
# The keeper stops renewing for a watcher loop silent this long: a hung watcher lets go.
MAX_LOOP_SILENCE_S = 300.0

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class Lease:
    def __init__(self, ttl_ms: int = LEASE_TTL_MS) -> None:
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.ttl_ms = ttl_ms

    def acquire(self) -> bool:
        return bool(redis_store.client().set(LEASE_KEY, self.owner, nx=True, px=self.ttl_ms))

    def renew(self) -> bool:
        """Extend the lease; False when another process holds it now (this one must stop)."""
        return bool(redis_store.client().eval(_RENEW, 1, LEASE_KEY, self.owner, self.ttl_ms))

    def release(self) -> None:
        redis_store.client().eval(_RELEASE, 1, LEASE_KEY, self.owner)

    @staticmethod
    def holder() -> str | None:
        value = redis_store.client().get(LEASE_KEY)
        return str(value) if value is not None else None


class LeaseKeeper(threading.Thread):
    """Renews a held lease every second on its own thread.

    Opening streams, priming the department memory or a long recomputation must not let the
    lease lapse: renewing from the watcher's loop did, under load, and the watcher then lost
    and re-took its own lease. The loop calls `beat()` as it goes; a loop silent for
    MAX_LOOP_SILENCE_S is taken for hung and the lease is left to expire.
    """

    def __init__(self, lease: Lease) -> None:
        super().__init__(name="lease-keeper", daemon=True)
        self.lease = lease
        self.lost = threading.Event()
        self._halt = threading.Event()
        self._last_beat = time.monotonic()

    def beat(self) -> None:
        self._last_beat = time.monotonic()

    def run(self) -> None:
        while not self._halt.wait(RENEW_EVERY_S):
            if time.monotonic() - self._last_beat > MAX_LOOP_SILENCE_S:
                logger.error("the watcher loop is silent; no longer renewing the lease")
                self.lost.set()
                return
            try:
                renewed = self.lease.renew()
            except RedisError as exc:
                logger.warning("could not renew the lease (%s); retrying", exc.__class__.__name__)
                continue
            if not renewed:
                self.lost.set()
                return

    def halt(self) -> None:
        self._halt.set()
        self.join(timeout=2)

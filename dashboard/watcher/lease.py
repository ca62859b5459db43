"""Which watcher is active: a lease in Redis, held by one process and renewed while it lives.

A standby tries to take the lease every second; the holder renews it every second with a
TTL of a few seconds, so a standby takes over within TTL + 1 s of the holder dying.
"""

from __future__ import annotations

import os
import socket
import uuid

from dashboard import redis_store

LEASE_KEY = "dash:watch:lease"
LEASE_TTL_MS = 5000
RENEW_EVERY_S = 1.0

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

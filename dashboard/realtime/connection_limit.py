"""At most MAX_CONNECTIONS_PER_USER open sockets per user, across every web process.

Each open connection holds a lease in a Redis sorted set, refreshed while it lives, so the
leases of a process that died expire instead of locking its users out.
"""

from __future__ import annotations

from django.conf import settings

from dashboard.sources import redis_store

# A lease not refreshed for this long belongs to a process that died: its place frees itself.
LEASE_TTL_S = 30
REFRESH_EVERY_S = 10

# KEYS[1] the user's leases; ARGV[1] the limit, ARGV[2] LEASE_TTL_S, ARGV[3] the connection id.
# Lease times are Redis's clock, so a web process whose clock is wrong neither keeps dead leases
# nor expires live ones.
_ACQUIRE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
if redis.call('ZSCORE', KEYS[1], ARGV[3]) then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  return 1
end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
"""


def acquire(user_id: int, connection_id: str) -> bool:
    """Take or refresh a lease; False when the user already has the maximum open."""
    allowed = redis_store.client().eval(
        _ACQUIRE,
        1,
        redis_store.connection_leases_key(user_id),
        settings.MAX_CONNECTIONS_PER_USER,
        LEASE_TTL_S,
        connection_id,
    )
    return bool(allowed)


def refresh_all(leases: list[tuple[int, str]]) -> None:
    """Refresh many connections' leases in one round trip (the per-process ticker's batch)."""
    pipe = redis_store.client().pipeline(transaction=False)
    limit = settings.MAX_CONNECTIONS_PER_USER
    for user_id, connection_id in leases:
        pipe.eval(_ACQUIRE, 1, redis_store.connection_leases_key(user_id), limit, LEASE_TTL_S, connection_id)
    pipe.execute()


def release(user_id: int, connection_id: str) -> None:
    redis_store.client().zrem(redis_store.connection_leases_key(user_id), connection_id)

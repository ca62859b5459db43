"""The one way out: every push to clients goes through here.

For each publication this module takes the scope's publish lock, assigns the next `seq` of
the scope's current `epoch`, serializes the message once per visibility class, appends it to
the scope's replay history and sends it to the class's channel-layer group. The lock keeps
`seq` order and delivery order the same when the watcher and Celery publish at once. Under
the same lock a tier computed before the one last published for its scope is dropped, so a
run slower than its interval never replaces newer numbers with older ones.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from redis.exceptions import LockError, LockNotOwnedError

from dashboard.protocol import messages
from dashboard.protocol.client_messages import Since
from dashboard.protocol.scopes import Scope
from dashboard.sources import redis_store, service_clock
from dashboard.stream import layer_bridge, tier_cache
from dashboard.stream.visibility import redact

logger = logging.getLogger(__name__)

VISIBILITY_CLASSES = (True, False)  # with revenue (admins), without
HISTORY_MAX_MESSAGES = 500
HISTORY_TTL_S = 3600
# A publication holds its scope's lock for milliseconds. The lock lapses this soon after its
# holder dies holding it (a worker SIGKILLed mid-publication), since until then every publication
# of the scope waits, the watcher's included; a publication that outlives it is logged.
PUBLISH_LOCK_TIMEOUT_S = 2
PUBLISH_LOCK_WAIT_S = 10
PUSH_EVENT_TYPE = "dashboard.push"
# Events for one user's open connections (their access changed; a session of theirs ended).
ACCESS_CHANGED = "dashboard.access_changed"
SESSION_ENDED = "dashboard.session_ended"

# The epoch belongs to the Redis master that started it (its run id, kept beside it): on another
# master (a replica promoted by Sentinel, or a restart) the last seq increments and history
# entries may be lost, so the first script to run there starts a new epoch and every client
# resyncs. KEYS[1] epoch, KEYS[2] its master's run id; ARGV[1] a fresh epoch id. Leaves
# `epoch` and `changed` set (_STARTED_FIRST when Redis held no epoch, _STARTED_ON_NEW_MASTER).
# Seqs count on: they stay increasing.
_CURRENT_EPOCH = """
local run_id = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')
local epoch = redis.call('GET', KEYS[1])
local changed = 0
if not epoch then
  changed = 1
elseif redis.call('GET', KEYS[2]) ~= run_id then
  changed = 2
end
if changed > 0 then
  epoch = ARGV[1]
  redis.call('SET', KEYS[1], epoch)
  redis.call('SET', KEYS[2], run_id)
end
"""

# KEYS[3] the scope's seq: the epoch and the next seq.
_NEXT_SEQ = _CURRENT_EPOCH + "return {epoch, redis.call('INCR', KEYS[3]), changed}"

# KEYS[3...] scopes' seqs: the epoch and each one's last seq (0 before the first).
_POSITIONS = (
    _CURRENT_EPOCH
    + """
local found = {epoch, changed}
for index = 3, #KEYS do
  found[#found + 1] = tonumber(redis.call('GET', KEYS[index]) or '0')
end
return found
"""
)


# Sets KEYS[1] to ARGV[1] (epoch ms, kept ARGV[2] s) and returns 1, unless it already holds a
# later time: then returns 0. Equal times pass, so publishing one computation again is allowed.
# A time more than ARGV[3] ms ahead of Redis's own clock (a producer whose clock runs ahead) is
# published but recorded as Redis's time plus ARGV[3], and 2 is returned: otherwise it would
# hold back every rightly stamped computation until the real time caught up with it.
_CLAIM_NEWEST = """
local last = redis.call('GET', KEYS[1])
if last and tonumber(ARGV[1]) < tonumber(last) then
  return 0
end
local now = redis.call('TIME')
local latest = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) + tonumber(ARGV[3])
if tonumber(ARGV[1]) > latest then
  redis.call('SET', KEYS[1], latest, 'EX', ARGV[2])
  return 2
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1
"""
# How far ahead of Redis's clock a tier's `computed_at` may be before it stops counting as the
# newest (clocks kept by NTP differ by milliseconds; this is for a clock that is wrong).
CLOCK_AHEAD_ALLOWANCE_S = 10.0
_CLAIMED_AHEAD = 2


@dataclass(frozen=True)
class Position:
    epoch: str
    seq: int


def _new_epoch_id() -> str:
    return secrets.token_hex(8)


def _epoch_keys() -> list[str]:
    return [redis_store.EPOCH_KEY, redis_store.EPOCH_MASTER_KEY]


_STARTED_FIRST, _STARTED_ON_NEW_MASTER = 1, 2


def _noticed(changed: int, epoch: str) -> None:
    if changed == _STARTED_FIRST:
        logger.info("started epoch %s: Redis held none", epoch)
    elif changed == _STARTED_ON_NEW_MASTER:
        logger.warning("started epoch %s: the Redis master is not the one the last epoch began on", epoch)


def position(scope: Scope) -> Position:
    """The scope's epoch and the last seq published in it (0 before the first)."""
    return positions([scope])[scope]


def positions(scopes: Iterable[Scope]) -> dict[Scope, Position]:
    """The epoch and last published seq of each scope, in one round trip.

    Heartbeats carry these, so a client that missed a push sees the gap (contract §4); on a
    Redis master other than the epoch's they carry a new epoch.
    """
    wanted = list(scopes)
    if not wanted:
        return {}
    keys = [*_epoch_keys(), *(redis_store.seq_key(scope) for scope in wanted)]
    epoch, changed, *seqs = redis_store.client().eval(_POSITIONS, len(keys), *keys, _new_epoch_id())
    _noticed(int(changed), str(epoch))
    return {scope: Position(epoch=str(epoch), seq=int(seq)) for scope, seq in zip(wanted, seqs, strict=True)}


def _next_position(scope: Scope) -> Position:
    keys = [*_epoch_keys(), redis_store.seq_key(scope)]
    epoch, seq, changed = redis_store.client().eval(_NEXT_SEQ, len(keys), *keys, _new_epoch_id())
    _noticed(int(changed), str(epoch))
    return Position(epoch=str(epoch), seq=int(seq))


def start_new_epoch() -> str:
    """Begin a new epoch: every client resyncs, since no seq or history carries over."""
    client = redis_store.client()
    epoch = _new_epoch_id()
    run_id = client.info("server")["run_id"]
    stale = [*client.scan_iter(redis_store.SEQ_PATTERN), *client.scan_iter(redis_store.HISTORY_PATTERN)]
    pipe = client.pipeline(transaction=True)
    pipe.set(redis_store.EPOCH_KEY, epoch)
    pipe.set(redis_store.EPOCH_MASTER_KEY, run_id)
    if stale:
        pipe.delete(*stale)
    pipe.execute()
    return epoch


# Builds the message of one visibility class (True: with revenue) at a position of the stream.
Build = Callable[[Position, bool], messages.StreamMessage]


@contextmanager
def _scope_lock(scope: Scope) -> Iterator[None]:
    """Hold the scope's publish lock; raises redis.exceptions.LockError after PUBLISH_LOCK_WAIT_S.

    A lock that lapsed before the block ended (it took over PUBLISH_LOCK_TIMEOUT_S) is logged, not
    raised: the publication is done, and clients put a push that overtook it back in order by seq.
    """
    lock = redis_store.client().lock(
        redis_store.publish_lock_key(scope),
        timeout=PUBLISH_LOCK_TIMEOUT_S,
        blocking_timeout=PUBLISH_LOCK_WAIT_S,
    )
    if not lock.acquire():
        raise LockError(f"the publish lock of {scope} was not had within {PUBLISH_LOCK_WAIT_S} s")
    try:
        yield
    finally:
        try:
            lock.release()
        except LockNotOwnedError:
            logger.warning(
                "a publication to %s took over %g s: its publish lock had lapsed",
                scope,
                PUBLISH_LOCK_TIMEOUT_S,
            )


def _push(scope: Scope, kind: str, build: Build, *, tier: str | None) -> Position:
    """Next seq, replay history and group_send of one message; the caller holds the scope's lock."""
    client = redis_store.client()
    pos = _next_position(scope)
    for with_revenue in VISIBILITY_CLASSES:
        text = messages.encode(build(pos, with_revenue))
        history = redis_store.history_key(scope, with_revenue=with_revenue)
        pipe = client.pipeline(transaction=False)
        pipe.zadd(history, {text: pos.seq})
        pipe.zremrangebyrank(history, 0, -HISTORY_MAX_MESSAGES - 1)
        pipe.expire(history, HISTORY_TTL_S)
        pipe.execute()
        group = scope.group(with_revenue=with_revenue)
        layer_bridge.group_send(
            group,
            {
                "type": PUSH_EVENT_TYPE,
                "group": group,
                "text": text,
                "scope": scope.name,
                "epoch": pos.epoch,
                "seq": pos.seq,
                "kind": kind,
                "tier": tier,
                # Unix time, for the web processes' delivery latency (dash_ws_delivery_seconds).
                "generated_at": service_clock.time_s(),
            },
        )
    return pos


def _publish(scope: Scope, kind: str, build: Build) -> Position:
    """Push a message that is not a tier (alerts): under the scope's lock, always sent."""
    with _scope_lock(scope):
        return _push(scope, kind, build, tier=None)


def _computed_at_ms(data: dict[str, Any]) -> int:
    """The tier's `computed_at` (ISO 8601 with an offset or `Z`) in epoch milliseconds.

    Raises ValueError when it is missing, not a date or has no offset.
    """
    text = data.get("computed_at")
    if not isinstance(text, str):
        raise ValueError(f"a tier needs computed_at as ISO 8601 text, not {text!r}")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"computed_at {text!r} is not an ISO 8601 date") from None
    if moment.tzinfo is None:
        raise ValueError(f"computed_at {text!r} has no UTC offset")
    return round(moment.timestamp() * 1000)


def _newest_so_far(scope: Scope, tier: str, computed_ms: int) -> bool:
    """Record `computed_ms` as the tier's last published computation unless a later one was;
    a time ahead of Redis's clock by more than CLOCK_AHEAD_ALLOWANCE_S is logged and recorded
    as Redis's time plus that allowance."""
    claimed = redis_store.client().eval(
        _CLAIM_NEWEST,
        1,
        redis_store.published_computed_at_key(scope, tier),
        computed_ms,
        tier_cache.LAST_KNOWN_TTL_S,
        round(CLOCK_AHEAD_ALLOWANCE_S * 1000),
    )
    if claimed == _CLAIMED_AHEAD:
        logger.warning(
            "the %s tier of %s is stamped more than %.0f s ahead of Redis's clock: "
            "the clock of the process that computed it runs ahead",
            tier,
            scope,
            CLOCK_AHEAD_ALLOWANCE_S,
        )
    return bool(claimed)


def publish_tier(scope: Scope, tier: str, data: dict[str, Any]) -> Position | None:
    """Cache a computed tier and push it as an `update` to the scope's clients.

    `data["computed_at"]` is when the computation started (ISO 8601 UTC). Under the scope's
    publish lock, a tier computed before the one last published for this scope and tier is
    dropped: not cached, no seq taken, nothing sent; None is returned. Otherwise returns the
    update's position. Raises ValueError for a missing or unreadable `computed_at`, RedisError
    when Redis fails, LockError when the lock is not had within PUBLISH_LOCK_WAIT_S.
    """
    computed_ms = _computed_at_ms(data)
    with _scope_lock(scope):
        if not _newest_so_far(scope, tier, computed_ms):
            logger.info(
                "dropped the %s tier of %s computed at %s: a later computation is published",
                tier,
                scope,
                data["computed_at"],
            )
            return None
        tier_cache.store_tier(scope, tier, data)
        pos = _push(
            scope,
            "update",
            lambda pos, with_revenue: messages.update(
                scope,
                epoch=pos.epoch,
                seq=pos.seq,
                tier=tier,
                data=redact(tier, data, with_revenue=with_revenue),
            ),
            tier=tier,
        )
        redis_store.client().hset(redis_store.TIER_PUBLISHED_KEY, tier, f"{service_clock.time_s():.3f}")
        return pos


def tiers_last_published() -> dict[str, float]:
    """When each tier was last published, for any scope (Unix time); raises RedisError."""
    raw = redis_store.client().hgetall(redis_store.TIER_PUBLISHED_KEY)
    return {str(tier): float(at) for tier, at in raw.items()}


def publish_alert(scope: Scope, alert: messages.AlertPayload) -> Position:
    """Push an `alert` (the same for every visibility class) to the scope's clients."""
    return _publish(
        scope,
        "alert",
        lambda pos, _with_revenue: messages.alert(scope, epoch=pos.epoch, seq=pos.seq, payload=alert),
    )


def publish_alert_acknowledged(scope: Scope, *, alert_id: str, by: str, at: str) -> Position:
    """Push an `alert_acknowledged` to the scope's clients."""
    return _publish(
        scope,
        "alert_acknowledged",
        lambda pos, _with_revenue: messages.alert_acknowledged(
            scope, epoch=pos.epoch, seq=pos.seq, alert_id=alert_id, by=by, at=at
        ),
    )


def user_group(user_id: int) -> str:
    """The channel-layer group of the user's open connections (joined through each process's hub)."""
    return f"dash.user.{user_id}"


def tell_user(user_id: int, event_type: str, **fields: str) -> None:
    """Send an event (ACCESS_CHANGED, SESSION_ENDED) to every open connection of one user.

    The event carries its `group`: each web process's hub finds the user's connections by it.
    """
    group = user_group(user_id)
    layer_bridge.group_send(group, {"type": event_type, "group": group, **fields})


def replay(scope: Scope, *, with_revenue: bool, since: Since) -> list[str] | None:
    """Every message after `since`, in order, or None when the history no longer covers the gap."""
    current = position(scope)
    if since.epoch != current.epoch or since.seq > current.seq:
        return None
    if since.seq == current.seq:
        return []
    history = redis_store.history_key(scope, with_revenue=with_revenue)
    entries = cast(
        list[tuple[str, float]],
        redis_store.client().zrangebyscore(history, since.seq + 1, "+inf", withscores=True),
    )
    if not entries or int(entries[0][1]) != since.seq + 1:
        return None
    return [text for text, _score in entries]

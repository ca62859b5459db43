"""Snapshots: all three tiers of a scope as one message (contract §4 `snapshot`), in three states.

- Normal: the tiers cached in Redis; a tier Redis lacks is computed from MongoDB and cached,
  once for all the snapshots that ask for it at the same time (dashboard/metrics/cold_tiers.py).
- Redis unavailable: every tier is computed from MongoDB directly. There is no sequence
  without Redis, so the snapshot carries the epoch `direct` and seq 0; clients resync when
  Redis is back and the epoch changes.
- MongoDB unavailable: a tier Redis lacks is served from its last known value, and the
  snapshot says `stale: true`; `age_s` is always the age of its oldest tier. A tier computed
  now that cannot be encoded (runner.UnencodableTier) is treated the same way.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo.errors import PyMongoError
from redis.exceptions import RedisError

from dashboard.metrics import cold_tiers
from dashboard.metrics.runner import UnencodableTier, compute_tier
from dashboard.protocol import messages
from dashboard.protocol.errors import Unavailable
from dashboard.protocol.scopes import Scope
from dashboard.protocol.tiers import TIERS, interval_s
from dashboard.sources import service_clock
from dashboard.stream import publish, tier_cache
from dashboard.stream.visibility import redact_snapshot

# A tier older than this many intervals marks the snapshot stale.
STALE_AFTER_INTERVALS = 2
DIRECT_EPOCH = "direct"


class SnapshotUnavailable(Unavailable):
    """Neither a cached value nor MongoDB can give a tier of this scope."""


def _age_s(data: dict[str, Any], now: datetime) -> float:
    computed_at = datetime.fromisoformat(data["computed_at"].replace("Z", "+00:00"))
    return max(0.0, (now - computed_at).total_seconds())


def _message(
    scope: Scope, data: dict[str, dict[str, Any]], *, epoch: str, seq: int, with_revenue: bool, degraded: bool
) -> messages.Snapshot:
    now = service_clock.now()
    ages = {tier: _age_s(tier_data, now) for tier, tier_data in data.items()}
    stale = degraded or any(ages[tier] > STALE_AFTER_INTERVALS * interval_s(tier) for tier in ages)
    return messages.snapshot(
        scope,
        epoch=epoch,
        seq=seq,
        stale=stale,
        data=redact_snapshot(data, with_revenue=with_revenue),
        age_s=round(max(ages.values()), 1),
    )


def _from_mongo_directly(scope: Scope, *, with_revenue: bool) -> messages.Snapshot:
    try:
        data = {tier.value: compute_tier(scope, tier) for tier in TIERS}
    except (PyMongoError, UnencodableTier) as exc:
        raise SnapshotUnavailable("Redis is unavailable and MongoDB cannot give every tier") from exc
    return _message(scope, data, epoch=DIRECT_EPOCH, seq=0, with_revenue=with_revenue, degraded=False)


def snapshot_message(scope: Scope, *, with_revenue: bool) -> messages.Snapshot:
    """The scope's snapshot, in whichever of the three states the sources allow.

    The position is read before the data, so any update the client later receives with a
    higher seq is at least as new as the snapshot.
    """
    try:
        pos = publish.position(scope)
        cached = tier_cache.load_tiers(scope, TIERS)
    except RedisError:
        return _from_mongo_directly(scope, with_revenue=with_revenue)
    data: dict[str, dict[str, Any]] = {}
    degraded = False
    for tier in TIERS:
        tier_data = cached[tier]
        if tier_data is None:
            try:
                tier_data = cold_tiers.fill_tier(scope, tier)
            except (PyMongoError, UnencodableTier):
                degraded = True
                tier_data = tier_cache.load_last_known(scope, tier)
                if tier_data is None:
                    raise SnapshotUnavailable(f"no {tier} data for {scope}: MongoDB cannot give it") from None
        data[tier] = tier_data
    return _message(scope, data, epoch=pos.epoch, seq=pos.seq, with_revenue=with_revenue, degraded=degraded)

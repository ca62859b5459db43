"""The tier cache in Redis: each scope's last computed tiers, for snapshots.

A tier lives `cache_ttl_s(tier)` (three of its intervals), so a stopped producer shows as
missing data soon; its last value is also kept LAST_KNOWN_TTL_S for snapshots while MongoDB
is down (then marked stale).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from dashboard.protocol import messages
from dashboard.protocol.scopes import Scope
from dashboard.protocol.tiers import cache_ttl_s
from dashboard.sources import redis_store

# How long the last value of each tier is kept for snapshots while MongoDB is down.
LAST_KNOWN_TTL_S = 7 * 86400


def store_tier(scope: Scope, tier: str, data: dict[str, Any]) -> None:
    """Cache a freshly computed tier (a JSON object with `computed_at`); raises RedisError."""
    text = messages.encode(data)
    pipe = redis_store.client().pipeline(transaction=False)
    pipe.set(redis_store.tier_key(scope, tier), text, ex=cache_ttl_s(tier))
    pipe.set(redis_store.last_known_key(scope, tier), text, ex=LAST_KNOWN_TTL_S)
    pipe.execute()


def load_last_known(scope: Scope, tier: str) -> dict[str, Any] | None:
    """The tier's last computed value however old (up to LAST_KNOWN_TTL_S), or None."""
    raw = redis_store.client().get(redis_store.last_known_key(scope, tier))
    return json.loads(raw) if raw else None


def load_tiers(scope: Scope, tiers: Iterable[str]) -> dict[str, dict[str, Any] | None]:
    """The cached value of each tier (None where its cache expired), in one round trip."""
    names = list(tiers)
    raw = redis_store.client().mget([redis_store.tier_key(scope, tier) for tier in names])
    return {tier: (json.loads(value) if value else None) for tier, value in zip(names, raw, strict=True)}

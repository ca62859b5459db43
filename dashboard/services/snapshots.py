"""Snapshots: all three tiers of a scope as one message (contract §4 `snapshot`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from dashboard import messages, publish
from dashboard.scopes import Scope
from dashboard.services.tiers import compute_tier, interval_s
from dashboard.visibility import TIERS, redact_snapshot

# A tier older than this many intervals marks the snapshot stale.
STALE_AFTER_INTERVALS = 2


def _is_stale(tier: str, data: dict[str, Any], now: datetime) -> bool:
    computed_at = datetime.fromisoformat(data["computed_at"].replace("Z", "+00:00"))
    return (now - computed_at).total_seconds() > STALE_AFTER_INTERVALS * interval_s(tier)


def snapshot_message(scope: Scope, *, with_revenue: bool) -> dict[str, Any]:
    """The scope's snapshot from Redis, computing from MongoDB any tier Redis lacks.

    The position is read before the data, so any update the client later receives with a
    higher seq is at least as new as the snapshot.
    """
    pos = publish.position(scope)
    tiers = publish.load_tiers(scope, TIERS)
    data: dict[str, dict[str, Any]] = {}
    for tier in TIERS:
        cached = tiers[tier]
        if cached is None:
            cached = compute_tier(scope, tier)
            publish.store_tier(scope, tier, cached)
        data[tier] = cached
    now = datetime.now(UTC)
    stale = any(_is_stale(tier, tier_data, now) for tier, tier_data in data.items())
    return messages.stream_message(
        "snapshot",
        scope,
        epoch=pos.epoch,
        seq=pos.seq,
        stale=stale,
        data=redact_snapshot(data, with_revenue=with_revenue),
    )

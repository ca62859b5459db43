"""The three tiers of a scope's data (contract §3): their names, how often each is recomputed,
and how long a computed tier is cached.

Names and intervals are contract facts that the lower layers need (the tier cache, what each
visibility class sees, snapshots' staleness) and Celery beat schedules, so they live here. The
compute function of each tier is bound to its name in `dashboard.metrics.registry`.
"""

from __future__ import annotations

from enum import StrEnum


class Tier(StrEnum):
    """A tier of a scope's data: `critical` (5 s), `standard` (30 s) or `historical` (5 min)."""

    CRITICAL = "critical"
    STANDARD = "standard"
    HISTORICAL = "historical"


TIERS: tuple[Tier, ...] = tuple(Tier)
# Seconds between two scheduled computations of a tier (contract §3).
INTERVAL_S: dict[Tier, int] = {Tier.CRITICAL: 5, Tier.STANDARD: 30, Tier.HISTORICAL: 300}
# A cached tier lives this many intervals, so a stopped producer shows as missing data soon.
CACHE_INTERVALS = 3


def interval_s(tier: str) -> int:
    """Seconds between two scheduled computations of `tier`; KeyError for an unknown tier."""
    return INTERVAL_S[Tier(tier)]


def cache_ttl_s(tier: str) -> int:
    """Seconds a computed tier stays in the cache: CACHE_INTERVALS of its interval."""
    return CACHE_INTERVALS * interval_s(tier)

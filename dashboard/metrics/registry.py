"""The tier registry: each tier of `dashboard.protocol.tiers` bound to the function that computes it.

A compute function takes `(db, department, *, now, tz)`: the hospital database, a department
code or None for the whole hospital, the moment of computation (aware UTC) and the hospital's
time zone; it returns the tier's numbers as a JSON-ready dict without `computed_at`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from pymongo.database import Database

from dashboard.metrics.critical import compute_critical
from dashboard.metrics.historical import compute_historical
from dashboard.metrics.standard import compute_standard
from dashboard.protocol.tiers import TIERS, Tier


class TierFunction(Protocol):
    def __call__(
        self, db: Database, department: str | None, *, now: datetime, tz: ZoneInfo
    ) -> dict[str, Any]: ...


COMPUTE: dict[Tier, Callable[..., dict[str, Any]]] = {
    Tier.CRITICAL: compute_critical,
    Tier.STANDARD: compute_standard,
    Tier.HISTORICAL: compute_historical,
}
assert set(COMPUTE) == set(TIERS), "every tier has exactly one compute function"


def compute_function(tier: str) -> TierFunction:
    """The function computing `tier`; KeyError (ValueError for a name) for an unknown tier."""
    function: TierFunction = COMPUTE[Tier(tier)]
    return function

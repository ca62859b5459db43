"""The numbers as they are in MongoDB, recomputed from scratch with the service's own compute
functions (`dashboard.metrics.runner.compute_tier`, the registry's tiers), and what a client
of each visibility class may see of them (`dashboard.stream.visibility.redact`). One number
comes from Redis, as in the service: the bed turnaround median, computed from the cleanings the
watcher records there (no MongoDB field keeps a room's past states).

Needs Django's settings (the hospital's time zone): the runner sets them up from the stack's
environment before importing this module's users.
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime
from typing import Any

from django.conf import settings
from pymongo.database import Database

from dashboard.metrics.critical import compute_critical_scopes
from dashboard.metrics.runner import compute_tier, stamped
from dashboard.protocol.scopes import parse_scope
from dashboard.sources import service_clock
from dashboard.stream.visibility import redact


def without_time(data: dict[str, Any]) -> dict[str, Any]:
    """A tier's numbers without `computed_at`: what two computations of one state share."""
    return {key: value for key, value in data.items() if key != "computed_at"}


def recompute(
    db: Database, scope: str, tier: str, *, with_revenue: bool, now: datetime | None = None
) -> dict[str, Any]:
    """The tier of `scope` ("hospital" or "dept:<CODE>") from MongoDB as it is, computed as at
    `now` (by default the present; "active in the last 15 minutes" and "today" depend on it), as
    the class sees it, without `computed_at`. Raises what pymongo raises when MongoDB does not
    answer."""
    data = compute_tier(parse_scope(scope), tier, db=db, now=now)
    return without_time(redact(tier, data, with_revenue=with_revenue))


def recompute_critical(
    db: Database, scopes: list[str], *, now: datetime | None = None
) -> dict[str, dict[str, Any]]:
    """The critical tier of each of `scopes` as `recompute` gives it with revenue, from one
    hospital-wide read (`dashboard.metrics.critical.compute_critical_scopes`, equal to
    `compute_tier` for each scope: tests/metrics/test_critical_batch.py), as at `now` (by
    default the present). Raises what pymongo raises when MongoDB does not answer."""
    now = now or service_clock.now()
    parsed = {scope: parse_scope(scope) for scope in scopes}
    tiers = compute_critical_scopes(
        db,
        [found.department for found in parsed.values() if found.department is not None],
        now=now,
        tz=zoneinfo.ZoneInfo(settings.TIME_ZONE),
    )
    return {
        scope: without_time(
            redact("critical", stamped(found, "critical", tiers[found.department], now), with_revenue=True)
        )
        for scope, found in parsed.items()
    }

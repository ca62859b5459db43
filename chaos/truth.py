"""The numbers as they are in MongoDB, recomputed from scratch with the service's own compute
functions (`dashboard.metrics.runner.compute_tier`, the registry's tiers), and what a client
of each visibility class may see of them (`dashboard.stream.visibility.redact`). One number
comes from Redis, as in the service: the bed turnaround median, computed from the cleanings the
watcher records there (no MongoDB field keeps a room's past states).

Needs Django's settings (the hospital's time zone): the runner sets them up from the stack's
environment before importing this module's users.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo.database import Database

from dashboard.metrics.runner import compute_tier
from dashboard.protocol.scopes import parse_scope
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

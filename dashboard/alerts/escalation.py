"""Escalating alerts nobody acknowledged within ALERT_ESCALATE_AFTER_S (contract §4).

The contract escalates every unacknowledged alert, whatever its severity (the watcher issue
spoke of critical ones; the contract is the one clients rely on).

The state is MongoDB's own (`acknowledged_at`) plus a Redis marker per escalated alert, so an
escalation due while the watcher or a worker was restarting is sent when it comes back.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings

from dashboard.sources import mongo
from dashboard.sources.mongo_compat import conjunction

# How far back an unacknowledged alert is still escalated (older ones were missed for a day).
LOOKBACK = timedelta(days=1)
BATCH = 500


def due_alerts(now: datetime) -> list[dict[str, object]]:
    """Unacknowledged alerts older than the escalation delay, oldest first."""
    cutoff = now - timedelta(seconds=settings.ALERT_ESCALATE_AFTER_S)
    query = conjunction(
        {
            "acknowledged_at": {"$eq": None},
            "created_at": {"$gte": cutoff - LOOKBACK, "$lte": cutoff},
        }
    )
    return list(mongo.primary_db()[mongo.ALERTS].find(query).sort("created_at", 1).limit(BATCH))

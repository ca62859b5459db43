"""Escalating alerts nobody acknowledged within ALERT_ESCALATE_AFTER_S (contract §4).

The contract escalates every unacknowledged alert, whatever its severity (the watcher issue
spoke of critical ones; the contract is the one clients rely on).

The state is MongoDB's own (`acknowledged_at`) plus a Redis marker per escalated alert, so an
escalation due while the watcher or a worker was restarting is sent when it comes back.
Each round reads the whole due window, oldest first, and pages past what it has settled
(escalated, or found invalid) instead of stopping at a fixed number of documents: no number
of bad or already escalated alerts at the head can keep a later one from escalating.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings

from dashboard.alerts.documents import ALERT_FIELDS, InvalidAlert, skipped_alert, validated_alert
from dashboard.sources import mongo
from dashboard.sources.lenient_decoding import lenient
from dashboard.sources.mongo_compat import conjunction

# How far back an unacknowledged alert is still escalated (older ones were missed for a day).
LOOKBACK = timedelta(days=1)
# Documents per round trip while paging through the due window.
BATCH = 500
# The fields validated_alert reads.
ALERT_PROJECTION = dict.fromkeys(ALERT_FIELDS, 1)


def _due_query(now: datetime) -> dict[str, Any]:
    cutoff = now - timedelta(seconds=settings.ALERT_ESCALATE_AFTER_S)
    return conjunction(
        {
            "acknowledged_at": {"$eq": None},
            "created_at": {"$gte": cutoff - LOOKBACK, "$lte": cutoff},
        }
    )


@dataclass
class Escalations:
    """Which due alerts one watcher has settled, so each round only looks at the others.

    `settled` maps an alert's `_id` (as a string) to its `created_at`; entries older than the
    lookback window are forgotten. Lives as long as the watcher process.
    """

    settled: dict[str, datetime] = field(default_factory=dict)

    def due(self, now: datetime) -> Iterator[dict[str, Any]]:
        """Valid unacknowledged alerts older than the escalation delay and not yet settled,
        oldest first.

        An invalid one is skipped, counted and logged once (documents.skipped_alert), then
        settled. Raises what pymongo raises when MongoDB cannot be read.
        """
        horizon = now - timedelta(seconds=settings.ALERT_ESCALATE_AFTER_S) - LOOKBACK
        self.settled = {key: at for key, at in self.settled.items() if at >= horizon}
        alerts = lenient(mongo.primary_db())[mongo.ALERTS]
        cursor = alerts.find(_due_query(now), ALERT_PROJECTION).sort("created_at", 1).batch_size(BATCH)
        for doc in cursor:
            if str(doc["_id"]) in self.settled:
                continue
            try:
                yield validated_alert(doc)
            except InvalidAlert as exc:
                skipped_alert(doc, exc, "escalation")
                self.settled[str(doc["_id"])] = now

    def settle(self, doc: dict[str, Any]) -> None:
        """Remember that `doc` (a valid alert from `due`) was escalated."""
        self.settled[str(doc["_id"])] = doc["created_at"]

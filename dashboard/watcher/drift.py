"""The drift check: the maintained counters against a from-scratch recomputation from MongoDB.

A difference can be a change still on its way through the stream, so a department is only
taken as drifted when a second check a moment later still finds it different. Drift is
logged with each metric's two values, counted in the watcher's stats, and repaired by a full
rebuild of the counters.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from pymongo.database import Database

from dashboard.metrics import maintained
from dashboard.metrics.critical import Counts, combine, critical_by_department
from dashboard.sources import service_clock
from dashboard.watcher import actions, stats

logger = logging.getLogger(__name__)

RECHECK_AFTER_S = 2.0

# department -> "group.metric" -> (maintained, recomputed)
Drift = dict[str, dict[str, tuple[float, float]]]


def _differences(kept: Counts, fresh: Counts) -> dict[str, tuple[float, float]]:
    return {
        f"{group}.{name}": (kept[group][name], value)
        for group, values in fresh.items()
        for name, value in values.items()
        if kept[group][name] != value
    }


def find_drift(db: Database, tz: ZoneInfo, now: datetime | None = None) -> Drift:
    """Every department whose maintained counts differ from MongoDB's, with the differences."""
    now = now or service_clock.now()
    fresh = critical_by_department(db, None, now=now, tz=tz)
    kept = maintained.counts_by_department(now, tz, set(fresh) | set(maintained.departments()))
    drift: Drift = {}
    for code in kept:
        differences = _differences(kept[code], fresh.get(code) or combine([]))
        if differences:
            drift[code] = differences
    return drift


@dataclass
class DriftCheck:
    """Runs the check every `every_s` seconds, when the watcher has nothing else to do."""

    db: Database
    tz: ZoneInfo
    every_s: float
    clock: Callable[[], float] = time.monotonic
    next_at: float = 0.0
    suspects: Drift = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.next_at = self.clock() + self.every_s

    def due(self) -> bool:
        return self.clock() >= self.next_at

    def run(self) -> set[str]:
        """Check once; returns the departments repaired (their counters were rebuilt)."""
        self.next_at = self.clock() + self.every_s
        drift = find_drift(self.db, self.tz)
        confirmed = {code: drift[code] for code in drift if code in self.suspects}
        if drift and not confirmed:
            self.suspects = drift
            self.next_at = self.clock() + RECHECK_AFTER_S
            return set()
        self.suspects = {}
        if not confirmed:
            return set()
        for code, differences in sorted(confirmed.items()):
            detail = ", ".join(
                f"{name} {kept:g} != {fresh:g}" for name, (kept, fresh) in sorted(differences.items())
            )
            logger.warning("maintained counters of %s drifted from MongoDB: %s; rebuilding", code, detail)
        stats.incr("drift_found", sum(len(differences) for differences in confirmed.values()))
        stats.incr("drift_repairs")
        actions.rebuild_counters(self.db, self.tz)
        return set(confirmed)

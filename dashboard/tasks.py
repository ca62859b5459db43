"""Celery tasks: thin wrappers that own scheduling; the work is in `services.tiers`."""

from __future__ import annotations

import logging

from celery import shared_task

from dashboard.access import audit
from dashboard.alerts import thresholds
from dashboard.metrics import maintained, runner
from dashboard.protocol.scopes import Scope
from dashboard.sources import service_clock
from dashboard.stream import tier_cache

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def run_tier(tier: str) -> int:
    """Compute and publish `tier` for the hospital and every department; returns scopes published."""
    published = 0
    for scope in runner.tier_scopes():
        try:
            published += runner.run_tier(scope, tier)
            if tier == "critical" and scope.department is not None:
                _check_thresholds(scope)
        except Exception:
            # One scope's failure must not starve the others; the next tick retries it.
            logger.exception("tier %s of %s failed", tier, scope)
    return published


@shared_task(ignore_result=True)
def critical_on_lapse() -> int:
    """Run the critical tier at once when the watcher's counters stopped being live; returns
    the scopes published (0 when nothing lapsed).

    Beat runs it every second. Until the next critical run the tiles would keep what the
    counters said, which no longer follows MongoDB, and look fresh (their `computed_at` less
    than two intervals old), so the recomputation from MongoDB is not left to the next tick.
    """
    if not maintained.lapsed():
        return 0
    logger.warning("the maintained counters are no longer live; recomputing the critical tier now")
    return int(run_tier("critical"))


def _check_thresholds(scope: Scope) -> None:
    """Threshold alerts from the department's critical tier as last published (a boarding time
    crosses its level with no change event, so this runs every critical interval)."""
    critical = tier_cache.load_tiers(scope, ["critical"])["critical"]
    if critical is not None and scope.department is not None:
        thresholds.evaluate(scope.department, critical, now=service_clock.now())


@shared_task(ignore_result=True)
def prune_access_log() -> int:
    """Delete access-log entries older than AUDIT_RETENTION_DAYS (contract §6); run daily by beat."""
    deleted = audit.prune()
    logger.info("pruned %d access-log entries", deleted)
    return deleted

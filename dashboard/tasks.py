"""Celery tasks: thin wrappers that own scheduling; the work is in `services.tiers`."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from celery import shared_task

from dashboard.access import audit
from dashboard.alerts import thresholds
from dashboard.metrics import runner
from dashboard.protocol.scopes import Scope
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


def _check_thresholds(scope: Scope) -> None:
    """Threshold alerts from the department's critical tier as last published (a boarding time
    crosses its level with no change event, so this runs every critical interval)."""
    critical = tier_cache.load_tiers(scope, ["critical"])["critical"]
    if critical is not None and scope.department is not None:
        thresholds.evaluate(scope.department, critical, now=datetime.now(UTC))


@shared_task(ignore_result=True)
def prune_access_log() -> int:
    """Delete access-log entries older than AUDIT_RETENTION_DAYS (contract §6); run daily by beat."""
    deleted = audit.prune()
    logger.info("pruned %d access-log entries", deleted)
    return deleted

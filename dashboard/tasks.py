"""Celery tasks: thin wrappers that own scheduling; the work is in `services.tiers`."""

from __future__ import annotations

import logging

from celery import shared_task

from dashboard.access import audit
from dashboard.metrics import runner

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def run_tier(tier: str) -> int:
    """Compute and publish `tier` for the hospital and every department; returns scopes published."""
    published = 0
    for scope in runner.tier_scopes():
        try:
            published += runner.run_tier(scope, tier)
        except Exception:
            # One scope's failure must not starve the others; the next tick retries it.
            logger.exception("tier %s of %s failed", tier, scope)
    return published


@shared_task(ignore_result=True)
def prune_access_log() -> int:
    """Delete access-log entries older than AUDIT_RETENTION_DAYS (contract §6); run daily by beat."""
    deleted = audit.prune()
    logger.info("pruned %d access-log entries", deleted)
    return deleted

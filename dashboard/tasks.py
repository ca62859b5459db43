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
    """Compute and publish `tier` for the hospital and every department; returns scopes published.

    The critical tier without live counters is recomputed for every scope from one read of
    MongoDB (`runner.run_critical_recomputed`); otherwise each scope is computed on its own.
    """
    scopes = runner.tier_scopes()
    if tier == "critical" and not maintained.is_live():
        return _run_critical_recomputed(scopes)
    published = 0
    for scope in scopes:
        try:
            published += runner.run_tier(scope, tier)
            if tier == "critical" and scope.department is not None:
                _check_thresholds(scope)
        except Exception:
            # One scope's failure must not starve the others; the next tick retries it.
            logger.exception("tier %s of %s failed", tier, scope)
    return published


def _run_critical_recomputed(scopes: list[Scope]) -> int:
    """`run_tier("critical")` from one read of MongoDB; a failure of that read fails the pass."""
    try:
        ran = runner.run_critical_recomputed(scopes)
    except Exception:
        logger.exception("tier critical of %s failed", ", ".join(str(scope) for scope in scopes))
        return 0
    for scope in ran:
        try:
            if scope.department is not None:
                _check_thresholds(scope)
        except Exception:
            logger.exception("tier critical of %s failed", scope)
    return sum(ran.values())


# For this long after the counters stopped being live, the critical tier is recomputed from
# MongoDB every second: a watcher restarting or taking over is back within seconds, and until
# then changes would otherwise wait for the 5 s run. After it, a deployment left without a
# watcher falls back to the tier's own interval rather than reading MongoDB every second.
RECOMPUTE_EVERY_SECOND_FOR_S = 60.0


@shared_task(ignore_result=True)
def critical_on_lapse() -> int:
    """Run the critical tier when the watcher's counters stopped being live: at once, then every
    second (beat runs this every second) until they are live again or RECOMPUTE_EVERY_SECOND_FOR_S
    passed. Returns what `run_tier` returns (0 when nothing lapsed or another run holds the tier).

    Until the next critical run the tiles would keep what the counters said, which no longer
    follows MongoDB, and look fresh (their `computed_at` less than two intervals old), so the
    recomputation from MongoDB is not left to the next tick.
    """
    if maintained.lapsed():
        logger.warning("the maintained counters are no longer live; recomputing the critical tier now")
        maintained.note_lapse(RECOMPUTE_EVERY_SECOND_FOR_S)
    elif not maintained.lapsed_lately():
        return 0
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

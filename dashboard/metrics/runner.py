"""Computing a tier of a scope from MongoDB, and running it for publication."""

from __future__ import annotations

import logging
import time
import zoneinfo
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from django.conf import settings
from pymongo.database import Database
from redis.exceptions import LockNotOwnedError, RedisError
from redis.lock import Lock

from dashboard.metrics import flow, maintained
from dashboard.metrics.critical import combine, compute_critical_scopes, present
from dashboard.metrics.registry import compute_function
from dashboard.models import Department
from dashboard.protocol.messages import encode, iso
from dashboard.protocol.scopes import HOSPITAL_SCOPE, Scope
from dashboard.protocol.tiers import interval_s
from dashboard.sources import mongo, redis_store, service_clock
from dashboard.stream import publish
from dashboard.telemetry import instruments

logger = logging.getLogger(__name__)


class UnencodableTier(ValueError):
    """A computed tier that JSON cannot carry (a non-finite number): never cached or sent.

    The last line of defence: `dashboard.sources.documents` lets no such value in, and the
    tiers' arithmetic makes none from valid values.
    """


def compute_tier(
    scope: Scope,
    tier: str,
    *,
    now: datetime | None = None,
    db: Database | None = None,
) -> dict[str, Any]:
    """The tier's numbers for the scope, read from MongoDB now, with `computed_at`.

    `computed_at` is `now`, taken before the queries start, as every producer does: the
    publisher drops a computation that started before the one it last published. Raises
    UnencodableTier when the result cannot be encoded as JSON, and what pymongo raises.
    """
    now = now or service_clock.now()
    data = compute_function(tier)(
        db if db is not None else mongo.hospital_db(),
        scope.department,
        now=now,
        tz=zoneinfo.ZoneInfo(settings.TIME_ZONE),
    )
    return stamped(scope, tier, data, now)


def stamped(scope: Scope, tier: str, data: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A computed tier with `computed_at` = `now`; UnencodableTier when JSON cannot carry it."""
    result = {**data, "computed_at": iso(now)}
    try:
        encode(result)
    except ValueError as exc:
        logger.error("the %s tier of %s cannot be encoded as JSON; it is not used", tier, scope)
        raise UnencodableTier(f"{tier} of {scope}") from exc
    return result


def maintained_critical(scope: Scope, *, now: datetime | None = None) -> dict[str, Any]:
    """The critical tier from the counters the watcher maintains: a few Redis reads, no MongoDB.

    `computed_at` is `now`, taken before the counters are read.
    """
    now = now or service_clock.now()
    codes = None if scope.department is None else [scope.department]
    by_department = maintained.counts_by_department(now, zoneinfo.ZoneInfo(settings.TIME_ZONE), codes)
    since = [at for times in maintained.boarding_since(codes).values() for at in times]
    return {
        **present(combine(list(by_department.values()))),
        "flow": flow.boarding(since, now),
        "computed_at": iso(now),
    }


def run_tier(scope: Scope, tier: str) -> bool:
    """Compute and publish one tier of one scope; False when another run holds it.

    The lock makes concurrent beats or workers skip rather than publish the same result twice.
    It lasts one interval, so a run slower than that overlaps the next one; whichever finishes
    last, the publisher drops the computation that started first if the other is already out.
    The critical tier comes from the maintained counters while a watcher keeps them live.
    """
    lock = _run_lock(scope, tier)
    if not lock.acquire():
        logger.info("tier %s of %s is already running elsewhere; skipped", tier, scope)
        return False
    try:
        live = tier == "critical" and maintained.is_live()
        with _timed(tier, [scope]):
            data = maintained_critical(scope) if live else compute_tier(scope, tier)
        publish.publish_tier(scope, tier, data)
    finally:
        _release(lock, scope, tier)
    return True


def run_critical_recomputed(scopes: list[Scope]) -> dict[Scope, bool]:
    """Recompute the critical tier of `scopes` from one hospital-wide read and publish each.

    For when the maintained counters are not live: one read of MongoDB for the whole pass
    (`critical.compute_critical_scopes`) rather than one per scope. Each scope's run lock is
    taken as `run_tier` takes it, and a scope another run holds is skipped (False). A scope
    whose tier cannot be encoded or published is logged and left out of the answer; the others
    are published (True). Raises what pymongo raises when the shared read fails, after releasing
    the locks.
    """
    locks = {scope: _run_lock(scope, "critical") for scope in scopes}
    held: list[Scope] = []
    skipped: dict[Scope, bool] = {}
    try:
        for scope, lock in locks.items():
            if lock.acquire():
                held.append(scope)
            else:
                logger.info("tier critical of %s is already running elsewhere; skipped", scope)
                skipped[scope] = False
        return {**skipped, **_publish_recomputed(held)}
    finally:
        for scope in held:
            _release(locks[scope], scope, "critical")


def _publish_recomputed(scopes: list[Scope]) -> dict[Scope, bool]:
    """Compute the critical tier of `scopes` in one read and publish each: the scopes published."""
    if not scopes:
        return {}
    now = service_clock.now()
    with _timed("critical", scopes):
        tiers = compute_critical_scopes(
            mongo.hospital_db(),
            [scope.department for scope in scopes if scope.department is not None],
            now=now,
            tz=zoneinfo.ZoneInfo(settings.TIME_ZONE),
        )
    published = {}
    for scope in scopes:
        try:
            publish.publish_tier(scope, "critical", stamped(scope, "critical", tiers[scope.department], now))
            published[scope] = True
        except Exception:
            # One scope's failure must not keep the others from their tiles.
            logger.exception("tier critical of %s failed", scope)
    return published


def _run_lock(scope: Scope, tier: str) -> Lock:
    """The tier's run lock of the scope: not blocking, lasting one interval."""
    return redis_store.client().lock(
        redis_store.tier_run_lock_key(scope, tier), timeout=interval_s(tier), blocking=False
    )


def _release(lock: Lock, scope: Scope, tier: str) -> None:
    """Release a run lock; never raises (an unreleased lock expires within one interval)."""
    try:
        lock.release()
    except LockNotOwnedError:
        logger.warning("tier %s of %s ran longer than its %g s interval", tier, scope, interval_s(tier))
    except RedisError as exc:
        logger.warning(
            "tier %s of %s: run lock not released (%s); it expires within %g s",
            tier,
            scope,
            exc.__class__.__name__,
            interval_s(tier),
        )


@contextmanager
def _timed(tier: str, scopes: list[Scope]) -> Iterator[None]:
    """Observe, for each of `scopes`, the seconds the block took in dash_tier_compute_seconds
    (failed runs too): a pass computing many scopes at once took that long for each."""
    start = time.perf_counter()
    try:
        yield
    finally:
        elapsed = time.perf_counter() - start
        for scope in scopes:
            instruments.TIER_COMPUTE_SECONDS.labels(tier, _kind(scope)).observe(elapsed)


def _kind(scope: Scope) -> str:
    return "hospital" if scope.department is None else "department"


def tier_scopes() -> list[Scope]:
    """Every scope a tier run covers: the hospital and each active department."""
    codes = Department.objects.filter(active=True).values_list("code", flat=True)
    return [HOSPITAL_SCOPE, *(Scope(code) for code in codes)]

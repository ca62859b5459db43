"""What the watcher does with what it reads: plain functions, each testable on its own."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pymongo.database import Database

from dashboard.alerts import thresholds
from dashboard.alerts.documents import alert_payload
from dashboard.metrics import maintained, runner
from dashboard.metrics.contributions import contribution
from dashboard.protocol.scopes import HOSPITAL_SCOPE, Scope
from dashboard.protocol.tiers import TIERS
from dashboard.sources import documents, mongo, redis_store, service_clock
from dashboard.stream import publish
from dashboard.watcher import stats
from dashboard.watcher.events import Change
from dashboard.watcher.failures import describe

logger = logging.getLogger(__name__)

ALERT_DEDUP_TTL_S = 86400
DEAD_LETTER_STREAM = redis_store.WATCHER_DEAD_LETTER_STREAM
DEAD_LETTER_MAX = 10_000


class UnreadableToken(ValueError):
    """A saved resume token that is not a JSON object: no stream can resume from it."""


def load_token(collection: str) -> dict[str, Any] | None:
    """The saved resume token of `collection`, None when there is none.

    Raises UnreadableToken when what is saved is not a JSON object, RedisError when Redis fails.
    """
    raw = redis_store.client().get(redis_store.watcher_token_key(collection))
    if not raw:
        return None
    try:
        token = json.loads(raw)
    except ValueError:
        raise UnreadableToken(f"the saved resume token of {collection} is not JSON") from None
    if not isinstance(token, dict):
        raise UnreadableToken(f"the saved resume token of {collection} is not an object")
    return token


def save_tokens(tokens: dict[str, dict[str, Any]]) -> None:
    if tokens:
        redis_store.client().mset(
            {redis_store.watcher_token_key(name): json.dumps(token) for name, token in tokens.items()}
        )


def forget_token(collection: str) -> None:
    redis_store.client().delete(redis_store.watcher_token_key(collection))


def dead_letter(collection: str, event: dict[str, Any], reason: str) -> None:
    """Set an unusable event aside in DEAD_LETTER_STREAM, counted and logged in one line.

    The line names the collection, the document's `_id` and `reason`, never the document;
    the stream entry keeps the event (cut at 10,000 characters) for inspection. Raises
    RedisError when Redis fails.
    """
    key = event.get("documentKey")
    document_id = key.get("_id") if isinstance(key, dict) else None
    logger.warning(
        "dead-lettered the %s event of %s document %s: %s",
        event.get("operationType"),
        collection,
        document_id,
        reason,
    )
    stats.incr("events_dead_lettered")
    redis_store.client().xadd(
        DEAD_LETTER_STREAM,
        {"collection": collection, "reason": reason, "event": json.dumps(event, default=str)[:10_000]},
        maxlen=DEAD_LETTER_MAX,
        approximate=True,
    )


def push_new_alert(doc: dict[str, Any], *, escalated: bool = False) -> bool:
    """Publish an alert to its department and the hospital (escalations: the hospital only).

    The alert is marked as sent (in one sorted set, kept ALERT_DEDUP_TTL_S) only after the
    publish, so a crash in between sends it again after the restart (at least once) instead
    of never. Only the lease holder calls this, so two watchers never race on one mark.
    Returns False when it was sent already; raises RedisError when Redis fails.
    """
    payload = alert_payload(doc)
    client = redis_store.client()
    sent = redis_store.alerts_sent_key(escalated=escalated)
    if client.zscore(sent, payload["id"]) is not None:
        return False
    if escalated:
        publish.publish_alert(HOSPITAL_SCOPE, {**payload, "escalated": True})
    else:
        for scope in (Scope(payload["department"]), HOSPITAL_SCOPE):
            publish.publish_alert(scope, payload)
    now = service_clock.time_s()
    pipe = client.pipeline(transaction=False)
    pipe.zadd(sent, {payload["id"]: now})
    pipe.zremrangebyscore(sent, "-inf", f"({now - ALERT_DEDUP_TTL_S!r}")
    pipe.execute()
    return True


def maintain(change: Change, tz: ZoneInfo, at: datetime | None = None) -> set[str]:
    """Take a change into the maintained counters; returns the departments it may have altered.

    The document is read through `documents.read`: each invalid field is counted and logged
    (as read by "watcher") and contributes nothing; a document of no valid department
    contributes nowhere, so one moved to an invalid department leaves its old one. `at` is
    when the change happened (the event's time), for rooms without `status_changed_at`.
    """
    new = None
    if change.document is not None:
        checked = documents.read(change.collection, change.document, "watcher")
        new = contribution(change.collection, checked, tz)
    return maintained.apply(change.collection, change.document_id, new, at=at)


def publish_critical(departments: set[str]) -> None:
    """Publish the critical tier of the departments and the hospital from the maintained counters,
    and raise the threshold alerts the departments' new numbers call for."""
    publish_critical_scopes({*(Scope(code) for code in departments), HOSPITAL_SCOPE})


def publish_critical_scopes(scopes: Iterable[Scope]) -> None:
    """Publish the critical tier of `scopes` from the maintained counters, departments by code, then
    the hospital, and raise the threshold alerts each department's new numbers call for. Raises what
    Redis raises when down."""
    now = service_clock.now()
    for scope in sorted(scopes, key=lambda scope: (scope.department is None, scope.department or "")):
        data = runner.maintained_critical(scope, now=now)
        publish.publish_tier(scope, "critical", data)
        if scope.department is not None:
            check_thresholds(scope.department, data, now)


def check_thresholds(department: str, critical: dict[str, Any], now: datetime) -> None:
    """`thresholds.evaluate`, a failure logged rather than raised: the publication it follows is
    done, and the next critical run (every 5 s, Celery) evaluates again."""
    try:
        thresholds.evaluate(department, critical, now=now)
    except Exception as exc:
        logger.warning("could not check the thresholds of %s (%s); will retry", department, describe(exc))


def recompute_all_critical() -> None:
    """Recompute the critical tier of every scope from MongoDB (polling, without change streams)."""
    for scope in runner.tier_scopes():
        publish.publish_tier(scope, "critical", runner.compute_tier(scope, "critical"))


def skipped_document(collection: str, document_id: Any, exc: Exception) -> None:
    """A document a rebuild could not use: counted, and logged in one line with its `_id`."""
    stats.incr("documents_skipped")
    logger.warning("rebuild skipped %s document %s: %s", collection, document_id, describe(exc))


def rebuild_counters(
    db: Database, tz: ZoneInfo, collections: Iterable[str] = mongo.WATCHED_COLLECTIONS
) -> tuple[int, set[str]]:
    """Rebuild the maintained counters of `collections` from MongoDB, skipping bad documents.

    Returns how many documents count and every department whose counters the rebuild may have
    changed (those counted before and after). Raises what MongoDB or Redis raise when down.
    """
    before = set(maintained.departments())
    remembered = maintained.rebuild(db, tz, collections, skip=skipped_document)
    return remembered, before | set(maintained.departments())


def resync_everything(db: Database, tz: ZoneInfo, reason: str) -> str:
    """After a stream restarted from now: counters rebuilt, a new epoch, every tier of every scope
    published. Returns the new epoch; raises what MongoDB or Redis raise when down."""
    rebuild_counters(db, tz)
    epoch = publish.start_new_epoch()
    for scope in runner.tier_scopes():
        for tier in TIERS:
            publish.publish_tier(scope, tier, runner.compute_tier(scope, tier))
    stats.incr("resyncs")
    logger.error(
        "change stream restarted from now (%s): started epoch %s, recomputed every scope", reason, epoch
    )
    return epoch

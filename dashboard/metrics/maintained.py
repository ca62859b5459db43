"""The critical counters the watcher maintains in Redis, one change event at a time.

For each watched document Redis remembers its last contribution (its department and what it
adds to that department's counters); a department's counters are always the sum of its
documents' contributions, because every change replaces one contribution and adjusts the
counters by the difference in one transaction. The work per event is a few Redis commands,
whatever the size of the collections. Only the active watcher writes here; the tier runs
read the counters while the watcher marks them live. A full rebuild from MongoDB sets them up
and leaves a completion mark naming their format (`counters_format`); a watcher that becomes
active keeps them instead when that mark is there and every stream resumes from its saved
token (dashboard/watcher/loop.py). A rebuild also repairs them when the drift check finds
them wrong.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from pymongo.database import Database
from redis.exceptions import RedisError

from dashboard.metrics import contributions, turnaround
from dashboard.metrics.contributions import CLOCK_SKEW_S, Contribution, contribution
from dashboard.metrics.critical import ACTIVE_WINDOW, Counts
from dashboard.sources import date_range, documents, mongo, redis_store, service_clock, skipped
from dashboard.sources.documents import FIELDS, ROOM_STATUSES

logger = logging.getLogger(__name__)

REBUILD_BATCH = 5_000
# Bumped when what the counters hold changes in a way the modules' text does not show.
COUNTERS_VERSION = 1
# The modules whose code decides a document's contribution and how the counters keep it.
_FORMAT_MODULES = (contributions, documents, date_range)


def counters_format(tz: ZoneInfo) -> str:
    """The format of the counters this code keeps, as the completion mark names it.

    `v<COUNTERS_VERSION> <12 hex digits> <time zone>`: the digest covers the source of the
    modules that compute contributions and of this one, so any deploy that changes them (and
    any change of TIME_ZONE, which keys the days) gives another format and the next watcher
    rebuilds. Raises OSError when a module's source cannot be read.
    """
    return f"v{COUNTERS_VERSION} {_source_digest()} {tz.key}"


@functools.cache
def _source_digest() -> str:
    digest = hashlib.sha256()
    for module in (*_FORMAT_MODULES, sys.modules[__name__]):
        with open(str(module.__file__), "rb") as source:
            digest.update(source.read())
    return digest.hexdigest()[:12]


def completed_format() -> str | None:
    """The format named by the completion mark, None when no complete rebuild stands behind
    the counters (none yet, one interrupted, or Redis restarted empty); raises RedisError."""
    raw = redis_store.client().get(redis_store.MAINTAINED_COMPLETE_KEY)
    return str(raw) if raw else None


def _memory(collection: str) -> str:
    return redis_store.maintained_memory_key(collection)


def _room_since(old: Contribution | None, new: Contribution, at: float) -> Contribution:
    """`new` (a room) with `status_at` filled in when its document has no `status_changed_at`:
    kept from `old` while the status is the same, else `at` (when the change happened)."""
    if new.status_at is not None:
        return new
    if old is not None and old.status == new.status:
        return replace(new, status_at=old.status_at)
    return replace(new, status_at=at)


def _ended_cleaning(
    member: str, old: Contribution | None, new: Contribution | None, seen_at: float
) -> turnaround.Cleaning | None:
    """The cleaning a room's change ends (`cleaning` -> `available`, both times known), if any.

    `seen_at` (POSIX s) is when the change happened. A cleaning said to end more than
    CLOCK_SKEW_S after it is not recorded: its `status_changed_at` is counted and logged as
    skipped by "turnaround" (recorded, it would outlive and trim away every real cleaning).
    """
    if old is None or new is None or old.status != "cleaning" or new.status != "available":
        return None
    if old.status_at is None or new.status_at is None or new.status_at < old.status_at:
        return None
    if new.status_at > seen_at + CLOCK_SKEW_S:
        skipped.record(mongo.ROOMS, "status_changed_at", member, "turnaround")
        return None
    return turnaround.Cleaning(new.department, member, old.status_at, new.status_at)


def apply(
    collection: str, document_id: Any, new: Contribution | None, *, at: datetime | None = None
) -> set[str]:
    """Replace a document's contribution (None: it is gone or counts nowhere).

    `at` is when the change happened (the change event's time; now when None): a room whose
    document has no `status_changed_at` is taken to hold a new status since then, and a
    cleaning that ends is recorded for bed turnaround (dashboard/metrics/turnaround.py).
    Returns the departments whose counters the change may have altered: where the document
    was and where it is now.
    """
    client = redis_store.client()
    member = str(document_id)
    raw = client.hget(_memory(collection), member)
    old = Contribution.loads(raw) if raw else None
    happened = at or service_clock.now()
    seen_at = (happened if happened.tzinfo else happened.replace(tzinfo=UTC)).timestamp()
    if new is not None and new.status is not None:
        new = _room_since(old, new, seen_at)
    ended = _ended_cleaning(member, old, new, seen_at)
    if new is not None and new.boarding_at is not None and new.boarding_at > seen_at + CLOCK_SKEW_S:
        # Kept (it boards once its time comes), but not boarding now (flow.boarding): counted.
        skipped.record(mongo.PATIENTS, "boarding_since", member, "watcher")
    deltas: dict[str, Counter[str]] = defaultdict(Counter)
    if old is not None:
        deltas[old.department].subtract(old.counters)
    if new is not None:
        deltas[new.department].update(new.counters)
    pipe = client.pipeline(transaction=True)
    if new is None:
        pipe.hdel(_memory(collection), member)
    else:
        pipe.hset(_memory(collection), member, new.dumps())
        pipe.sadd(redis_store.MAINTAINED_DEPARTMENTS_KEY, new.department)
    for department, delta in deltas.items():
        for counter, amount in delta.items():
            if amount:
                pipe.hincrby(redis_store.maintained_counts_key(department), counter, amount)
    if old is not None and old.active_at is not None:
        pipe.zrem(redis_store.maintained_active_key(old.department), member)
    if new is not None and new.active_at is not None:
        pipe.zadd(redis_store.maintained_active_key(new.department), {member: new.active_at})
    if old is not None and old.boarding_at is not None:
        pipe.zrem(redis_store.maintained_boarding_key(old.department), member)
    if new is not None and new.boarding_at is not None:
        pipe.zadd(redis_store.maintained_boarding_key(new.department), {member: new.boarding_at})
    if ended is not None:
        turnaround.record(pipe, ended)
    pipe.execute()
    return {known.department for known in (old, new) if known is not None}


# Called with (collection, document _id, the exception) for each document a rebuild skips.
SkipDocument = Callable[[str, Any, Exception], None]


def _log_skipped(collection: str, document_id: Any, exc: Exception) -> None:
    logger.warning("rebuild skipped %s document %s: %s", collection, document_id, exc.__class__.__name__)


def rebuild(
    db: Database,
    tz: ZoneInfo,
    collections: Iterable[str] = mongo.WATCHED_COLLECTIONS,
    *,
    skip: SkipDocument = _log_skipped,
) -> int:
    """Recompute the contributions of `collections` from MongoDB; returns how many documents count.

    The counters are replaced in one transaction at the end, so readers see the old sums or
    the new ones, never a mixture; the other collections' remembered contributions are kept
    and summed in. Each document is read through `documents.read` (every invalid field
    counted and logged as read by "rebuild"); one whose contribution cannot be computed
    anyway is handed to `skip` and counts nowhere; the rebuild goes on. A room keeps the start
    of its status from its remembered contribution, and a cleaning it remembers that the
    document's `status_changed_at` shows ended is recorded (dashboard/metrics/turnaround.py).
    The counters are not live again until the watcher says so. The completion mark is taken
    away first and set again (to `counters_format(tz)`) in the final transaction, when every
    watched collection was rebuilt or the counters were complete in this format before; a
    rebuild cut short therefore leaves no mark. Raises what MongoDB or Redis raise when they
    cannot be reached.
    """
    client = redis_store.client()
    clear_live()
    fmt = counters_format(tz)
    was_complete = completed_format() == fmt
    client.delete(redis_store.MAINTAINED_COMPLETE_KEY)
    totals: dict[str, Counter[str]] = defaultdict(Counter)
    sets = _Sets()
    # Cleanings that ended while no watcher saw them, when status_changed_at tells when.
    cleanings: list[turnaround.Cleaning] = []
    remembered = 0
    rebuilt = set(collections)
    for collection in rebuilt:
        # Rooms keep the start of their status across a rebuild (bed turnaround needs it).
        before: dict[str, str] = client.hgetall(_memory(collection)) if collection == mongo.ROOMS else {}  # type: ignore[assignment]
        client.delete(_memory(collection))
        batch: dict[str, str] = {}
        for doc in db[collection].find({}, dict.fromkeys(FIELDS[collection], 1)):
            try:
                known = contribution(collection, documents.read(collection, doc, "rebuild"), tz)
            except Exception as exc:
                skip(collection, doc.get("_id"), exc)
                continue
            if known is None:
                continue
            member = str(doc["_id"])
            if known.status is not None and member in before:
                remembered_room = Contribution.loads(before[member])
                if known.status_at is None and remembered_room.status == known.status:
                    known = replace(known, status_at=remembered_room.status_at)
                ended = _ended_cleaning(member, remembered_room, known, service_clock.time_s())
                if ended is not None:
                    cleanings.append(ended)
            batch[member] = known.dumps()
            _add(totals, sets, member, known)
            if len(batch) >= REBUILD_BATCH:
                remembered += _remember(collection, batch)
        remembered += _remember(collection, batch)
    for collection in set(mongo.WATCHED_COLLECTIONS) - rebuilt:
        kept: dict[str, str] = client.hgetall(_memory(collection))  # type: ignore[assignment]
        for member, raw in kept.items():
            _add(totals, sets, member, Contribution.loads(raw))
    previous: set[str] = client.smembers(redis_store.MAINTAINED_DEPARTMENTS_KEY)  # type: ignore[assignment]
    pipe = client.pipeline(transaction=True)
    for department in previous | set(totals):
        pipe.delete(
            redis_store.maintained_counts_key(department),
            redis_store.maintained_active_key(department),
            redis_store.maintained_boarding_key(department),
        )
    pipe.delete(redis_store.MAINTAINED_DEPARTMENTS_KEY)
    for department, counters in totals.items():
        pipe.sadd(redis_store.MAINTAINED_DEPARTMENTS_KEY, department)
        if +counters:
            pipe.hset(redis_store.maintained_counts_key(department), mapping=dict(+counters))  # type: ignore[arg-type]
    for department, members in sets.active.items():
        pipe.zadd(redis_store.maintained_active_key(department), members)
    for department, members in sets.boarding.items():
        pipe.zadd(redis_store.maintained_boarding_key(department), members)
    for cleaning in cleanings:
        turnaround.record(pipe, cleaning)
    if was_complete or rebuilt >= set(mongo.WATCHED_COLLECTIONS):
        pipe.set(redis_store.MAINTAINED_COMPLETE_KEY, fmt)
    pipe.execute()
    return remembered


class _Sets:
    """The sorted sets a rebuild fills: staff by last activity, boarding patients by `boarding_since`."""

    def __init__(self) -> None:
        self.active: dict[str, dict[str, float]] = defaultdict(dict)
        self.boarding: dict[str, dict[str, float]] = defaultdict(dict)


def _add(totals: dict[str, Counter[str]], sets: _Sets, member: str, known: Contribution) -> None:
    totals[known.department].update(known.counters)
    if known.active_at is not None:
        sets.active[known.department][member] = known.active_at
    if known.boarding_at is not None:
        sets.boarding[known.department][member] = known.boarding_at


def _remember(collection: str, batch: dict[str, str]) -> int:
    count = len(batch)
    if batch:
        redis_store.client().hset(_memory(collection), mapping=batch)  # type: ignore[arg-type]
        batch.clear()
    return count


def departments() -> list[str]:
    """Every department some remembered document belongs to."""
    return sorted(redis_store.client().smembers(redis_store.MAINTAINED_DEPARTMENTS_KEY))  # type: ignore[arg-type]


def counts_by_department(
    now: datetime, tz: ZoneInfo, codes: Iterable[str] | None = None
) -> dict[str, Counts]:
    """The maintained counts at `now`, shaped like the from-scratch ones (critical.py)."""
    codes = sorted(codes) if codes is not None else departments()
    today = now.astimezone(tz).date().isoformat()
    fields = {
        ("patients", "admitted"): "admitted",
        ("patients", "outpatient"): "outpatient",
        ("patients", "emergency"): "emergency",
        ("patients", "new_today"): f"new:{today}",
        ("patients", "discharged_today"): f"discharged:{today}",
        ("patients", "boarding"): "boarding",
        **{("rooms", status): f"room:{status}" for status in ROOM_STATUSES},
        ("rooms", "beds_total"): "beds_total",
        ("rooms", "beds_occupied"): "beds_occupied",
        ("alerts", "open"): "alerts_open",
        ("alerts", "critical_open"): "alerts_critical",
        ("staff", "on_duty"): "on_duty",
    }
    pipe = redis_store.client().pipeline(transaction=False)
    for code in codes:
        pipe.hmget(redis_store.maintained_counts_key(code), list(fields.values()))
        pipe.zcount(redis_store.maintained_active_key(code), (now - ACTIVE_WINDOW).timestamp(), "+inf")
    replies = pipe.execute()
    result: dict[str, Counts] = {}
    for index, code in enumerate(codes):
        values, active = replies[2 * index], replies[2 * index + 1]
        counts: Counts = {"patients": {}, "rooms": {}, "alerts": {}, "staff": {"active_15m": active}}
        for (group, name), value in zip(fields, values, strict=True):
            counts[group][name] = int(value or 0)
        result[code] = counts
    return result


def boarding_since(codes: Iterable[str] | None = None) -> dict[str, list[float]]:
    """`boarding_since` (POSIX seconds) of each maintained boarding patient, by department."""
    codes = sorted(codes) if codes is not None else departments()
    pipe = redis_store.client().pipeline(transaction=False)
    for code in codes:
        pipe.zrange(redis_store.maintained_boarding_key(code), 0, -1, withscores=True)
    return {
        code: [score for _member, score in members]
        for code, members in zip(codes, pipe.execute(), strict=True)
    }


def mark_live(ttl_s: float) -> None:
    """Mark the counters live for `ttl_s` seconds (the watcher renews it); raises RedisError."""
    redis_store.client().set(redis_store.MAINTAINED_LIVE_KEY, "1", px=int(ttl_s * 1000))


def clear_live() -> None:
    """The counters are no longer maintained: tier runs recompute from MongoDB; raises RedisError."""
    redis_store.client().delete(redis_store.MAINTAINED_LIVE_KEY)


# Whether this process saw the live mark since it last reported a lapse: a Redis restarted
# empty loses the mark and the record of it having been seen, not this.
_seen_live_here = False


def lapsed() -> bool:
    """True once after the live mark went away (the watcher killed, stuck, stopped or
    rebuilding, or Redis restarted empty after this process saw the mark), for the one caller
    that notices first; False while it is there or already reported. Raises RedisError."""
    global _seen_live_here
    client = redis_store.client()
    if client.exists(redis_store.MAINTAINED_LIVE_KEY):
        client.set(redis_store.MAINTAINED_SEEN_LIVE_KEY, "1")
        _seen_live_here = True
        return False
    seen_here, _seen_live_here = _seen_live_here, False
    return bool(client.delete(redis_store.MAINTAINED_SEEN_LIVE_KEY)) or seen_here


def note_lapse(for_s: float) -> None:
    """Remember for `for_s` seconds that the live mark lapsed; raises RedisError."""
    redis_store.client().set(redis_store.MAINTAINED_LAPSED_KEY, "1", px=int(for_s * 1000))


def lapsed_lately() -> bool:
    """True within the time `note_lapse` gave, unless the counters are live again; raises RedisError."""
    client = redis_store.client()
    return bool(client.exists(redis_store.MAINTAINED_LAPSED_KEY)) and not client.exists(
        redis_store.MAINTAINED_LIVE_KEY
    )


def is_live() -> bool:
    """True while an active watcher keeps the counters up to date."""
    try:
        return bool(redis_store.client().exists(redis_store.MAINTAINED_LIVE_KEY))
    except RedisError:
        return False

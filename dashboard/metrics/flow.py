"""Patient flow (contract §8): boarding, length of stay, discharges, LWBS and bed turnaround.

Definitions, units and null rules are in docs/METRICS.md "Patient flow". Boarding belongs to
the critical tier: the watcher maintains it from change events (the boarding patients of a
department are a sorted set by `boarding_since`, dashboard/metrics/maintained.py), and
`boarding_times` reads the same from MongoDB when recomputing. The rest belongs to the
standard tier and is computed every 30 s from today's and the last 7 days' discharges, and
from the cleanings the watcher recorded (dashboard/metrics/turnaround.py).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pymongo.database import Database
from redis.exceptions import RedisError

from dashboard.metrics import turnaround
from dashboard.metrics.contributions import CLOCK_SKEW_S, boarding_since
from dashboard.metrics.filters import scope_filter
from dashboard.metrics.timewindows import Windows
from dashboard.sources import documents, mongo

LOS_WINDOW = timedelta(days=7)
LWBS = "lwbs"
# What the boarding and discharge queries read of each patient.
BOARDING_FIELDS = ("department", "status", "boarding_since")
# `admitted_at` too: a `boarding_since` before it is invalid (documents.NOT_BEFORE).
BOARDING_PROJECTION = dict.fromkeys((*BOARDING_FIELDS, "admitted_at"), 1)
DISCHARGE_FIELDS = ("department", "status", "admitted_at", "discharged_at", "disposition")


def boarding_times(db: Database, department: str | None) -> dict[str, list[float]]:
    """`boarding_since` (POSIX seconds) of the scope's boarding patients, by department.

    Boarding: status `admitted` and a valid, non-null `boarding_since` (not before `admitted_at`).
    Checked without counting (as every critical-tier query: the watcher counts invalid values).
    Raises what pymongo raises.
    """
    found: dict[str, list[float]] = defaultdict(list)
    query = scope_filter(department, status="admitted", boarding_since={"$ne": None})
    for doc in db[mongo.PATIENTS].find(query, BOARDING_PROJECTION):
        checked = documents.check(mongo.PATIENTS, doc, BOARDING_FIELDS)
        since = boarding_since(checked)
        if checked.get("department") is not None and since is not None:
            found[checked.get("department")].append(since.timestamp())
    return dict(found)


def boarding(since: Iterable[float], now: datetime) -> dict[str, Any]:
    """`critical.flow`: the count of boarding patients and the longest and median minutes since
    `boarding_since` at `now` (to 0.1 min), 0 and 0 when none. A `boarding_since` up to
    CLOCK_SKEW_S ahead of `now` counts, for 0 minutes; one further ahead is a broken value and
    does not count (the watcher counts it as skipped when it sees it)."""
    latest = now.timestamp() + CLOCK_SKEW_S
    minutes = sorted(max(0.0, (now.timestamp() - at) / 60) for at in since if at <= latest)
    return {
        "boarding": len(minutes),
        "boarding_longest_min": round(minutes[-1], 1) if minutes else 0,
        "boarding_median_min": round(statistics.median(minutes), 1) if minutes else 0,
    }


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def local_noon(w: Windows, tz: ZoneInfo) -> datetime:
    """12:00 local time today, as an aware datetime (it exists on every DST day)."""
    return datetime.combine(w.today, time(12), tzinfo=tz)


def standard_flow(db: Database, department: str | None, *, now: datetime, tz: ZoneInfo) -> dict[str, Any]:
    """`standard.flow` of the scope at `now` (docs/METRICS.md "Patient flow").

    Reads the patients discharged since the earlier of today's local midnight and 7 days ago,
    each through `documents.read` as read by "standard": one whose department or
    `discharged_at` is invalid is left out, one whose `admitted_at` is invalid is left out of
    the length of stay, an invalid `disposition` is not `lwbs`; each is counted and logged.
    Bed turnaround reads Redis; it is null when Redis cannot be read. Raises what pymongo raises.
    """
    w = Windows.at(now, tz)
    los_start = now - LOS_WINDOW
    query = scope_filter(
        department, status="discharged", discharged_at={"$gte": min(los_start, w.day_start), "$lt": w.day_end}
    )
    noon = local_noon(w, tz)
    stays: list[float] = []
    today = before_noon = lwbs = 0
    for doc in db[mongo.PATIENTS].find(query, dict.fromkeys(DISCHARGE_FIELDS, 1)):
        checked = documents.read(mongo.PATIENTS, doc, "standard", DISCHARGE_FIELDS)
        discharged_at, admitted_at = checked.get("discharged_at"), checked.get("admitted_at")
        if checked.get("department") is None or discharged_at is None:
            continue
        if los_start <= discharged_at <= now and admitted_at is not None and admitted_at <= discharged_at:
            stays.append((discharged_at - admitted_at).total_seconds() / 3600)
        if w.day_start <= discharged_at < w.day_end:
            today += 1
            before_noon += discharged_at < noon
            lwbs += checked.get("disposition") == LWBS
    try:
        cleanings = turnaround.ended_between(w.day_start, w.day_end, department)
    except RedisError:
        cleanings = []
    return {
        "los_avg_h_7d": round(sum(stays) / len(stays), 2) if stays else None,
        "discharges_today": today,
        "discharges_before_noon": before_noon,
        "discharges_before_noon_share": _share(before_noon, today),
        "bed_turnaround_median_min": turnaround.median_minutes(cleanings),
        "lwbs_today": lwbs,
        "lwbs_share": _share(lwbs, today),
    }

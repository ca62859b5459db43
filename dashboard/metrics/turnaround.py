"""Bed turnaround: how long rooms spent in `cleaning` before `available` (contract §8).

A room document only holds its present status, so a cleaning's length is only known to
whoever sees the room go from `cleaning` to `available`: the watcher, one change event at a
time (`dashboard.metrics.maintained.apply`). Each cleaning that ends is recorded in Redis
(TURNAROUND_KEY, a sorted set by end time), once: replaying the same event writes the same
member. The start and end of a cleaning are the room's `status_changed_at` when the
document carries it, otherwise the time of the change event that brought the status (its
`wallTime`, else the moment the watcher handled it). docs/METRICS.md says what is lost while
no watcher runs.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dashboard.sources import redis_store

# Recorded cleanings are kept this long after they ended (a local day is at most 25 hours).
KEEP_S = 3 * 86400


@dataclass(frozen=True)
class Cleaning:
    """One cleaning of a room: its department, the room's `_id` as a string, start and end (POSIX s)."""

    department: str
    room: str
    start: float
    end: float

    @property
    def minutes(self) -> float:
        return (self.end - self.start) / 60

    def member(self) -> str:
        return f"{self.department}|{self.room}|{self.start!r}|{self.end!r}"

    @classmethod
    def parse(cls, member: str) -> Cleaning:
        department, room, start, end = member.rsplit("|", 3)
        return cls(department, room, float(start), float(end))


def record(pipe: Any, cleaning: Cleaning) -> None:
    """Add `cleaning` to the pipeline `pipe` (a redis-py pipeline), dropping records past KEEP_S."""
    pipe.zadd(redis_store.TURNAROUND_KEY, {cleaning.member(): cleaning.end})
    pipe.zremrangebyscore(redis_store.TURNAROUND_KEY, "-inf", f"({cleaning.end - KEEP_S!r}")


def ended_between(start: datetime, end: datetime, department: str | None) -> list[Cleaning]:
    """Cleanings that ended in [start, end), of one department or all (None); raises RedisError."""
    members: Iterable[str] = redis_store.client().zrangebyscore(
        redis_store.TURNAROUND_KEY, start.timestamp(), f"({end.timestamp()!r}"
    )  # type: ignore[assignment]
    cleanings = [Cleaning.parse(member) for member in members]
    return [c for c in cleanings if department is None or c.department == department]


def median_minutes(cleanings: list[Cleaning]) -> float | None:
    """The median length of `cleanings` in minutes, to 0.1; None when there are none."""
    if not cleanings:
        return None
    return round(statistics.median(c.minutes for c in cleanings), 1)

"""Threshold alerts the service raises itself (contract §8): the one document it writes to `alerts`.

Three checks per department, read off its critical tier (the object clients receive), each
raised strictly above its level and re-armed at or below the level minus its band (never
below 0):

- `occupancy` (critical): `rooms.occupancy_rate` against THRESHOLD_OCCUPANCY, band 0.05;
- `boarding_count` (warning): `flow.boarding` against THRESHOLD_BOARDING_COUNT, band 2;
- `boarding_hours` (warning): `flow.boarding_longest_min` / 60 against THRESHOLD_BOARDING_HOURS,
  band 0.5 h.

A crossing raises one alert; while the value stays above the level, or falls back only into
the hysteresis band, nothing more is raised; once it is at or below the re-arm level, the
next crossing raises a new alert.

Each department and check has a state in Redis, `armed:<episode>` or `raised:<episode>`, an
episode being the millisecond it began. An alert's `_id` is
`threshold:<department>:<check>:<episode>`, so two watchers or workers that see the same
crossing insert the same `_id` and MongoDB's unique `_id` index refuses the second: no
check-then-insert race. The state moves on by compare-and-set (a Lua script), so only one
of them re-arms. A crash between the insert and the state change inserts nothing twice
(the next try meets the duplicate and moves the state on). If Redis loses the state, a value
still above the level raises a new alert for the same crossing (a new episode).

The inserted document reaches clients like any other alert: the watcher's change stream on
`alerts` pushes it, it is acknowledged and escalated as every alert is.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from pymongo.errors import DuplicateKeyError

from dashboard.sources import mongo, redis_store

logger = logging.getLogger(__name__)

KIND = "threshold"
SOURCE = "dashboard"

# Compare-and-set: KEYS[1] moves from ARGV[1] to ARGV[2] only if it still holds ARGV[1].
_CAS = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2])
  return 1
end
return 0
"""


@dataclass(frozen=True)
class Check:
    """One threshold: where its value is in the critical tier, its level setting and its band."""

    name: str
    severity: str
    band: float
    value: Callable[[dict[str, Any]], float]
    level: Callable[[], float]
    describe: Callable[[str, float, float], str]

    def rearm_level(self) -> float:
        return max(0.0, self.level() - self.band)


CHECKS: tuple[Check, ...] = (
    Check(
        "occupancy",
        "critical",
        0.05,
        lambda tier: float(tier["rooms"]["occupancy_rate"]),
        lambda: float(settings.THRESHOLD_OCCUPANCY),
        lambda dept, value, level: f"Occupancy in {dept} is {value:.0%}, above {level:.0%}",
    ),
    Check(
        "boarding_count",
        "warning",
        2,
        lambda tier: float(tier["flow"]["boarding"]),
        lambda: float(settings.THRESHOLD_BOARDING_COUNT),
        lambda dept, value, level: f"{value:.0f} patients boarding in {dept}, above {level:.0f}",
    ),
    Check(
        "boarding_hours",
        "warning",
        0.5,
        lambda tier: float(tier["flow"]["boarding_longest_min"]) / 60,
        lambda: float(settings.THRESHOLD_BOARDING_HOURS),
        lambda dept, value, level: f"A patient in {dept} has been boarding {value:.1f} h, above {level:g} h",
    ),
)


def alert_id(department: str, check: str, episode: str) -> str:
    return f"threshold:{department}:{check}:{episode}"


def _episode_start(now: datetime) -> str:
    return str(int(now.timestamp() * 1000))


def evaluate(department: str, critical: dict[str, Any], *, now: datetime) -> list[str]:
    """Raise the department's threshold alerts its critical tier calls for; returns the `_id`s
    this call inserted. Raises what pymongo and redis-py raise (nothing is half done: a retry
    finishes the step)."""
    client = redis_store.client()
    cas = client.register_script(_CAS)
    raised = []
    for check in CHECKS:
        value = check.value(critical)
        key = redis_store.threshold_episode_key(department, check.name)
        level = check.level()
        if value > level:
            client.set(key, f"armed:{_episode_start(now)}", nx=True)
            state = str(client.get(key))
            phase, _, episode = state.partition(":")
            if phase != "armed":
                continue
            if _insert(department, check, episode, value, level, now):
                raised.append(alert_id(department, check.name, episode))
            cas(keys=[key], args=[state, f"raised:{episode}"])
        elif value <= check.rearm_level():
            current = client.get(key)
            if current is not None and str(current).startswith("raised:"):
                episode = str(current).partition(":")[2]
                following = max(int(_episode_start(now)), int(episode) + 1)
                cas(keys=[key], args=[str(current), f"armed:{following}"])
    return raised


def _insert(department: str, check: Check, episode: str, value: float, level: float, now: datetime) -> bool:
    """Insert the crossing's alert; False when another raiser inserted it first."""
    doc = {
        "_id": alert_id(department, check.name, episode),
        "department": department,
        "severity": check.severity,
        "kind": KIND,
        "source": SOURCE,
        "check": check.name,
        "value": value,
        "level": level,
        "message": check.describe(department, value, level),
        "created_at": now,
        "acknowledged_at": None,
        "acknowledged_by": None,
    }
    try:
        mongo.primary_db()[mongo.ALERTS].insert_one(doc)
    except DuplicateKeyError:
        return False
    logger.warning("raised threshold alert %s: %s", doc["_id"], doc["message"])
    return True

"""Is Redis up, is MongoDB up: checked by each web process, told to its clients on change.

The connection ticker calls `check()` every SOURCE_CHECK_EVERY_S off the event loop and
sends a `status` message to every local connection when the answer changes (contract §4).
"""

from __future__ import annotations

from collections.abc import Mapping

from django.conf import settings

from dashboard.protocol.messages import SourceState
from dashboard.sources import redis_target
from dashboard.sources.preflight import SourceUnavailable, check_mongo, check_redis

CHECK_TIMEOUT_S = 1.0
SOURCE_CHECK_EVERY_S = 5.0

_current: dict[str, SourceState] = {"redis": "ok", "mongo": "ok"}


def check() -> dict[str, SourceState]:
    """Ask both sources now (blocking, at most about CHECK_TIMEOUT_S each)."""
    states: dict[str, SourceState] = {}
    for name, probe in (
        ("redis", lambda: check_redis(redis_target.configured(), CHECK_TIMEOUT_S)),
        ("mongo", lambda: check_mongo(settings.MONGO_URL, CHECK_TIMEOUT_S)),
    ):
        try:
            probe()
            states[name] = "ok"
        except SourceUnavailable:
            states[name] = "down"
    return states


def current() -> dict[str, SourceState]:
    """The last answer this process got."""
    return dict(_current)


def record(states: dict[str, SourceState]) -> bool:
    """Keep a new answer; True when it differs from the last one."""
    changed = states != _current
    _current.clear()
    _current.update(states)
    return changed


def all_ok(states: Mapping[str, str]) -> bool:
    return all(state == "ok" for state in states.values())

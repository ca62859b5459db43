"""Is Redis up, is MongoDB up: checked by each web process, told to its clients on change.

The connection ticker calls `check()` every SOURCE_CHECK_EVERY_S off the event loop and
sends a `status` message to every local connection when the answer changes (contract §4).
`/readyz` calls `check_details()`. Both probes run at once and are waited for at most
CHECK_BUDGET_S in all, so a hung source (a stopped process accepts connections and never
answers) makes an answer `down`, never a late one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings

from dashboard.protocol.messages import SourceState
from dashboard.sources import bounded, redis_target
from dashboard.sources.preflight import SourceUnavailable, check_mongo, check_redis
from dashboard.telemetry import instruments

# Total seconds both probes may take, well inside /readyz's promise of an answer within 1 s.
CHECK_BUDGET_S = 0.7
SOURCE_CHECK_EVERY_S = 5.0

SOURCES = ("redis", "mongo")

_current: dict[str, SourceState] = dict.fromkeys(SOURCES, "ok")
# Per source: the last error this process saw and when (ISO 8601), kept after it recovers.
_last_errors: dict[str, tuple[str, str]] = {}


@dataclass(frozen=True)
class SourceCheck:
    state: SourceState
    latency_ms: float
    last_error: str | None
    last_error_at: str | None

    def as_dict(self) -> dict[str, object]:
        return {
            "state": self.state,
            "latency_ms": self.latency_ms,
            "last_error": self.last_error,
            "last_error_at": self.last_error_at,
        }


class ProbeFailed(Exception):
    """A probe's failure told without the source's address: `unreachable (<driver error>)`."""


def _probe(check: Callable[[float], None]) -> Callable[[], object]:
    def probe() -> None:
        try:
            check(CHECK_BUDGET_S)
        except SourceUnavailable as exc:
            raise ProbeFailed(f"unreachable ({exc.reason})") from None

    return probe


def probes() -> dict[str, Callable[[], object]]:
    """The probe of each source, to run with `bounded.run_all` (each raises when down)."""
    return {
        "redis": _probe(lambda timeout_s: check_redis(redis_target.configured(), timeout_s)),
        "mongo": _probe(lambda timeout_s: check_mongo(settings.MONGO_URL, timeout_s)),
    }


def check_details(budget_s: float = CHECK_BUDGET_S) -> dict[str, SourceCheck]:
    """Ask both sources now, at once; within about `budget_s` seconds whatever they do."""
    return details(bounded.run_all(probes(), budget_s))


def details(outcomes: Mapping[str, bounded.Outcome]) -> dict[str, SourceCheck]:
    """Each probed source's check from its outcome (other outcomes are ignored); keeps the
    last error of each."""
    found: dict[str, SourceCheck] = {}
    for name, outcome in outcomes.items():
        if name not in SOURCES:
            continue
        if outcome.error is not None:
            instruments.SOURCE_ERRORS.labels(name, "health_check").inc()
            _last_errors[name] = (outcome.error, datetime.now(UTC).isoformat(timespec="milliseconds"))
        error, at = _last_errors.get(name, (None, None))
        found[name] = SourceCheck(
            state="ok" if outcome.error is None else "down",
            latency_ms=round(outcome.seconds * 1000, 1),
            last_error=error,
            last_error_at=at,
        )
    return found


def check() -> dict[str, SourceState]:
    """Both sources' states now (blocking, about CHECK_BUDGET_S at most)."""
    return {name: found.state for name, found in check_details().items()}


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

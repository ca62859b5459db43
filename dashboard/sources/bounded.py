"""Run a few blocking calls at once and wait for them no longer than a total budget.

Each call runs in a daemon thread of its own; one still running at the deadline is reported
as timed out and left to finish by its own timeout (the source clients' socket timeouts), so
a hung dependency costs the caller the budget, never more.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Outcome:
    """A call's value, or the text of the error it raised or `timed out after N ms`; seconds it took (or
    the budget, when it had not finished)."""

    value: object
    error: str | None
    seconds: float


def run_all(calls: Mapping[str, Callable[[], object]], budget_s: float) -> dict[str, Outcome]:
    """Start every call now; return each one's outcome within `budget_s` seconds."""
    started = time.monotonic()
    deadline = started + budget_s
    done: dict[str, Outcome] = {}

    def run(name: str, call: Callable[[], object]) -> None:
        try:
            value, error = call(), None
        except Exception as exc:
            value, error = None, str(exc) or exc.__class__.__name__
        done[name] = Outcome(value, error, time.monotonic() - started)

    threads = [
        threading.Thread(target=run, args=(name, call), name=f"bounded-{name}", daemon=True)
        for name, call in calls.items()
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    timed_out = Outcome(None, f"timed out after {budget_s * 1000:.0f} ms", budget_s)
    return {name: done.get(name, timed_out) for name in calls}

"""When the watcher publishes a scope's critical tier: leading and trailing edge per scope.

A scope whose critical tier was not published within the coalescing window (a quiet scope) is
published as soon as its change is handled (leading edge). A change to a scope published less
than a window ago waits until that window ends (trailing edge), with every change the scope
gets meanwhile, so a scope is published at most once per window and a burst of changes comes
out as a few publications, the last with the final state. The hospital scope is paced like a
department.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from dashboard.protocol.scopes import Scope


@dataclass
class Pacing:
    """The last publication time of each scope, in seconds of the watcher's monotonic clock."""

    window_s: float
    published_at: dict[Scope, float] = field(default_factory=dict)

    def is_quiet(self, scope: Scope, now: float) -> bool:
        """True when `scope` was not published within the last `window_s` before `now`."""
        return now - self.published_at.get(scope, -math.inf) >= self.window_s

    def window_ends(self, scope: Scope) -> float:
        """When `scope` may be published again: its last publication plus `window_s`."""
        return self.published_at.get(scope, -math.inf) + self.window_s

    def published(self, scopes: Iterable[Scope], at: float) -> None:
        """Record that `scopes` were published at `at`."""
        for scope in scopes:
            self.published_at[scope] = at

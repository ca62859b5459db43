"""Flood control for client messages (contract §4: 20 messages/s sustained, bursts of 40)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

RATE_PER_S = 20.0
BURST = 40.0
# A client still sending this many messages after its `rate_limited` warning is closed (4429).
TOLERATED_AFTER_WARNING = 40


class Verdict(Enum):
    ACCEPT = "accept"
    WARN = "warn"  # drop the message and answer `rate_limited`
    DROP = "drop"  # drop silently: the warning was already sent
    CLOSE = "close"  # close the connection with 4429


@dataclass
class TokenBucket:
    rate_per_s: float = RATE_PER_S
    burst: float = BURST
    clock: Callable[[], float] = time.monotonic
    tokens: float = field(init=False)
    updated_at: float = field(init=False)
    over_limit: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self.tokens = self.burst
        self.updated_at = self.clock()

    def take(self) -> Verdict:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.updated_at) * self.rate_per_s)
        self.updated_at = now
        if self.tokens >= 1:
            self.tokens -= 1
            if self.tokens >= self.burst / 2:
                self.over_limit = 0
            return Verdict.ACCEPT
        self.over_limit += 1
        if self.over_limit == 1:
            return Verdict.WARN
        if self.over_limit > TOLERATED_AFTER_WARNING:
            return Verdict.CLOSE
        return Verdict.DROP

"""Failed logins and lockouts, counted across every web process for `GET /metrics`.

One Redis hash (`redis_store.LOGIN_OUTCOMES_KEY`) holds a counter per outcome, so a scrape of
any web process sees the sum. Counting is best effort: without Redis the login is still
answered (and throttled, and written to the access log), only the count is lost.
"""

from __future__ import annotations

import logging
from typing import Literal

from redis.exceptions import RedisError

from dashboard.sources import redis_store
from dashboard.telemetry import instruments

logger = logging.getLogger(__name__)

Outcome = Literal["failed", "locked_out"]
OUTCOMES: tuple[Outcome, ...] = ("failed", "locked_out")


def count(outcome: Outcome) -> None:
    """Add one to `outcome`'s counter; logs and goes on when Redis is down."""
    try:
        redis_store.client().hincrby(redis_store.LOGIN_OUTCOMES_KEY, outcome, 1)
    except RedisError as exc:
        instruments.SOURCE_ERRORS.labels("redis", "login_count").inc()
        logger.warning("could not count a %s login (%s)", outcome, exc.__class__.__name__)


def counts() -> dict[Outcome, int]:
    """Every outcome's count so far (0 when none yet); raises RedisError."""
    raw: dict[str, str] = redis_store.client().hgetall(redis_store.LOGIN_OUTCOMES_KEY)  # type: ignore[assignment]
    return {outcome: int(raw.get(outcome, 0)) for outcome in OUTCOMES}

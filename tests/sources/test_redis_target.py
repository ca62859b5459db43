"""Where Redis is: messages without passwords, and sentinels that do not answer named as such."""

from __future__ import annotations

import pytest

from dashboard.sources.preflight import SourceUnavailable, check_redis
from dashboard.sources.redis_target import RedisTarget

DEAD_SENTINELS = RedisTarget(
    sentinels=(("127.0.0.1", 1), ("127.0.0.1", 2)), master="dash", password="hunter2"
)


def test_descriptions_carry_no_password() -> None:
    assert "hunter2" not in RedisTarget(url="redis://:hunter2@r.internal:6379/0").describe()
    assert DEAD_SENTINELS.describe() == "the master 'dash' of the sentinels 127.0.0.1:1,127.0.0.1:2"


def test_unreachable_sentinels_are_reported_with_the_settings_to_change() -> None:
    with pytest.raises(SourceUnavailable) as info:
        check_redis(DEAD_SENTINELS, 0.5)
    message = str(info.value)
    assert "the master 'dash' of the sentinels 127.0.0.1:1,127.0.0.1:2" in message
    assert "set REDIS_SENTINELS and REDIS_SENTINEL_MASTER" in message
    assert "hunter2" not in message

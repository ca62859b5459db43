"""A tier run's lock is given back without raising: a failed release must not cost the others theirs."""

from __future__ import annotations

import logging

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import LockNotOwnedError

from dashboard.metrics import runner
from dashboard.protocol.scopes import Scope


class FailingLock:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def release(self) -> None:
        raise self.error


@pytest.mark.parametrize(
    ("error", "logged"),
    [
        (LockNotOwnedError("expired"), "ran longer than its 5 s interval"),
        (RedisConnectionError("down"), "run lock not released (ConnectionError); it expires within 5 s"),
    ],
)
def test_a_release_that_fails_is_logged_not_raised(
    error: Exception, logged: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="dashboard.metrics.runner"):
        runner._release(FailingLock(error), Scope("ER"), "critical")  # type: ignore[arg-type]
    assert logged in caplog.text

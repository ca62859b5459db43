"""The watcher outlives a MongoDB primary stepping down while it opens its streams.

The step-down is injected (tests/support/step_down.py) into the aggregations the watcher
runs first, its rebuild's and its change streams' openings: each fails twice in a row, once
more than pymongo's own retry covers, so the watcher itself sees NotPrimaryError. It is
transient (dashboard/watcher/failures.py): the watcher retries, goes live and pushes alerts.
"""

from __future__ import annotations

import logging
import threading

import pytest
from pymongo.database import Database
from pymongo.errors import AutoReconnect, NotPrimaryError

from dashboard.metrics import maintained
from dashboard.watcher.failures import is_transient
from tests.support.step_down import NOT_PRIMARY, stepping_down
from tests.watcher.test_deterministic_failures import alert_arrives, dead_letters, run_watcher
from tests.watcher.test_loop import insert_alert, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_step_down_is_transient() -> None:
    assert is_transient(NotPrimaryError("not primary", dict(NOT_PRIMARY)))
    assert is_transient(AutoReconnect("primary stepped down"))


def test_the_watcher_goes_live_and_pushes_alerts_after_a_step_down(
    hospital: Database, monkeypatch, caplog
) -> None:
    monkeypatch.setattr("dashboard.watcher.loop.FLUSH_RETRY_S", 0.05)
    stop = threading.Event()
    with caplog.at_level(logging.WARNING, "dashboard.watcher"), stepping_down({"aggregate": 6}) as failed:
        thread = run_watcher(hospital, stop)
        try:
            wait_until(maintained.is_live, 30)
            alert_arrives(insert_alert(hospital, severity="critical", age_s=0))
        finally:
            stop.set()
            thread.join(timeout=10)
    assert failed == {"aggregate": 6}
    assert not thread.is_alive()
    assert "failed (NotPrimaryError" in caplog.text, "pymongo's retries hid every step-down"
    assert dead_letters() == []

"""The watcher's loop in-process, on the test Redis and MongoDB wire server.

nx-27017 accepts any resume token and always has change streams, so the two server answers it
cannot give are injected at the one place pymongo would raise them: `Collection.watch`.
Everything else (streams, Redis, publishing) is real.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from pymongo.database import Database
from pymongo.errors import OperationFailure

from dashboard.protocol.client_messages import Since
from dashboard.protocol.scopes import HOSPITAL_SCOPE, Scope
from dashboard.protocol.tiers import TIERS
from dashboard.sources import mongo
from dashboard.stream import publish, tier_cache
from dashboard.watcher import actions, loop, stats, streams
from dashboard.watcher.loop import Watcher, run_watcher

pytestmark = pytest.mark.django_db(transaction=True)

LOST_TOKEN = {"_data": "nx:999999999"}


class _Collection:
    def __init__(self, collection: Any, refuse: Callable[[dict[str, Any]], OperationFailure | None]) -> None:
        self._collection = collection
        self._refuse = refuse

    def watch(self, pipeline: list[dict[str, Any]], **options: Any) -> Any:
        error = self._refuse(options)
        if error is not None:
            raise error
        return self._collection.watch(pipeline, **options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._collection, name)


class ServerAnswers:
    """A database whose `watch` answers as a server would that lost history or has no streams."""

    def __init__(self, db: Database, refuse: Callable[[dict[str, Any]], OperationFailure | None]) -> None:
        self._db = db
        self._refuse = refuse
        self.refusals: list[dict[str, Any]] = []

    def __getitem__(self, name: str) -> _Collection:
        def refuse(options: dict[str, Any]) -> OperationFailure | None:
            error = self._refuse(options)
            if error is not None:
                self.refusals.append({"collection": name, **options})
            return error

        return _Collection(self._db[name], refuse)

    def with_options(self, **options: Any) -> ServerAnswers:
        answers = ServerAnswers(self._db.with_options(**options), self._refuse)
        answers.refusals = self.refusals
        return answers


def history_lost_for_the_lost_token(options: dict[str, Any]) -> OperationFailure | None:
    if options.get("resume_after") == LOST_TOKEN:
        return OperationFailure(
            "Resume of change stream was not possible, as the resume point may no longer be in the oplog.",
            code=286,
        )
    return None


def no_change_streams(_options: dict[str, Any]) -> OperationFailure:
    return OperationFailure("The $changeStream stage is only supported on replica sets", code=40573)


def wait_until(condition: Callable[[], object], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def start_watcher(db: Any, stop: threading.Event) -> threading.Thread:
    watcher = Watcher(cast(Database, db), coalesce_s=0.05, stop=stop)
    thread = threading.Thread(target=watcher.run, daemon=True)
    thread.start()
    return thread


def published(scope: Scope, kind: str) -> list[dict[str, Any]]:
    texts = publish.replay(scope, with_revenue=True, since=Since(publish.position(scope).epoch, 0)) or []
    return [message for message in map(json.loads, texts) if message["type"] == kind]


def insert_alert(db: Database, *, severity: str, age_s: float, acknowledged: bool = False) -> str:
    result = db[mongo.ALERTS].insert_one(
        {
            "department": "ER",
            "severity": severity,
            "kind": "code_blue",
            "message": f"{severity} alert",
            "created_at": datetime.now(UTC) - timedelta(seconds=age_s),
            "acknowledged_at": datetime.now(UTC) if acknowledged else None,
            "acknowledged_by": "nurse" if acknowledged else None,
        }
    )
    return str(result.inserted_id)


def test_lost_history_starts_a_new_epoch_recomputes_everything_and_goes_on(hospital: Database) -> None:
    publish.publish_tier(Scope("ER"), "critical", {"computed_at": "2026-11-28T10:00:00.000Z"})
    old_epoch = publish.position(HOSPITAL_SCOPE).epoch
    actions.save_tokens({mongo.ALERTS: LOST_TOKEN})
    db = ServerAnswers(hospital, history_lost_for_the_lost_token)
    stop = threading.Event()
    thread = start_watcher(db, stop)
    try:
        wait_until(lambda: stats.read().get("history_lost") == 1)
        assert publish.position(HOSPITAL_SCOPE).epoch != old_epoch
        assert publish.position(Scope("ER")).epoch != old_epoch
        stored = tier_cache.load_tiers(HOSPITAL_SCOPE, TIERS)
        assert all(stored[tier] is not None for tier in TIERS), stored
        # The lost token is tried once, never again, and later events are followed.
        alert_id = insert_alert(hospital, severity="warning", age_s=0)
        wait_until(lambda: any(m["alert"]["id"] == alert_id for m in published(HOSPITAL_SCOPE, "alert")))
        wait_until(lambda: actions.load_token(mongo.ALERTS) not in (None, LOST_TOKEN))
        assert len(db.refusals) == 1
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()


def test_without_change_streams_and_fallback_fail_the_watcher_exits_2(
    hospital: Database, settings, caplog
) -> None:
    settings.WATCH_FALLBACK = "fail"
    code = run_watcher(cast(Database, ServerAnswers(hospital, no_change_streams)), threading.Event())
    assert code == 2
    assert "cannot do change streams" in caplog.text
    assert "WATCH_FALLBACK=fail" in caplog.text


def test_without_change_streams_and_fallback_poll_the_watcher_polls(
    hospital: Database, settings, caplog, monkeypatch
) -> None:
    settings.WATCH_FALLBACK = "poll"
    monkeypatch.setattr(loop, "POLL_INTERVAL_S", 0.2)
    stop = threading.Event()
    codes: list[int] = []
    thread = threading.Thread(
        target=lambda: codes.append(
            run_watcher(cast(Database, ServerAnswers(hospital, no_change_streams)), stop)
        )
    )
    thread.start()
    try:
        wait_until(lambda: len(published(HOSPITAL_SCOPE, "update")) >= 2)
        hospital.patients.insert_one(
            {"department": "ER", "status": "admitted", "is_emergency": True, "admitted_at": datetime.now(UTC)}
        )
        wait_until(
            lambda: (
                (tier_cache.load_tiers(Scope("ER"), ("critical",))["critical"] or {})
                .get("patients", {})
                .get("emergency")
                == 2
            )
        )
    finally:
        stop.set()
        thread.join(timeout=10)
    assert codes == [0]
    assert "falling back to polling" in caplog.text


def test_unacknowledged_alerts_escalate_once_even_across_restarts(hospital: Database, settings) -> None:
    settings.ALERT_ESCALATE_AFTER_S = 2
    # Written while no watcher ran: the escalation is due when the watcher comes back.
    overdue = insert_alert(hospital, severity="critical", age_s=30)
    insert_alert(hospital, severity="critical", age_s=30, acknowledged=True)
    warning = insert_alert(hospital, severity="warning", age_s=30)
    fresh = insert_alert(hospital, severity="critical", age_s=0)

    def escalated() -> list[str]:
        return [m["alert"]["id"] for m in published(HOSPITAL_SCOPE, "alert") if m["alert"].get("escalated")]

    stop = threading.Event()
    thread = start_watcher(hospital, stop)
    try:
        wait_until(lambda: overdue in escalated())
        wait_until(lambda: warning in escalated())
        wait_until(lambda: fresh in escalated())
    finally:
        stop.set()
        thread.join(timeout=10)
    # Due while the watcher was down; the restarted watcher sends it and nothing twice.
    overdue_in_downtime = insert_alert(hospital, severity="critical", age_s=30)
    stop = threading.Event()
    thread = start_watcher(hospital, stop)
    try:
        wait_until(lambda: overdue_in_downtime in escalated())
        time.sleep(1.5)  # at least one more escalation round of the restarted watcher
    finally:
        stop.set()
        thread.join(timeout=10)
    assert sorted(escalated()) == sorted([overdue, warning, fresh, overdue_in_downtime])
    assert all(m["alert"].get("escalated") is not True for m in published(Scope("ER"), "alert")), (
        "escalations go to the hospital scope only"
    )


class FiveMinutesAhead(datetime):
    """The watcher host's wall clock, 5 minutes ahead of MongoDB's."""

    @classmethod
    def now(cls, tz: Any = None) -> FiveMinutesAhead:
        return cls.fromtimestamp(time.time() + 300, tz)


def test_a_watcher_whose_clock_runs_ahead_escalates_nothing_early(
    hospital: Database, settings, monkeypatch
) -> None:
    settings.ALERT_ESCALATE_AFTER_S = 60
    monkeypatch.setattr(loop, "datetime", FiveMinutesAhead)
    overdue = insert_alert(hospital, severity="critical", age_s=90)
    fresh = insert_alert(hospital, severity="critical", age_s=0)

    def escalated() -> list[str]:
        return [m["alert"]["id"] for m in published(HOSPITAL_SCOPE, "alert") if m["alert"].get("escalated")]

    stop = threading.Event()
    thread = start_watcher(hospital, stop)
    try:
        wait_until(lambda: overdue in escalated())
        time.sleep(2.5)  # two more escalation rounds, at least
    finally:
        stop.set()
        thread.join(timeout=10)
    assert fresh not in escalated(), "escalated 60 s early: timed on the watcher's clock, not MongoDB's"


def test_backoff_is_capped_exponential_with_full_jitter() -> None:
    rng = random.Random(1)
    for attempt in range(12):
        ceiling = min(streams.BACKOFF_MAX_S, streams.BACKOFF_FIRST_S * 2**attempt)
        delays = [streams.backoff_delay(attempt, rng) for _ in range(200)]
        assert all(0 <= delay <= ceiling for delay in delays)
        assert max(delays) > ceiling / 2, "no jitter up to the ceiling"
    assert streams.BACKOFF_MAX_S == 30.0


def test_a_failing_stream_is_retried_counted_and_marked_down_until_it_opens(
    hospital: Database, monkeypatch
) -> None:
    monkeypatch.setattr(streams, "BACKOFF_FIRST_S", 0.05)
    failures = {"left": 3}

    def flaky(options: dict[str, Any]) -> OperationFailure | None:
        if failures["left"] > 0:
            failures["left"] -= 1
            return OperationFailure("connection reset by the test", code=91)  # ShutdownInProgress
        return None

    stop = threading.Event()
    thread = start_watcher(ServerAnswers(hospital, flaky), stop)
    try:
        wait_until(lambda: stats.read().get("stream_errors", 0) >= 3)
        alert_id = insert_alert(hospital, severity="info", age_s=0)
        wait_until(lambda: any(m["alert"]["id"] == alert_id for m in published(HOSPITAL_SCOPE, "alert")))
        assert stats.read()["stream_down"] == 0
    finally:
        stop.set()
        thread.join(timeout=10)

"""Deterministic failures are set aside after a few tries; transient ones are retried.

The watcher loop runs in-process on the test Redis and MongoDB wire server. What nx-27017
cannot produce (resume errors other than an accepted token, `invalidate` and `drop` events,
a stream thread dying) is injected where pymongo would raise or return it: `Collection.watch`
and the stream it returns.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, cast
from zoneinfo import ZoneInfo

import pytest
from bson import ObjectId
from bson.errors import InvalidBSON
from pymongo.database import Database
from pymongo.errors import AutoReconnect, OperationFailure

from dashboard.metrics import maintained
from dashboard.metrics.contributions import contribution
from dashboard.protocol.scopes import HOSPITAL_SCOPE, Scope
from dashboard.sources import mongo, redis_store
from dashboard.sources.documents import Checked, check
from dashboard.stream import publish, tier_cache
from dashboard.watcher import actions, stats, streams
from dashboard.watcher.actions import DEAD_LETTER_STREAM
from dashboard.watcher.drift import find_drift
from dashboard.watcher.loop import Watcher
from tests.watcher.test_loop import ServerAnswers, insert_alert, published, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


CHICAGO = ZoneInfo("America/Chicago")
YEAR_ONE = datetime(1, 1, 1, tzinfo=UTC)
# Past any token the test's few changes produce, so "a token saved since" cannot mean this one.
SAVED_TOKEN = {"_data": "nx:999999998"}


def run_watcher(db: Any, stop: threading.Event, tz: ZoneInfo = CHICAGO) -> threading.Thread:
    watcher = Watcher(cast(Database, db), coalesce_s=0.05, stop=stop, tz=tz)
    thread = threading.Thread(target=watcher.run, daemon=True)
    thread.start()
    return thread


@pytest.fixture
def watching(hospital: Database) -> Iterator[Callable[..., threading.Thread]]:
    stop = threading.Event()
    threads: list[threading.Thread] = []

    def start(db: Any = hospital, tz: ZoneInfo = CHICAGO) -> threading.Thread:
        threads.append(run_watcher(db, stop, tz))
        wait_until(maintained.is_live)
        return threads[-1]

    yield start
    stop.set()
    for thread in threads:
        thread.join(timeout=10)
        assert not thread.is_alive()


def alert_arrives(alert_id: str) -> None:
    wait_until(lambda: any(m["alert"]["id"] == alert_id for m in published(HOSPITAL_SCOPE, "alert")), 5)


def dead_letters() -> list[dict[str, str]]:
    return [fields for _, fields in redis_store.client().xrange(DEAD_LETTER_STREAM)]


def bad_date_patient(**extra: Any) -> dict[str, Any]:
    return {
        "department": "ER",
        "status": "admitted",
        "is_emergency": True,
        "admitted_at": datetime.now(UTC),
        "discharged_at": YEAR_ONE,
        **extra,
    }


# --- the bad date itself ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "zone"),
    [(YEAR_ONE, "America/Chicago"), (datetime(9999, 12, 31, 12, tzinfo=UTC), "Pacific/Kiritimati")],
)
def test_a_date_no_time_zone_can_hold_counts_as_no_date(moment: datetime, zone: str) -> None:
    patient = bad_date_patient(status="discharged", discharged_at=moment, admitted_at=moment)
    assert contribution("patients", check("patients", patient), ZoneInfo(zone)) is not None
    staff = {"department": "ER", "on_duty": True, "last_active_at": moment}
    assert contribution("staff", check("staff", staff), ZoneInfo(zone)) == maintained.Contribution(
        "ER", {"on_duty": 1}
    )


def test_a_year_one_discharge_date_in_chicago_stops_neither_the_rebuild_nor_the_stream(
    hospital: Database, watching: Callable[..., threading.Thread]
) -> None:
    hospital.patients.insert_one(bad_date_patient())  # read by the rebuild on activation
    watching()
    hospital.patients.insert_one(bad_date_patient())  # read from the stream
    alert_arrives(insert_alert(hospital, severity="critical", age_s=0))
    assert dead_letters() == []
    assert find_drift(hospital, CHICAGO) == {}
    assert (
        maintained.counts_by_department(datetime.now(UTC), CHICAGO, ["ER"])["ER"]["patients"]["admitted"] == 3
    )


def test_the_drift_check_and_its_repair_take_the_bad_date_in_their_stride(hospital: Database) -> None:
    hospital.patients.insert_one(bad_date_patient())
    assert actions.rebuild_counters(hospital, CHICAGO)[0] == 2
    redis_store.client().hincrby(redis_store.maintained_counts_key("ER"), "admitted", 5)
    assert find_drift(hospital, CHICAGO) == {"ER": {"patients.admitted": (7, 2)}}
    actions.rebuild_counters(hospital, CHICAGO)
    assert find_drift(hospital, CHICAGO) == {}


# --- items that fail deterministically, and transiently --------------------------------------


def failing_for(document_id: Any, exc: Callable[[], Exception], times: int | None = None) -> Callable:
    calls = {"left": times}
    real = actions.maintain

    def maintain(change: Any, tz: ZoneInfo, at: Any = None) -> set[str]:
        if change.document_id == document_id and calls["left"] != 0:
            if calls["left"] is not None:
                calls["left"] -= 1
            raise exc()
        return real(change, tz, at)

    return maintain


def test_an_event_that_fails_deterministically_is_dead_lettered_after_three_tries_and_the_next_alert_arrives(
    hospital: Database, watching: Callable[..., threading.Thread], monkeypatch, caplog
) -> None:
    doomed = ObjectId()
    monkeypatch.setattr(actions, "maintain", failing_for(doomed, lambda: OverflowError("date value")))
    watching()
    with caplog.at_level(logging.WARNING, logger="dashboard.watcher"):
        hospital.patients.insert_one(bad_date_patient(_id=doomed))
        alert_arrives(insert_alert(hospital, severity="critical", age_s=0))
        wait_until(dead_letters, 5)
    [letter] = dead_letters()
    assert letter["collection"] == "patients"
    assert letter["reason"].startswith("OverflowError at test_deterministic_failures.py:")
    assert stats.read()["events_dead_lettered"] == 1
    [line] = [r.getMessage() for r in caplog.records if "dead-lettered" in r.getMessage()]
    assert f"patients document {doomed}" in line
    assert "ER" not in line.replace("OverflowError", ""), "the line names no field of the document"
    # The token after the dead-lettered event is saved: a restart does not meet it again.
    wait_until(lambda: actions.load_token(mongo.PATIENTS) is not None)


def test_a_transient_failure_is_retried_until_it_succeeds_and_nothing_is_dead_lettered(
    hospital: Database, watching: Callable[..., threading.Thread], monkeypatch
) -> None:
    monkeypatch.setattr("dashboard.watcher.loop.FLUSH_RETRY_S", 0.05)
    flaky = ObjectId()
    monkeypatch.setattr(
        actions, "maintain", failing_for(flaky, lambda: AutoReconnect("primary stepped down"), 5)
    )
    watching()
    hospital.patients.insert_one(bad_date_patient(_id=flaky, discharged_at=None))
    wait_until(
        lambda: redis_store.client().hexists(redis_store.maintained_memory_key("patients"), str(flaky))
    )
    assert dead_letters() == []


def test_a_batch_that_cannot_be_published_is_dropped_after_three_tries_and_the_stream_goes_on(
    hospital: Database, watching: Callable[..., threading.Thread], monkeypatch
) -> None:
    real = actions.publish_critical_scopes
    calls = {"n": 0}

    def publish_critical_scopes(scopes: set[Scope]) -> None:
        calls["n"] += 1
        if calls["n"] <= 3:
            raise KeyError("a bug")
        real(scopes)

    monkeypatch.setattr(actions, "publish_critical_scopes", publish_critical_scopes)
    watching()
    hospital.patients.insert_one(bad_date_patient(discharged_at=None))
    wait_until(lambda: stats.read().get("publications_dropped") == 1)
    wait_until(lambda: actions.load_token(mongo.PATIENTS) is not None)
    alert_arrives(insert_alert(hospital, severity="critical", age_s=0))


def test_a_document_the_rebuild_cannot_use_is_skipped_counted_and_logged_by_id(
    hospital: Database, monkeypatch, caplog
) -> None:
    doomed = hospital.patients.insert_one(bad_date_patient()).inserted_id

    def contribution_or_bug(collection: str, doc: Checked, tz: ZoneInfo) -> Any:
        if doc.doc_id == doomed:
            raise ValueError("a bug")
        return contribution(collection, doc, tz)

    monkeypatch.setattr(maintained, "contribution", contribution_or_bug)
    with caplog.at_level(logging.WARNING):
        remembered, departments = actions.rebuild_counters(hospital, CHICAGO)
    assert (remembered, departments) == (1, {"ER"})
    assert stats.read()["documents_skipped"] == 1
    # The bad dates are counted as invalid values too (dashboard.sources.skipped); the bug here:
    [line] = [r.getMessage() for r in caplog.records if r.name == "dashboard.watcher.actions"]
    assert line.startswith(f"rebuild skipped patients document {doomed}: ValueError at ")


def test_rebuilding_one_collection_keeps_the_others_counters(hospital: Database) -> None:
    hospital.rooms.insert_one({"department": "ER", "status": "available", "beds": 2, "occupied_beds": 0})
    actions.rebuild_counters(hospital, CHICAGO)
    hospital.rooms.drop()
    actions.rebuild_counters(hospital, CHICAGO, ["rooms"])
    counts = maintained.counts_by_department(datetime.now(UTC), CHICAGO, ["ER"])["ER"]
    assert (counts["patients"]["admitted"], counts["rooms"]["available"], counts["rooms"]["beds_total"]) == (
        1,
        0,
        0,
    )


# --- resume failures ---------------------------------------------------------------------------


def refuse_saved_token(make_error: Callable[[], Exception]) -> Callable[[dict[str, Any]], Exception | None]:
    def refuse(options: dict[str, Any]) -> Exception | None:
        return make_error() if options.get("resume_after") == SAVED_TOKEN else None

    return refuse


@pytest.mark.parametrize(
    ("make_error", "tries"),
    [
        (lambda: OperationFailure("ChangeStreamFatalError", code=280), 1),
        (lambda: OperationFailure("cannot resume: invalid token", code=260), 1),
        (lambda: OperationFailure("resume token was not found", code=40576), 1),
        (lambda: InvalidBSON("year 20000 is out of range"), 3),
        (lambda: OperationFailure("an unexpected server answer", code=2), 3),
    ],
    ids=["280", "260", "40576", "InvalidBSON", "other-OperationFailure"],
)
def test_a_resume_point_that_cannot_work_is_dropped_for_a_resync_with_a_new_epoch(
    hospital: Database,
    watching: Callable[..., threading.Thread],
    monkeypatch,
    make_error: Callable[[], Exception],
    tries: int,
) -> None:
    monkeypatch.setattr(streams, "BACKOFF_FIRST_S", 0.01)
    old_epoch = publish.position(HOSPITAL_SCOPE).epoch
    actions.save_tokens({mongo.ALERTS: SAVED_TOKEN})
    db = ServerAnswers(hospital, refuse_saved_token(make_error))
    stop = threading.Event()
    thread = run_watcher(db, stop)
    try:
        wait_until(lambda: stats.read().get("resyncs") == 1)
        assert publish.position(HOSPITAL_SCOPE).epoch != old_epoch
        assert len(db.refusals) == tries
        assert "history_lost" not in stats.read()
        alert_arrives(insert_alert(hospital, severity="critical", age_s=0))
        wait_until(lambda: actions.load_token(mongo.ALERTS) not in (None, SAVED_TOKEN))
    finally:
        stop.set()
        thread.join(timeout=10)


def test_an_unreadable_saved_token_is_dropped_for_a_resync(hospital: Database) -> None:
    redis_store.client().set(redis_store.watcher_token_key(mongo.ALERTS), "{not json")
    stop = threading.Event()
    thread = run_watcher(hospital, stop)
    try:
        wait_until(lambda: stats.read().get("resyncs") == 1)
        alert_arrives(insert_alert(hospital, severity="critical", age_s=0))
        wait_until(lambda: actions.load_token(mongo.ALERTS) is not None)
    finally:
        stop.set()
        thread.join(timeout=10)


# --- a stream thread that dies -----------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_dead_stream_thread_is_noticed_the_counters_lose_their_live_mark_and_it_restarts(
    hospital: Database, monkeypatch
) -> None:
    opens = {"alerts": 0}
    live_dropped = threading.Event()
    real_clear_live = maintained.clear_live
    real_backoff = streams.backoff_delay

    def first_open_of_alerts_fails(options: dict[str, Any]) -> Exception | None:
        opens["alerts"] += 1
        return AutoReconnect("connection reset") if opens["alerts"] == 1 else None

    def backoff_with_a_bug_once(attempt: int, rng: Any) -> float:
        monkeypatch.setattr(streams, "backoff_delay", real_backoff)
        raise RuntimeError("a bug in the error handling itself")

    def clear_live() -> None:
        live_dropped.set()
        real_clear_live()

    class AlertsFailFirst(ServerAnswers):
        def __getitem__(self, name: str) -> Any:
            return super().__getitem__(name) if name == mongo.ALERTS else self._db[name]

    monkeypatch.setattr(streams, "backoff_delay", backoff_with_a_bug_once)
    monkeypatch.setattr(maintained, "clear_live", clear_live)
    stop = threading.Event()
    thread = run_watcher(AlertsFailFirst(hospital, first_open_of_alerts_fails), stop)
    try:
        wait_until(lambda: stats.read().get("stream_restarts") == 1)
        assert live_dropped.is_set()
        wait_until(maintained.is_live)
        alert_arrives(insert_alert(hospital, severity="critical", age_s=0))
        assert opens["alerts"] == 2
    finally:
        stop.set()
        thread.join(timeout=10)


# --- a collection dropped or renamed -----------------------------------------------------------


class ScriptedStream:
    """A change stream that returns `events` once `go` is set, then nothing."""

    def __init__(self, events: list[dict[str, Any]], go: threading.Event) -> None:
        self.events = events
        self.go = go
        self.resume_token: dict[str, Any] | None = None

    def __enter__(self) -> ScriptedStream:
        return self

    def __exit__(self, *_exc: object) -> None:
        return None

    def try_next(self) -> dict[str, Any] | None:
        if self.go.wait(0.05) and self.events:
            event = self.events.pop(0)
            self.resume_token = event["_id"]
            return event
        return None


class RoomsScripted:
    """The test database, whose first `rooms` stream is scripted."""

    def __init__(self, db: Database, script: ScriptedStream) -> None:
        self._db = db
        self._script: ScriptedStream | None = script
        self.reopened_with: list[dict[str, Any]] = []

    def __getitem__(self, name: str) -> Any:
        collection = self._db[name]
        if name != mongo.ROOMS:
            return collection
        outer = self

        class Rooms:
            def watch(self, pipeline: list[dict[str, Any]], **options: Any) -> Any:
                if outer._script is not None:
                    script, outer._script = outer._script, None
                    return script
                outer.reopened_with.append(options)
                return collection.watch(pipeline, **options)

            def __getattr__(self, attribute: str) -> Any:
                return getattr(collection, attribute)

        return Rooms()


@pytest.mark.parametrize("operation", ["drop", "rename", "dropDatabase"])
def test_a_dropped_collection_has_its_counters_rebuilt_within_seconds_and_its_stream_reopens(
    hospital: Database, watching: Callable[..., threading.Thread], operation: str
) -> None:
    hospital.rooms.insert_one({"department": "ER", "status": "available", "beds": 4, "occupied_beds": 0})
    go = threading.Event()
    now = datetime.now(UTC)
    events = [
        {"_id": {"_data": "gone"}, "operationType": operation, "wallTime": now},
        {"_id": {"_data": "invalidated"}, "operationType": "invalidate", "wallTime": now},
    ]
    db = RoomsScripted(hospital, ScriptedStream(events, go))
    watching(db)
    assert maintained.counts_by_department(now, CHICAGO, ["ER"])["ER"]["rooms"]["available"] == 1
    hospital.rooms.drop()
    go.set()

    def published_available() -> int | None:
        critical = tier_cache.load_tiers(Scope("ER"), ("critical",))["critical"]
        return None if critical is None else critical["rooms"]["available"]

    wait_until(lambda: published_available() == 0, 5)
    assert find_drift(hospital, CHICAGO) == {}
    wait_until(lambda: db.reopened_with, 5)
    assert db.reopened_with[0]["start_after"] == {"_data": "invalidated"}
    assert dead_letters() == []
    # The invalidate's token takes startAfter only: it is never saved for resumeAfter.
    assert actions.load_token(mongo.ROOMS) != {"_data": "invalidated"}

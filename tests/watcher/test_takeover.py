"""A watcher that becomes active keeps the counters it finds, or rebuilds them.

Real Redis and the MongoDB wire server; the watchers run in-process, one after the other, as a
standby takes over from a watcher that died. The counters are kept only when a complete
rebuild of this code's format stands behind them (the completion mark) and every stream
resumes from its saved token; they must then end equal to a recomputation from scratch.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, cast
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from pymongo.database import Database

from dashboard.metrics import maintained, runner
from dashboard.models import Department
from dashboard.protocol.scopes import HOSPITAL_SCOPE, Scope
from dashboard.sources import mongo, redis_store
from dashboard.watcher import actions
from dashboard.watcher.loop import Watcher
from tests.watcher.test_loop import LOST_TOKEN, ServerAnswers, history_lost_for_the_lost_token, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

SCOPES = (HOSPITAL_SCOPE, Scope("ER"), Scope("ICU"))
CONVERGE_S = 15.0


class Rebuilds:
    """Counts the watcher's rebuilds of its counters (and so its reads of every collection)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        real = actions.rebuild_counters

        def counted(*args: Any, **kwargs: Any) -> tuple[int, set[str]]:
            self.calls += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(actions, "rebuild_counters", counted)


@pytest.fixture
def hospital(mongo_db: Database, redis_client: Any) -> Database:
    """Two departments and one document in every watched collection, so every stream has events."""
    Department.objects.bulk_create(
        [Department(code="ER", name="Emergency"), Department(code="ICU", name="ICU")]
    )
    now = datetime.now(UTC)
    mongo_db.patients.insert_one(
        {
            "department": "ER",
            "status": "admitted",
            "is_emergency": True,
            "admitted_at": now,
            "discharged_at": None,
        }
    )
    mongo_db.rooms.insert_one({"department": "ER", "status": "occupied", "beds": 2, "occupied_beds": 1})
    mongo_db.staff.insert_one({"department": "ER", "role": "nurse", "on_duty": True, "last_active_at": now})
    mongo_db.appointments.insert_one({"department": "ER", "scheduled_at": now, "status": "scheduled"})
    mongo_db.billing.insert_one({"department": "ER", "amount": 120.0, "status": "paid", "paid_at": now})
    mongo_db.alerts.insert_one(
        {
            "department": "ICU",
            "severity": "critical",
            "kind": "code_blue",
            "message": "start",
            "created_at": now,
            "acknowledged_at": None,
            "acknowledged_by": None,
        }
    )
    return mongo_db


class Running:
    """One in-process watcher on `db`, stopped by `stop()` as a SIGKILL would leave Redis (the
    live mark lapses; tokens, counters and the completion mark stay)."""

    def __init__(self, db: Any) -> None:
        self.halt = threading.Event()
        self.thread = threading.Thread(
            target=Watcher(cast(Database, db), coalesce_s=0.05, stop=self.halt).run, daemon=True
        )
        self.thread.start()
        wait_until(maintained.is_live, CONVERGE_S)

    def stop(self) -> None:
        self.halt.set()
        self.thread.join(timeout=10)
        assert not self.thread.is_alive()


@pytest.fixture
def watchers() -> Iterator[Callable[[Any], Running]]:
    started: list[Running] = []

    def start(db: Any) -> Running:
        started.append(Running(db))
        return started[-1]

    yield start
    for running in started:
        running.halt.set()
        running.thread.join(timeout=10)


def differences() -> list[str]:
    """Each scope whose critical tier from the counters differs from a recomputation from MongoDB."""
    wrong = []
    now = datetime.now(UTC)
    for scope in SCOPES:
        kept = {k: v for k, v in runner.maintained_critical(scope, now=now).items() if k != "computed_at"}
        fresh = {k: v for k, v in runner.compute_tier(scope, "critical").items() if k != "computed_at"}
        if kept != fresh:
            wrong.append(f"{scope}: counters {kept} != recomputed {fresh}")
    return wrong


def converged() -> list[str]:
    deadline = time.monotonic() + CONVERGE_S
    while (wrong := differences()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return wrong


def all_tokens() -> dict[str, dict[str, Any]]:
    tokens = {name: actions.load_token(name) for name in mongo.WATCHED_COLLECTIONS}
    return {name: token for name, token in tokens.items() if token is not None}


def write_changes(db: Database, label: str) -> None:
    """Inserts, an update, a transfer and a delete across the collections."""
    now = datetime.now(UTC)
    db.patients.insert_many(
        [
            {
                "department": "ER",
                "status": "admitted",
                "is_emergency": True,
                "admitted_at": now,
                "discharged_at": None,
            },
            {
                "department": "ICU",
                "status": "admitted",
                "is_emergency": False,
                "admitted_at": now,
                "discharged_at": None,
            },
        ]
    )
    db.staff.insert_one({"department": "ICU", "role": label, "on_duty": True, "last_active_at": now})
    db.rooms.update_one({"department": "ER"}, {"$set": {"occupied_beds": 2}})
    moved = db.patients.find_one({"department": "ER"}, sort=[("_id", 1)])
    assert moved is not None
    db.patients.update_one({"_id": moved["_id"]}, {"$set": {"department": "ICU"}})
    db.alerts.delete_one({"department": "ICU"})


def first_watcher_with_every_token(db: Database, start: Callable[[Any], Running]) -> Running:
    """A watcher that rebuilt, has seen an event on every stream and saved every token."""
    first = start(db)
    for collection in mongo.WATCHED_COLLECTIONS:
        db[collection].update_one({}, {"$set": {"touched": 1}})
    wait_until(lambda: len(all_tokens()) == len(mongo.WATCHED_COLLECTIONS), CONVERGE_S)
    assert not converged()
    return first


def test_a_takeover_with_a_valid_mark_keeps_the_counters_and_ends_equal_to_a_rebuild(
    hospital: Database, watchers: Callable[[Any], Running], monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    first = first_watcher_with_every_token(hospital, watchers)
    first.stop()
    assert maintained.completed_format() == maintained.counters_format(ZoneInfo(settings.TIME_ZONE))
    write_changes(hospital, "while no watcher runs")
    rebuilds = Rebuilds(monkeypatch)
    caplog.clear()
    watchers(hospital)
    write_changes(hospital, "after the takeover")
    assert not converged()
    assert rebuilds.calls == 0, "the standby read every collection again"
    assert "counters kept from the previous watcher" in caplog.text


def test_a_standby_that_takes_over_publishes_nothing_before_it_has_caught_up(
    hospital: Database, watchers: Callable[[Any], Running], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Fault matrix row 3: the new watcher published its counters after the first of the
    # changes made while no watcher ran, newer than beat's right recomputation from MongoDB,
    # and the hospital tile showed one boarding patient too many, unmarked, for 6.8 s.
    first = first_watcher_with_every_token(hospital, watchers)
    first.stop()
    write_changes(hospital, "while no watcher runs")
    wrong_when_published: list[list[str]] = []
    real = actions.publish_critical_scopes

    def checked(scopes: Any) -> None:
        wrong_when_published.append(differences())
        real(scopes)

    monkeypatch.setattr(actions, "publish_critical_scopes", checked)
    watchers(hospital)
    assert wrong_when_published, "the new watcher published nothing"
    assert all(not wrong for wrong in wrong_when_published), wrong_when_published


def test_events_the_dead_watcher_applied_but_had_no_token_saved_for_count_once(
    hospital: Database, watchers: Callable[[Any], Running], monkeypatch: pytest.MonkeyPatch
) -> None:
    first = first_watcher_with_every_token(hospital, watchers)
    before = all_tokens()
    write_changes(hospital, "applied, token not saved")
    wait_until(lambda: all_tokens() != before, CONVERGE_S)
    assert not converged()
    first.stop()
    # As a SIGKILL between the push and the token save leaves it: the changes are in the
    # counters, the saved tokens are older, and the standby replays the changes.
    actions.save_tokens(before)
    rebuilds = Rebuilds(monkeypatch)
    watchers(hospital)
    wrong = converged()
    assert rebuilds.calls == 0
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize(
    "spoil",
    [
        pytest.param(lambda: redis_store.client().delete(redis_store.MAINTAINED_COMPLETE_KEY), id="no mark"),
        pytest.param(
            lambda: redis_store.client().set(redis_store.MAINTAINED_COMPLETE_KEY, "v0 000000000000 UTC"),
            id="mark of another format",
        ),
        pytest.param(lambda: actions.forget_token(mongo.STAFF), id="a stream without token"),
    ],
)
def test_without_mark_of_this_format_or_a_token_the_standby_rebuilds(
    hospital: Database,
    watchers: Callable[[Any], Running],
    monkeypatch: pytest.MonkeyPatch,
    caplog: Any,
    spoil: Callable[[], object],
) -> None:
    first_watcher_with_every_token(hospital, watchers).stop()
    # A change the counters cannot know of: only a rebuild finds it.
    redis_store.client().delete(redis_store.maintained_counts_key("ER"))
    spoil()
    rebuilds = Rebuilds(monkeypatch)
    caplog.clear()
    watchers(hospital)
    assert rebuilds.calls == 1
    assert "counters rebuilt from" in caplog.text
    assert not converged()


def test_a_refused_token_makes_the_standby_rebuild(
    hospital: Database, watchers: Callable[[Any], Running], monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    first_watcher_with_every_token(hospital, watchers).stop()
    actions.save_tokens({mongo.PATIENTS: LOST_TOKEN})
    rebuilds = Rebuilds(monkeypatch)
    caplog.clear()
    watchers(ServerAnswers(hospital, history_lost_for_the_lost_token))
    assert "rebuilt from" in caplog.text
    assert f"no usable resume token for {mongo.PATIENTS}" in caplog.text
    # Once at activation, once more for the resync the refused token starts.
    wait_until(lambda: rebuilds.calls == 2, CONVERGE_S)
    assert not converged()

"""Leading and trailing edge: a quiet department is published at once, a burst is coalesced.

The watcher runs in-process on the test Redis and the embedded MongoDB, with a coalescing window
long enough that waiting it out cannot be mistaken for publishing at once.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from pymongo.database import Database

from dashboard.metrics import maintained
from dashboard.protocol.client_messages import Since
from dashboard.protocol.scopes import HOSPITAL_SCOPE, Scope
from dashboard.stream import publish
from dashboard.watcher.loop import Batch, Watcher
from dashboard.watcher.pacing import Pacing
from tests.watcher.test_loop import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

WINDOW_S = 1.5
ER = Scope("ER")


def critical_counts(scope: Scope) -> list[int]:
    """`patients.emergency` of every critical update of `scope` published so far, in order."""
    texts = publish.replay(scope, with_revenue=True, since=Since(publish.position(scope).epoch, 0)) or []
    messages = [json.loads(text) for text in texts]
    return [
        m["data"]["patients"]["emergency"]
        for m in messages
        if m["type"] == "update" and m["tier"] == "critical"
    ]


def admit(db: Database) -> None:
    db.patients.insert_one(
        {
            "department": "ER",
            "status": "admitted",
            "is_emergency": True,
            "admitted_at": datetime.now(UTC),
            "discharged_at": None,
        }
    )


@pytest.fixture
def watching(hospital: Database) -> Iterator[Database]:
    stop = threading.Event()
    thread = threading.Thread(target=Watcher(hospital, coalesce_s=WINDOW_S, stop=stop).run, daemon=True)
    thread.start()
    try:
        wait_until(maintained.is_live, timeout_s=30)
        yield hospital
    finally:
        stop.set()
        thread.join(timeout=10)


def test_a_quiet_departments_first_change_is_published_without_waiting_for_the_window(
    watching: Database,
) -> None:
    before = critical_counts(ER)
    started = time.monotonic()
    admit(watching)
    wait_until(lambda: len(critical_counts(ER)) > len(before), timeout_s=2 * WINDOW_S)
    took_s = time.monotonic() - started
    assert critical_counts(ER)[-1] == 2
    # Waiting out the window would take WINDOW_S; the stream's poll and a few Redis commands do not.
    assert took_s < WINDOW_S / 2, took_s


def test_a_burst_comes_out_as_few_publications_ending_with_the_final_state(watching: Database) -> None:
    changes = 30
    before = len(critical_counts(ER))
    started = time.monotonic()
    for _ in range(changes):
        admit(watching)
    burst_s = time.monotonic() - started
    wait_until(lambda: critical_counts(ER)[-1:] == [1 + changes], timeout_s=3 * WINDOW_S + burst_s)
    time.sleep(WINDOW_S)
    published = critical_counts(ER)[before:]
    # One at once, then at most one per window while the burst lasts, and the trailing one.
    assert len(published) <= 2 + int(burst_s / WINDOW_S), (published, burst_s)
    assert published[-1] == 1 + changes
    assert published == sorted(published)


def test_a_change_soon_after_a_publication_waits_for_its_scopes_window_and_quiet_scopes_do_not() -> None:
    pacing = Pacing(window_s=0.1)
    pacing.published({ER, HOSPITAL_SCOPE}, at=10.0)
    batch = Batch()
    batch.add({"ER", "ICU"}, None, pacing, now=10.05)
    assert batch.leading == {Scope("ICU")}
    assert batch.trailing == {ER: 10.1, HOSPITAL_SCOPE: 10.1}
    assert batch.due_at(0.1) == 10.1
    assert batch.due(10.06, 0.1) == {Scope("ICU")}
    assert batch.due(10.1, 0.1) == {Scope("ICU"), ER, HOSPITAL_SCOPE}
    later = Batch()
    later.add({"ER"}, None, pacing, now=10.2)
    assert later.leading == {ER, HOSPITAL_SCOPE}
    assert later.trailing == {}
    assert later.due_at(0.1) is None


def test_nothing_waits_longer_than_one_window_after_the_batchs_first_trailing_change() -> None:
    pacing = Pacing(window_s=0.1)
    pacing.published({ER, HOSPITAL_SCOPE}, at=10.0)
    batch = Batch()
    batch.add({"ER"}, None, pacing, now=10.09)
    pacing.published({Scope("ICU")}, at=10.18)
    batch.add({"ICU"}, None, pacing, now=10.185)
    assert batch.trailing[Scope("ICU")] == 10.28
    assert batch.due_at(0.1) == 10.1
    assert batch.due(10.19, 0.1) == {ER, HOSPITAL_SCOPE, Scope("ICU")}

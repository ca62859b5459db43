"""Every path that reads alerts validates them as the insert path does: a bad one is skipped
and counted, the others go on. Real MongoDB wire server and Redis."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo.database import Database

from dashboard.access.permissions import Access
from dashboard.alerts import acknowledgement
from dashboard.alerts.escalation import Escalations
from dashboard.alerts.listing import list_alerts
from dashboard.protocol.scopes import HOSPITAL_SCOPE
from dashboard.sources import skipped
from dashboard.watcher.loop import Watcher
from tests.watcher.test_loop import published, wait_until

ADMIN = Access(user_id=1, username="ada", role="admin", departments=frozenset())


def skipped_alerts() -> int:
    return sum(count for (collection, _field), count in skipped.counts().items() if collection == "alerts")


def alert(age_s: float, **overrides: Any) -> dict[str, Any]:
    return {
        "department": "ER",
        "severity": "critical",
        "kind": "code_blue",
        "message": "Bay 3",
        "created_at": datetime.now(UTC) - timedelta(seconds=age_s),
        "acknowledged_at": None,
        "acknowledged_by": None,
        **overrides,
    }


def without_message(age_s: float) -> dict[str, Any]:
    doc = alert(age_s)
    del doc["message"]
    return doc


@pytest.fixture
def alerts(mongo_db: Database, redis_client: Any, settings) -> Database:
    settings.ALERT_ESCALATE_AFTER_S = 2
    return mongo_db


def test_an_alert_without_message_is_skipped_counted_once_and_a_later_one_escalates(
    alerts: Database, caplog
) -> None:
    bad = alerts.alerts.insert_one(without_message(60)).inserted_id
    good = alerts.alerts.insert_one(alert(30)).inserted_id
    escalations = Escalations()
    with caplog.at_level(logging.WARNING, logger="dashboard.alerts"):
        assert [doc["_id"] for doc in escalations.due(datetime.now(UTC))] == [good]
        assert [doc["_id"] for doc in escalations.due(datetime.now(UTC))] == [good]
    assert skipped_alerts() == 1
    [line] = [r.getMessage() for r in caplog.records]
    assert line == f"escalation skipped alerts document {bad}: invalid message"


def test_five_hundred_bad_alerts_at_the_head_do_not_starve_a_good_one(alerts: Database) -> None:
    alerts.alerts.insert_many([without_message(600 - index * 0.1) for index in range(600)])
    good = alerts.alerts.insert_one(alert(30)).inserted_id
    escalations = Escalations()
    assert [doc["_id"] for doc in escalations.due(datetime.now(UTC))] == [good]
    escalations.settle(alerts.alerts.find_one({"_id": good}))
    assert list(escalations.due(datetime.now(UTC))) == []
    assert skipped_alerts() == 600


def test_the_watcher_escalates_past_a_bad_alert_created_before_a_good_one(alerts: Database) -> None:
    alerts.alerts.insert_one(without_message(60))
    good = str(alerts.alerts.insert_one(alert(30)).inserted_id)
    stop = threading.Event()
    thread = threading.Thread(target=Watcher(alerts, coalesce_s=0.05, stop=stop).run, daemon=True)
    thread.start()
    try:
        wait_until(
            lambda: (
                [m["alert"]["id"] for m in published(HOSPITAL_SCOPE, "alert") if m["alert"].get("escalated")]
                == [good]
            ),
            10,
        )
    finally:
        stop.set()
        thread.join(timeout=10)


def test_the_listing_reads_past_bad_alerts_at_its_head_and_counts_them(alerts: Database) -> None:
    good = alerts.alerts.insert_one(alert(60)).inserted_id
    alerts.alerts.insert_many([without_message(10) for _ in range(250)])
    listed = list_alerts(ADMIN, HOSPITAL_SCOPE, "open", limit=200)
    assert [item["id"] for item in listed] == [str(good)]
    assert skipped_alerts() == 250


def test_an_invalid_alert_cannot_be_acknowledged_and_is_left_unchanged(alerts: Database) -> None:
    bad = alerts.alerts.insert_one(alert(60, severity="apocalyptic")).inserted_id
    with pytest.raises(acknowledgement.AlertNotFound):
        acknowledgement.acknowledge(ADMIN, str(bad))
    assert alerts.alerts.find_one({"_id": bad})["acknowledged_at"] is None
    assert skipped_alerts() == 1

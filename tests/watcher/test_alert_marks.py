"""The watcher's marks of the alerts it sent: one sorted set, no alert pushed twice, trimmed."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from bson import ObjectId

from dashboard.protocol.scopes import Scope
from dashboard.sources import redis_store
from dashboard.stream import publish
from dashboard.watcher import actions


def _alert() -> dict[str, object]:
    return {
        "_id": ObjectId(),
        "department": "ER",
        "severity": "critical",
        "kind": "code_blue",
        "message": "marks",
        "created_at": datetime.now(UTC),
    }


def test_an_alert_is_pushed_once_and_its_escalation_once_more(redis_client) -> None:
    alert = _alert()
    assert actions.push_new_alert(alert) is True
    assert actions.push_new_alert(alert) is False
    assert actions.push_new_alert(alert, escalated=True) is True
    assert actions.push_new_alert(alert, escalated=True) is False
    # ER and the hospital got the alert; the hospital its escalation.
    assert publish.position(Scope("ER")).seq == 1
    assert redis_client.zcard(redis_store.alerts_sent_key(escalated=False)) == 1


def test_many_alerts_keep_one_key_and_marks_older_than_a_day_are_trimmed(redis_client) -> None:
    sent = redis_store.alerts_sent_key(escalated=False)
    redis_client.zadd(sent, {"old": time.time() - actions.ALERT_DEDUP_TTL_S - 60})
    actions.push_new_alert(_alert())
    keys_after_one = redis_client.dbsize()
    for _ in range(19):
        actions.push_new_alert(_alert())
    assert redis_client.zcard(sent) == 20
    assert redis_client.zscore(sent, "old") is None
    assert redis_client.dbsize() == keys_after_one  # no key per alert

"""Acknowledging alerts: permission, idempotence, and the broadcast, on real MongoDB and Redis."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dashboard.access.permissions import Access
from dashboard.alerts import acknowledgement
from dashboard.protocol.errors import Unavailable
from dashboard.sources import redis_store

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


def access(role: str, departments: frozenset[str] = frozenset(), username: str = "ada") -> Access:
    return Access(user_id=1, username=username, role=role, departments=departments)


@pytest.fixture
def alert_id(mongo_db, redis_client) -> str:
    result = mongo_db.alerts.insert_one(
        {
            "department": "ER",
            "severity": "critical",
            "kind": "code_blue",
            "message": "Bay 3",
            "created_at": NOW,
            "acknowledged_at": None,
            "acknowledged_by": None,
        }
    )
    return str(result.inserted_id)


def test_admin_acknowledges_and_both_scopes_hear_of_it(mongo_db, alert_id: str) -> None:
    ack = acknowledgement.acknowledge(access("admin"), alert_id)
    stored = mongo_db.alerts.find_one()
    assert stored["acknowledged_by"] == "ada"
    assert isinstance(stored["acknowledged_at"], datetime)
    assert ack.by == "ada"
    for key in ("dash:hist:dept.ER:basic", "dash:hist:hospital:full"):
        history = [json.loads(text) for text in redis_store.client().zrange(key, 0, -1)]
        assert [m["type"] for m in history] == ["alert_acknowledged"]
        assert history[0]["alert_id"] == alert_id


def test_second_acknowledgement_keeps_the_first(mongo_db, alert_id: str) -> None:
    first = acknowledgement.acknowledge(access("admin", username="ada"), alert_id)
    second = acknowledgement.acknowledge(access("department", frozenset({"ER"}), username="erin"), alert_id)
    assert (second.by, second.at) == (first.by, first.at) == ("ada", first.at)
    assert mongo_db.alerts.find_one()["acknowledged_by"] == "ada"
    assert redis_store.client().zcard("dash:hist:dept.ER:basic") == 1


def test_viewer_and_other_departments_may_not_acknowledge(mongo_db, alert_id: str) -> None:
    for who in (access("viewer"), access("department", frozenset({"ICU"}))):
        with pytest.raises(acknowledgement.AlertForbidden):
            acknowledgement.acknowledge(who, alert_id)
    assert mongo_db.alerts.find_one()["acknowledged_at"] is None


@pytest.mark.parametrize("bad_id", ["000000000000000000000000", "not-an-id", "{'$ne': None}"])
def test_unknown_alert_is_not_found(alert_id: str, bad_id: str) -> None:
    with pytest.raises(acknowledgement.AlertNotFound):
        acknowledgement.acknowledge(access("admin"), bad_id)


def test_an_acknowledgement_the_storage_refuses_is_unavailable_and_not_recorded(
    mongo_db, alert_id: str, test_tmp: Path
) -> None:
    # The storage refuses writes for real: the test database's SQLite file and write-ahead log
    # under the test MongoDB wire server made immutable (reads go on; the shared-memory index,
    # which the server maps, stays writable). The server answers the findAndModify as if
    # nothing matched.
    stem = test_tmp / "mongo" / mongo_db.name
    files = [str(path) for path in (stem.with_suffix(".db"), stem.with_suffix(".db-wal")) if path.exists()]
    assert files[:1] == [str(stem.with_suffix(".db"))], files
    chattr = shutil.which("chattr") or "/usr/bin/chattr"
    subprocess.run([chattr, "+i", *files], check=True)
    try:
        with pytest.raises(Unavailable):
            acknowledgement.acknowledge(access("admin"), alert_id)
    finally:
        subprocess.run([chattr, "-i", *files], check=True)
    stored = mongo_db.alerts.find_one()
    assert (stored["acknowledged_at"], stored["acknowledged_by"]) == (None, None)
    assert redis_store.client().zcard("dash:hist:dept.ER:basic") == 0
    assert acknowledgement.acknowledge(access("admin"), alert_id).by == "ada"

"""A MongoDB primary stepping down: reads are retried by pymongo, an acknowledgement is retried
on a replica set and answered `unavailable` where it cannot be, and a tier run goes on.

The step-down is injected (tests/support/step_down.py): the embedded server cannot elect.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from pymongo import ReadPreference

from dashboard import tasks
from dashboard.access.permissions import Access
from dashboard.alerts import acknowledgement
from dashboard.models import Department
from dashboard.protocol.errors import Unavailable
from dashboard.sources import mongo
from tests.support.step_down import stepping_down

ADMIN = Access(user_id=1, username="ada", role="admin", departments=frozenset())


@pytest.fixture
def alert_id(mongo_db, redis_client) -> str:
    result = mongo_db.alerts.insert_one(
        {
            "department": "ER",
            "severity": "critical",
            "kind": "code_blue",
            "message": "Bay 3",
            "created_at": datetime.now(UTC),
            "acknowledged_at": None,
            "acknowledged_by": None,
        }
    )
    return str(result.inserted_id)


def test_pymongo_retries_reads_and_writes_by_default_and_reads_use_the_setting(settings) -> None:
    client = mongo.make_client("mongodb://127.0.0.1:1/?directConnection=true")
    assert client.options.retry_reads is True
    assert client.options.retry_writes is True
    client.close()
    settings.MONGO_READ_PREFERENCE = "nearest"
    assert mongo.hospital_db("any").read_preference == ReadPreference.NEAREST
    assert mongo.primary_db("any").read_preference == ReadPreference.PRIMARY


def test_on_a_replica_set_an_acknowledgement_hit_by_a_step_down_is_retried_and_answered(
    mongo_db, alert_id: str
) -> None:
    with stepping_down({"findAndModify": 1}, as_replica_set_primary=True) as failed:
        ack = acknowledgement.acknowledge(ADMIN, alert_id)
    assert failed == {"findAndModify": 1}
    assert ack.by == "ada"
    assert mongo_db.alerts.find_one()["acknowledged_by"] == "ada"


def test_without_retryable_writes_it_is_unavailable_and_acknowledging_again_succeeds_once(
    mongo_db, alert_id: str
) -> None:
    with stepping_down({"findAndModify": 1}), pytest.raises(Unavailable):
        acknowledgement.acknowledge(ADMIN, alert_id)
    assert mongo_db.alerts.find_one()["acknowledged_by"] is None, "reported unavailable but written"
    first = acknowledgement.acknowledge(ADMIN, alert_id)
    again = acknowledgement.acknowledge(ADMIN, alert_id)
    assert (again.by, again.at) == (first.by, first.at)


@pytest.mark.django_db
def test_a_read_hit_once_is_retried_by_pymongo_and_the_tier_run_publishes_everything(
    mongo_db, redis_client
) -> None:
    Department.objects.create(code="ER", name="Emergency")
    with stepping_down({"aggregate": 1}) as failed:
        published = tasks.run_tier("standard")
    assert failed == {"aggregate": 1}
    assert published == 2  # the hospital and ER


@pytest.mark.django_db
def test_a_tier_run_whose_retry_fails_too_logs_it_and_the_next_run_publishes(
    mongo_db, redis_client, caplog
) -> None:
    Department.objects.create(code="ER", name="Emergency")
    with caplog.at_level(logging.ERROR, "dashboard.tasks"), stepping_down({"aggregate": 2}) as failed:
        published = tasks.run_tier("standard")
    assert failed == {"aggregate": 2}
    assert published == 1, "one scope failed, the other was published"
    assert "NotPrimaryError" in caplog.text
    assert tasks.run_tier("standard") == 2

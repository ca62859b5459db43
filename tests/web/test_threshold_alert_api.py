"""Threshold alerts (string `_id`s, `threshold:<dept>:<check>:<episode>`) through the HTTP API:
listed only to who may read their department, acknowledged by `POST /api/alerts/<id>/ack/`
with the id's ':' as they are or percent-encoded."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote

import pytest

from dashboard.alerts import thresholds
from dashboard.models import Department
from tests.web.test_api import client_for

pytestmark = pytest.mark.django_db

NOW = datetime.now(UTC)


@pytest.fixture
def icu_alert(settings, mongo_db, redis_client) -> str:
    settings.THRESHOLD_OCCUPANCY = 0.9
    Department.objects.bulk_create([Department(code="ER", name="ER"), Department(code="ICU", name="ICU")])
    critical = {"rooms": {"occupancy_rate": 0.97}, "flow": {"boarding": 0, "boarding_longest_min": 0}}
    (raised,) = thresholds.evaluate("ICU", critical, now=NOW)
    return raised


def ids(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["alerts"]]


def test_an_icu_threshold_alert_is_listed_to_who_may_read_icu_only(icu_alert: str) -> None:
    erin = client_for("erin", "department", ["ER"])
    assert ids(erin.get("/api/alerts/?scope=dept:ER")) == []
    assert erin.get("/api/alerts/?scope=dept:ICU").status_code == 403
    assert ids(client_for("ian", "department", ["ICU"]).get("/api/alerts/?scope=dept:ICU")) == [icu_alert]
    assert ids(client_for("vic", "viewer").get("/api/alerts/?scope=hospital")) == [icu_alert]


@pytest.mark.parametrize("encode", [False, True])
def test_a_threshold_alert_is_acknowledged_by_its_string_id(icu_alert: str, mongo_db, encode: bool) -> None:
    path_id = quote(icu_alert, safe="") if encode else icu_alert
    assert ("%3A" in path_id) is encode
    erin = client_for("erin", "department", ["ER"])
    assert erin.post(f"/api/alerts/{path_id}/ack/").status_code == 403
    response = client_for("ian", "department", ["ICU"]).post(f"/api/alerts/{path_id}/ack/")
    assert response.status_code == 200, response.content
    assert response.json()["alert_id"] == icu_alert
    assert mongo_db.alerts.find_one({"_id": icu_alert})["acknowledged_by"] == "ian"

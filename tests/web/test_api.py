"""HTTP API views on real MongoDB and Redis: alert lists, snapshots, and the access log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from dashboard.access import audit
from dashboard.access.users import upsert_dashboard_user
from dashboard.models import AccessLog, Department

pytestmark = pytest.mark.django_db

NOW = datetime.now(UTC)


def alert(department: str, minutes_ago: int, *, acknowledged: bool = False, **overrides: Any) -> dict:
    return {
        "department": department,
        "severity": "critical",
        "kind": "code_blue",
        "message": f"{department} {minutes_ago}",
        "created_at": NOW - timedelta(minutes=minutes_ago),
        "acknowledged_at": NOW if acknowledged else None,
        "acknowledged_by": "ada" if acknowledged else None,
        **overrides,
    }


@pytest.fixture
def hospital(mongo_db, redis_client):
    Department.objects.bulk_create(
        [Department(code="ER", name="Emergency"), Department(code="ICU", name="ICU")]
    )
    mongo_db.alerts.insert_many(
        [
            alert("ER", 5),
            alert("ER", 1),
            alert("ICU", 3),
            alert("ER", 2, acknowledged=True),
            alert("ER", 4, severity="apocalyptic"),
        ]
    )
    return mongo_db


def client_for(username: str, role: str, departments: list[str] = ()) -> APIClient:
    user = upsert_dashboard_user(username=username, role=role, departments=list(departments), password=None)[
        0
    ]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
    return client


def messages_of(response) -> list[str]:
    return [item["message"] for item in response.json()["alerts"]]


def test_admin_lists_open_alerts_of_the_hospital_newest_first(hospital) -> None:
    response = client_for("ada", "admin").get("/api/alerts/?scope=hospital&state=open")
    assert response.status_code == 200
    assert messages_of(response) == ["ER 1", "ICU 3", "ER 5"]
    assert all(item["may_acknowledge"] for item in response.json()["alerts"])


def test_state_all_includes_acknowledged_alerts(hospital) -> None:
    response = client_for("ada", "admin").get("/api/alerts/?scope=dept:ER&state=all")
    assert messages_of(response) == ["ER 1", "ER 2", "ER 5"]
    acknowledged = response.json()["alerts"][1]
    assert acknowledged["acknowledged_by"] == "ada"
    assert acknowledged["acknowledged_at"].endswith("Z")


def test_department_user_reads_its_own_department_only(hospital) -> None:
    erin = client_for("erin", "department", ["ER"])
    assert messages_of(erin.get("/api/alerts/?scope=dept:ER")) == ["ER 1", "ER 5"]
    assert erin.get("/api/alerts/?scope=dept:ICU").status_code == 403
    assert erin.get("/api/alerts/?scope=hospital").status_code == 403


def test_viewer_reads_but_may_not_acknowledge(hospital) -> None:
    response = client_for("vic", "viewer").get("/api/alerts/?scope=hospital")
    assert response.status_code == 200
    assert not any(item["may_acknowledge"] for item in response.json()["alerts"])


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("scope=hospital&state=closed", 400),
        ("scope=%7B%22%24ne%22%3A+null%7D", 400),
        ("scope=dept:NOPE", 404),
        ("", 400),
    ],
)
def test_bad_queries_get_clear_errors(hospital, query: str, status: int) -> None:
    response = client_for("ada", "admin").get(f"/api/alerts/?{query}")
    assert response.status_code == status
    assert response.json()["code"] in ("bad_request", "unknown_scope")


def test_refresh_token_is_not_accepted_as_an_access_token(hospital) -> None:
    user = upsert_dashboard_user(username="ada", role="admin", departments=[], password=None)[0]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user)}")
    assert client.get("/api/alerts/?scope=hospital").status_code == 401


def test_api_reads_are_in_the_access_log(hospital) -> None:
    client_for("ada", "admin").get("/api/alerts/?scope=hospital")
    client_for("ada", "admin").get("/api/snapshot/?scope=hospital")
    entries = list(AccessLog.objects.filter(action=AccessLog.Action.API_READ).order_by("id"))
    assert [(e.username, e.scope, e.detail) for e in entries] == [
        ("ada", "hospital", "alerts state=open"),
        ("ada", "hospital", "snapshot"),
    ]


def test_prune_deletes_only_entries_past_retention(settings) -> None:
    settings.AUDIT_RETENTION_DAYS = 30
    for days_ago in (45, 31, 29, 1):
        AccessLog.objects.create(
            at=NOW - timedelta(days=days_ago), username=f"u{days_ago}", action=AccessLog.Action.CONNECT
        )
    assert audit.prune(NOW) == 2
    assert sorted(AccessLog.objects.values_list("username", flat=True)) == ["u1", "u29"]


@pytest.mark.parametrize("path", ["/api/alerts/?scope={}", "/api/snapshot/?scope={}"])
def test_a_department_user_cannot_tell_a_missing_department_from_a_forbidden_one(hospital, path: str) -> None:
    erin = client_for("erin", "department", ["ER"])
    answers = []
    for code in ("ICU", "NOPE"):
        response = erin.get(path.format(f"dept:{code}"))
        body = response.json()
        answers.append((response.status_code, body["code"], body["message"].replace(code, "<code>")))
    assert answers[0] == answers[1] == (403, "forbidden", "you may not read dept:<code>")


def test_an_admin_is_told_a_department_does_not_exist(hospital) -> None:
    response = client_for("ada", "admin").get("/api/snapshot/?scope=dept:NOPE")
    assert (response.status_code, response.json()["code"]) == (404, "unknown_scope")

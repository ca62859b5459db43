"""The contract §8 flow keys reach every role (admin, viewer, department user) with the values
computed from MongoDB, through `GET /api/snapshot/`, which applies each role's visibility."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from dashboard.access.users import upsert_dashboard_user

pytestmark = pytest.mark.django_db

ROLES = (
    ("ada", "admin", [], "hospital"),
    ("vic", "viewer", [], "hospital"),
    ("erin", "department", ["ER"], "dept:ER"),
)


@pytest.fixture
def flow_hospital(mongo_db, redis_client):
    now = datetime.now(UTC)
    mongo_db.patients.insert_many(
        [
            {
                "department": "ER",
                "status": "admitted",
                "is_emergency": True,
                "admitted_at": now - timedelta(hours=5),
                "boarding_since": now - timedelta(minutes=90),
            },
            {
                "department": "ER",
                "status": "admitted",
                "is_emergency": False,
                "admitted_at": now - timedelta(hours=3),
                "boarding_since": now - timedelta(minutes=30),
            },
            {
                "department": "ER",
                "status": "admitted",
                "is_emergency": False,
                "admitted_at": now - timedelta(hours=2),
                "boarding_since": None,
            },
        ]
    )
    return mongo_db


def snapshot_as(username: str, role: str, departments: list[str], scope: str) -> dict:
    user, _ = upsert_dashboard_user(username=username, role=role, departments=departments, password=None)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
    response = client.get(f"/api/snapshot/?scope={scope}")
    assert response.status_code == 200, response.content
    return response.json()["data"]


@pytest.mark.parametrize(("username", "role", "departments", "scope"), ROLES)
def test_every_role_receives_the_flow_keys_with_their_values(
    flow_hospital, username: str, role: str, departments: list[str], scope: str
) -> None:
    data = snapshot_as(username, role, departments, scope)
    boarding = data["critical"]["flow"]
    assert boarding["boarding"] == 2
    assert 89 <= boarding["boarding_longest_min"] <= 91
    assert 59 <= boarding["boarding_median_min"] <= 61
    assert set(data["standard"]["flow"]) == {
        "los_avg_h_7d",
        "discharges_today",
        "discharges_before_noon",
        "discharges_before_noon_share",
        "bed_turnaround_median_min",
        "lwbs_today",
        "lwbs_share",
    }
    assert data["standard"]["flow"]["discharges_today"] == 0
    assert data["standard"]["flow"]["discharges_before_noon_share"] is None
    assert data["standard"]["flow"]["lwbs_share"] is None
    outlook = data["historical"]["outlook"]
    assert len(outlook) == 4
    assert all(set(row) == {"hour", "expected_occupied_beds", "low", "high"} for row in outlook)
    assert ("revenue" in data["standard"]) is (role == "admin")

"""The server-rendered page: numbers before any script runs, roles respected, a strict CSP."""

from __future__ import annotations

import re

import pytest

from dashboard.access.users import upsert_dashboard_user
from dashboard.models import Department
from dashboard.protocol.scopes import HOSPITAL_SCOPE, Scope
from dashboard.stream import tier_cache
from tests.support.ws import TIERS

pytestmark = pytest.mark.django_db

HOSPITAL_TIERS = {
    **TIERS,
    "critical": {"patients": {"emergency": 4321, "total": 98765}, "computed_at": "2030-01-01T00:00:00.000Z"},
    "standard": {
        **TIERS["standard"],
        "revenue": {"today": 123456.5, "week": 1.0, "month": 2.0},
        "departments": [{"department": "ER", "patients": {"total": 55}}],
    },
}


@pytest.fixture
def cached(mongo_db, redis_client) -> None:
    Department.objects.bulk_create(
        [Department(code="ER", name="Emergency"), Department(code="ICU", name="ICU")]
    )
    for tier, data in HOSPITAL_TIERS.items():
        tier_cache.store_tier(HOSPITAL_SCOPE, tier, data)
    for code, emergency in (("ER", 11), ("ICU", 22)):
        for tier, data in TIERS.items():
            tier_cache.store_tier(Scope(code), tier, {**data, "patients": {"emergency": emergency}})


def logged_in(client, username: str, role: str, departments: list[str] = ()):
    user = upsert_dashboard_user(username=username, role=role, departments=list(departments), password=None)[
        0
    ]
    client.force_login(user)
    return client


def test_anonymous_visitors_are_sent_to_the_login_page(client) -> None:
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    login = client.get("/accounts/login/")
    assert login.status_code == 200
    assert b'name="password"' in login.content


def test_admin_page_shows_server_rendered_numbers_revenue_and_departments(client, cached) -> None:
    html = logged_in(client, "ada", "admin").get("/").content.decode()
    assert "98,765" in html
    assert "4,321" in html
    assert "123,456.50" in html
    assert '<th scope="row">ER</th>' in html
    assert 'data-key="standard.revenue.today"' in html


def test_department_user_sees_its_department_and_never_revenue_or_other_departments(client, cached) -> None:
    html = logged_in(client, "erin", "department", ["ER"]).get("/?scope=dept:ICU").content.decode()
    assert "dept:ICU is not a scope you may view; showing dept:ER" in html
    assert 'data-key="critical.patients.emergency"' in html
    assert ">11<" in html
    assert ">22<" not in html
    assert "revenue" not in html.lower()
    assert "98,765" not in html


def test_page_has_a_strict_csp_and_no_inline_script(client, cached) -> None:
    response = logged_in(client, "vic", "viewer").get("/?scope=dept:ER")
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    html = response.content.decode()
    for tag in re.findall(r"<script[^>]*>", html):
        assert 'src="' in tag or 'type="application/json"' in tag, tag
    assert " style=" not in html
    assert "revenue" not in html.lower()

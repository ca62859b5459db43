"""The server-rendered page: numbers before any script runs, roles respected, a strict CSP."""

from __future__ import annotations

import json
import re

import pytest

from dashboard.access.users import upsert_dashboard_user
from dashboard.models import Department
from dashboard.protocol.scopes import HOSPITAL_SCOPE, Scope
from dashboard.stream import tier_cache
from dashboard.web import page_presenter, page_version
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


FLOW_TIERS = {
    **TIERS,
    "critical": {
        **TIERS["critical"],
        "flow": {"boarding": 7, "boarding_longest_min": 125, "boarding_median_min": 44.5},
    },
    "standard": {
        **TIERS["standard"],
        "flow": {
            "los_avg_h_7d": 52.34,
            "discharges_today": 8,
            "discharges_before_noon": 3,
            "discharges_before_noon_share": 0.375,
            "bed_turnaround_median_min": None,
            "lwbs_today": 2,
            "lwbs_share": 0.25,
        },
    },
    "historical": {
        **TIERS["historical"],
        "outlook": [
            {"hour": "2030-01-01T10:00:00Z", "expected_occupied_beds": 41.26, "low": 38, "high": 44.5}
        ],
    },
}


def tile_value(html: str, key: str) -> str:
    match = re.search(
        rf'data-key="{re.escape(key)}"[^>]*>\s*<span class="tile-label">[^<]*</span>\s*'
        r'<span class="tile-value" data-value>([^<]*)</span>',
        html,
    )
    assert match, key
    return match.group(1)


def test_flow_measures_and_the_outlook_are_server_rendered_when_present(
    client, mongo_db, redis_client
) -> None:
    for tier, data in FLOW_TIERS.items():
        tier_cache.store_tier(Scope("ER"), tier, data)
    html = logged_in(client, "erin", "department", ["ER"]).get("/").content.decode()
    assert tile_value(html, "critical.flow.boarding") == "7"
    assert tile_value(html, "critical.flow.boarding_longest_min") == "2 h 5 min"
    assert tile_value(html, "critical.flow.boarding_median_min") == "45 min"
    assert tile_value(html, "standard.flow.los_avg_h_7d") == "52.3 h"
    assert tile_value(html, "standard.flow.discharges_before_noon_share") == "38%"
    assert tile_value(html, "standard.flow.bed_turnaround_median_min") == "\u2013"  # null: none ended today
    assert tile_value(html, "standard.flow.lwbs_today") == "2"
    assert tile_value(html, "standard.flow.lwbs_share") == "25%"
    assert '<tr><th scope="row">2030-01-01 10:00</th><td>41.3</td><td>38</td><td>44.5</td></tr>' in html


def test_flow_tiles_show_a_dash_while_the_server_sends_no_flow_keys(client, cached) -> None:
    html = logged_in(client, "ada", "admin").get("/").content.decode()
    for key in ("critical.flow.boarding", "standard.flow.los_avg_h_7d", "standard.flow.lwbs_share"):
        assert tile_value(html, key) == "\u2013", key
    assert 'id="outlook-empty" class="empty">No outlook yet.' in html


@pytest.mark.parametrize(
    ("value", "kind", "text"),
    [
        (44.5, "minutes", "45 min"),
        (59.4, "minutes", "59 min"),
        (59.5, "minutes", "1 h 0 min"),
        (125, "minutes", "2 h 5 min"),
        (52.34, "hours", "52.3 h"),
        (1234.56, "hours", "1,234.6 h"),
        (41.25, "decimal", "41.3"),
        (44.0, "decimal", "44"),
        (100, "decimal", "100"),
        (0.375, "percent", "38%"),
        (None, "minutes", "\u2013"),
    ],
)
def test_values_are_formatted_as_the_pages_script_formats_them(value, kind, text) -> None:
    assert page_presenter.formatted(value, kind) == text


def test_wall_mode_is_dark_chrome_free_markup_and_keeps_the_scope(client, cached) -> None:
    page = logged_in(client, "ada", "admin")
    normal = page.get("/?scope=dept:ER").content.decode()
    assert "<body>" in normal
    assert 'href="?scope=dept%3AER&amp;wall=1"' in normal
    wall = page.get("/?scope=dept:ER&wall=1").content.decode()
    assert '<body class="wall">' in wall
    assert 'href="?scope=dept%3AER">Exit wall mode</a>' in wall
    assert '<input type="hidden" name="wall" value="1">' in wall
    boot = json.loads(
        re.search(r'<script id="dash-boot" type="application/json">(.*?)</script>', wall).group(1)
    )
    assert boot["wall"] is True


def test_the_page_version_endpoint_answers_the_version_the_page_was_rendered_with(client, cached) -> None:
    assert client.get("/page/version/").status_code == 302
    page = logged_in(client, "vic", "viewer")
    html = page.get("/").content.decode()
    boot = json.loads(
        re.search(r'<script id="dash-boot" type="application/json">(.*?)</script>', html).group(1)
    )
    answer = page.get("/page/version/")
    assert answer.status_code == 200
    assert "no-cache" in answer["Cache-Control"]
    assert answer.json() == {"version": boot["version"]}
    assert re.fullmatch(r"[0-9a-f]{16}", boot["version"])


def test_the_page_version_changes_when_a_page_file_changes(tmp_path, monkeypatch) -> None:
    (tmp_path / "page.js").write_text("one")
    monkeypatch.setattr(page_version, "PAGE_FILES", (tmp_path,))
    page_version.current.cache_clear()
    try:
        first = page_version.current()
        (tmp_path / "page.js").write_text("two")
        page_version.current.cache_clear()
        assert page_version.current() != first
    finally:
        page_version.current.cache_clear()

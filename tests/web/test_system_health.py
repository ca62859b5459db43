"""GET /system-health/ and the page's system-health tile: admins only, checked on the server."""

from __future__ import annotations

import time

import pytest
import redis

from dashboard.protocol.scopes import HOSPITAL_SCOPE
from dashboard.sources import redis_store, web_health
from dashboard.stream import tier_cache
from tests.support.ws import TIERS
from tests.web.test_page import logged_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def reported(redis_client) -> None:
    for tier, data in TIERS.items():
        tier_cache.store_tier(HOSPITAL_SCOPE, tier, data)
    web_health.report(
        web_health.WebHealth(
            server="web-host:8000",
            pid=321,
            resident_bytes=123_456_789,
            cpu_percent=4.5,
            connections=17,
            reported_at=time.time(),
        )
    )


def test_an_admin_gets_every_web_process_report(client, reported) -> None:
    response = logged_in(client, "ada", "admin").get("/system-health/")
    assert response.status_code == 200
    (process,) = response.json()["processes"]
    assert process["server"] == "web-host:8000"
    assert (process["resident_bytes"], process["cpu_percent"], process["connections"]) == (
        123_456_789,
        4.5,
        17,
    )
    assert process["stale"] is False


@pytest.mark.parametrize(("role", "departments"), [("viewer", []), ("department", ["ER"])])
def test_anyone_else_gets_403_and_no_figure(client, reported, role: str, departments: list[str]) -> None:
    response = logged_in(client, "someone", role, departments).get("/system-health/")
    assert response.status_code == 403
    assert b"web-host" not in response.content
    assert b"123456789" not in response.content


def test_an_anonymous_visitor_gets_403(client, reported) -> None:
    assert client.get("/system-health/").status_code == 403


def test_the_tile_is_on_the_admin_page_only(client, reported) -> None:
    admin_page = logged_in(client, "ada", "admin").get("/").content.decode()
    assert 'id="system-health"' in admin_page
    assert "system_health.js" in admin_page
    client.logout()
    viewer_page = logged_in(client, "vera", "viewer").get("/").content.decode()
    assert 'id="system-health"' not in viewer_page
    assert "system_health.js" not in viewer_page


def test_while_redis_does_not_answer_an_admin_gets_503(client, reported, monkeypatch) -> None:
    down = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.3, decode_responses=True)
    logged_in(client, "ada", "admin")
    monkeypatch.setattr(redis_store, "client", lambda: down)
    response = client.get("/system-health/")
    assert response.status_code == 503
    assert response.json()["code"] == "unavailable"


def test_the_admins_figures_are_never_kept_by_a_cache(client, reported) -> None:
    response = logged_in(client, "ada", "admin").get("/system-health/")
    assert response.status_code == 200
    assert {"private", "no-store"} <= {part.strip() for part in response["Cache-Control"].split(",")}

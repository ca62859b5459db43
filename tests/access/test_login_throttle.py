"""Failed logins are throttled per username and per client address on every way in."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.test import AsyncClient, Client
from rest_framework.test import APIClient

from dashboard.access.users import upsert_dashboard_user
from dashboard.models import AccessLog

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "pw-admin-123456"
WRONG = "wrong-password-1"


@pytest.fixture
def admin(redis_client) -> Any:
    user = upsert_dashboard_user(username="admin", role="admin", departments=[], password=PASSWORD)[0]
    user.is_staff = True
    user.is_superuser = True
    user.save()
    return user


def token(username: str, password: str, address: str = "127.0.0.1") -> Any:
    return APIClient(REMOTE_ADDR=address).post(
        "/api/auth/token/", {"username": username, "password": password}, format="json"
    )


def metric(name: str) -> float:
    for line in Client().get("/metrics").content.decode().splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not exposed")


def test_forty_wrong_passwords_on_the_token_endpoint_are_throttled_from_the_fifth(admin) -> None:
    statuses = [token("admin", WRONG).status_code for _ in range(40)]
    assert statuses == [401] * 4 + [429] * 36
    locked = token("admin", PASSWORD)  # even the right password waits out the cool-off
    assert locked.status_code == 429
    assert locked["Retry-After"] == "900"
    assert "throttled" in locked.json()["detail"]
    assert metric("dash_login_failures_total") == 41
    assert metric("dash_login_lockouts_total") == 37
    entries = list(AccessLog.objects.values_list("action", "username", "client_address", "detail"))
    assert entries.count(("login_failed", "admin", "127.0.0.1", "/api/auth/token/")) == 41
    assert entries.count(("locked_out", "admin", "127.0.0.1", "/api/auth/token/")) == 37
    assert not any(PASSWORD in str(entry) or WRONG in str(entry) for entry in entries)


def test_one_address_is_locked_out_across_usernames_and_others_are_not(admin) -> None:
    for n in range(5):
        token(f"nobody{n}", WRONG, address="10.0.0.7")
    assert token("admin", PASSWORD, address="10.0.0.7").status_code == 429
    assert token("admin", PASSWORD, address="10.0.0.8").status_code == 200


def test_one_username_is_locked_out_from_every_address(admin) -> None:
    for n in range(5):
        token("admin", WRONG, address=f"10.0.1.{n}")
    assert token("admin", PASSWORD, address="10.0.1.99").status_code == 429
    assert token("someone-else", WRONG, address="10.0.1.99").status_code == 401


def test_logging_in_to_another_account_between_guesses_resets_nothing(admin) -> None:
    upsert_dashboard_user(username="vic", role="viewer", departments=[], password="pw-vic-123456")
    client = Client(REMOTE_ADDR="10.0.4.1")
    for _ in range(4):
        assert client.post("/accounts/login/", {"username": "admin", "password": WRONG}).status_code == 200
    assert (
        client.post("/accounts/login/", {"username": "vic", "password": "pw-vic-123456"}).status_code == 302
    )
    client.logout()
    assert client.post("/accounts/login/", {"username": "admin", "password": WRONG}).status_code == 429


def test_an_inactive_account_counts_as_a_failure(admin) -> None:
    get_user_model().objects.filter(pk=admin.pk).update(is_active=False)
    assert [token("admin", PASSWORD).status_code for _ in range(6)] == [401] * 4 + [429] * 2


@pytest.mark.asyncio
@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/"])
async def test_the_login_form_and_admin_answer_429_with_retry_after_under_asgi(admin, path: str) -> None:
    client = AsyncClient()
    statuses = []
    for _ in range(6):
        response = await client.post(path, {"username": "admin", "password": WRONG})
        statuses.append(response.status_code)
    assert statuses == [200] * 4 + [429] * 2
    assert response["Retry-After"] == "900"
    assert b"Too many failed logins" in response.content
    right = await client.post(path, {"username": "admin", "password": PASSWORD})
    assert right.status_code == 429
    actions = await sync_to_async(list)(AccessLog.objects.values_list("action", "client_address", "detail"))
    assert actions.count(("login_failed", "127.0.0.1", path)) == 7
    assert actions.count(("locked_out", "127.0.0.1", path)) == 3


def test_the_login_form_answers_429_with_retry_after_when_synchronous(admin) -> None:
    client = Client(REMOTE_ADDR="10.0.3.1")
    for _ in range(4):
        assert client.post("/accounts/login/", {"username": "admin", "password": WRONG}).status_code == 200
    locked = client.post("/accounts/login/", {"username": "admin", "password": WRONG})
    assert locked.status_code == 429
    assert locked["Retry-After"] == "900"


def test_the_limit_and_cool_off_are_settings(admin, settings) -> None:
    settings.AXES_FAILURE_LIMIT = 2
    settings.AXES_COOLOFF_TIME = timedelta(seconds=60)
    assert [token("admin", WRONG).status_code for _ in range(3)] == [401, 429, 429]
    assert token("admin", WRONG)["Retry-After"] == "60"

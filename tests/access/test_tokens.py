"""The JWT endpoints: refresh and revoke for gone or deactivated users, and the clock leeway."""

from __future__ import annotations

import time
from typing import Any

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from dashboard.access.users import upsert_dashboard_user
from dashboard.realtime.handshake_auth import access_token_user_id

pytestmark = pytest.mark.django_db


@pytest.fixture
def erin(redis_client) -> Any:
    return upsert_dashboard_user(username="erin", role="department", departments=["ER"], password=None)[0]


def post(path: str, body: dict[str, str], token: str | None = None) -> Any:
    client = APIClient()
    if token:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client.post(path, body, format="json")


def test_refresh_of_a_deleted_user_is_401_not_500(erin) -> None:
    refresh = str(RefreshToken.for_user(erin))
    erin.delete()
    response = post("/api/auth/token/refresh/", {"refresh": refresh})
    assert response.status_code == 401
    assert response.json() == {"detail": "No active account found for the given token."}


def test_refresh_of_a_deactivated_user_is_401(erin) -> None:
    refresh = str(RefreshToken.for_user(erin))
    erin.is_active = False
    erin.save()
    response = post("/api/auth/token/refresh/", {"refresh": refresh})
    assert response.status_code == 401
    assert response.json() == {"detail": "No active account found for the given token."}


def test_a_revoked_refresh_token_cannot_be_refreshed(erin) -> None:
    refresh = str(RefreshToken.for_user(erin))
    assert post("/api/auth/token/blacklist/", {"refresh": refresh}).status_code == 200
    assert post("/api/auth/token/blacklist/", {"refresh": refresh}).status_code == 401
    assert post("/api/auth/token/refresh/", {"refresh": refresh}).status_code == 401
    assert post("/api/auth/token/blacklist/", {"refresh": "not-a-token"}).status_code == 401
    access = str(AccessToken.for_user(erin))
    assert post("/api/auth/token/blacklist/", {"refresh": access}).status_code == 401


@pytest.mark.parametrize("state", ["deleted", "deactivated"])
def test_a_gone_or_deactivated_user_can_still_revoke_a_refresh_token(erin, state: str) -> None:
    refresh = str(RefreshToken.for_user(erin))
    if state == "deleted":
        erin.delete()
    else:
        erin.is_active = False
        erin.save()
    assert post("/api/auth/token/blacklist/", {"refresh": refresh}).status_code == 200
    assert post("/api/auth/token/refresh/", {"refresh": refresh}).status_code == 401


def issued_ahead(user: Any, seconds: float) -> str:
    """An access token as a host whose clock is `seconds` ahead of ours would issue it."""
    token = AccessToken.for_user(user)
    token["iat"] = int(time.time() + seconds)
    return str(token)


def test_a_token_issued_2_s_in_the_future_is_accepted_over_http_and_websocket(erin) -> None:
    token = issued_ahead(erin, 2)
    claims = access_token_user_id(token)
    assert claims is not None
    assert claims[0] == erin.pk
    assert post("/api/ws-ticket/", {}, token=token).status_code == 200


def test_a_token_issued_beyond_the_leeway_is_refused_over_http_and_websocket(erin, settings) -> None:
    assert settings.JWT_LEEWAY_S == 5
    token = issued_ahead(erin, 30)
    assert access_token_user_id(token) is None
    assert post("/api/ws-ticket/", {}, token=token).status_code == 401


def test_an_access_token_expired_within_the_leeway_still_counts(erin) -> None:
    token = AccessToken.for_user(erin)
    token["exp"] = int(time.time() - 2)
    assert access_token_user_id(str(token)) is not None
    token["exp"] = int(time.time() - 30)
    assert access_token_user_id(str(token)) is None

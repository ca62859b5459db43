"""The HTTP API under outages and hostile input: JSON answers, never a 500 page."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from tests.support.outages import unreachable_mongo

pytestmark = pytest.mark.django_db


def test_ack_over_http_while_mongodb_is_down_is_503_json(ws_users, monkeypatch) -> None:
    unreachable_mongo(monkeypatch)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(ws_users['er'])}")
    response = client.post("/api/alerts/65f000000000000000000001/ack/")
    assert response.status_code == 503
    assert response.json() == {"ok": False, "reason": "unavailable"}


def test_a_json_body_that_is_not_valid_unicode_is_400_not_500(ws_users) -> None:
    response = APIClient().post(
        "/api/auth/token/", data='{"username": "\\ud800", "password": "x"}', content_type="application/json"
    )
    assert response.status_code == 400

"""The web process's short memory of access: handshakes of a reconnect storm share one read."""

from __future__ import annotations

import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dashboard.access import access_cache, permissions
from dashboard.access.users import upsert_dashboard_user
from dashboard.models import DashboardProfile, Department
from dashboard.protocol.close_codes import CloseCode
from dashboard.realtime.handshake import handshake_access, open_connection
from dashboard.realtime.handshake_auth import HandshakeAuth

pytestmark = pytest.mark.django_db


def token(user_id: int) -> HandshakeAuth:
    return HandshakeAuth(method="jwt", user_id=user_id)


def test_handshakes_of_one_user_share_one_read(redis_client, settings) -> None:
    settings.MAX_CONNECTIONS_PER_USER = 100
    Department.objects.create(code="ER")
    admin = upsert_dashboard_user(username="ada", role="admin", departments=[], password=None)[0]
    with CaptureQueriesContext(connection) as first:
        opened = open_connection(token(admin.pk), "c1")
    assert opened.access is not None
    assert [scope.name for scope in opened.known_scopes] == ["hospital", "dept:ER"]
    with CaptureQueriesContext(connection) as next_ones:
        again = [open_connection(token(admin.pk), f"c{index}") for index in range(2, 50)]
    assert len(first) == 2  # the access, the active departments
    assert len(next_ones) == 0
    assert all(opening.access == opened.access for opening in again)


def test_a_change_made_through_the_service_is_seen_at_once(
    redis_client, django_capture_on_commit_callbacks
) -> None:
    user = upsert_dashboard_user(username="tess", role="department", departments=["ER"], password=None)[0]
    assert handshake_access(token(user.pk)).departments == frozenset({"ER"})
    with django_capture_on_commit_callbacks(execute=True):
        DashboardProfile.objects.get(user=user).departments.add(Department.objects.create(code="ICU"))
    assert handshake_access(token(user.pk)).departments == frozenset({"ER", "ICU"})


def test_a_change_written_behind_the_service_is_seen_within_fresh_s(monkeypatch) -> None:
    monkeypatch.setattr(access_cache, "FRESH_S", 0.3)
    user = upsert_dashboard_user(username="vic", role="viewer", departments=[], password=None)[0]
    assert isinstance(handshake_access(token(user.pk)), permissions.Access)
    DashboardProfile.objects.filter(user=user).update(role="department")  # no signal: another writer
    assert isinstance(handshake_access(token(user.pk)), permissions.Access)  # still the kept access
    time.sleep(0.35)
    assert handshake_access(token(user.pk)) == CloseCode.FORBIDDEN  # a department role without one


def test_a_refused_user_is_read_again_every_time() -> None:
    user = upsert_dashboard_user(username="cid", role="viewer", departments=[], password=None)[0]
    DashboardProfile.objects.filter(user=user).delete()
    for _ in range(3):
        with CaptureQueriesContext(connection) as queries:
            assert handshake_access(token(user.pk)) == CloseCode.FORBIDDEN
        assert len(queries) == 2  # the access, then whether the user exists


def test_the_ticker_read_is_kept_for_the_next_handshakes() -> None:
    user = upsert_dashboard_user(username="wall", role="viewer", departments=[], password=None)[0]
    access_cache.remember(permissions.load_accesses([user.pk]), time.monotonic())
    with CaptureQueriesContext(connection) as queries:
        assert isinstance(handshake_access(token(user.pk)), permissions.Access)
    assert len(queries) == 0

"""Loading a user's access: by user (page, API) and by id in one query (handshakes)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dashboard.access import permissions
from dashboard.access.users import upsert_dashboard_user
from dashboard.models import DashboardProfile, Department
from dashboard.protocol.close_codes import CloseCode
from dashboard.realtime.handshake import handshake_access
from dashboard.realtime.handshake_auth import HandshakeAuth

pytestmark = pytest.mark.django_db


def users() -> dict[str, Any]:
    made = {
        "admin": upsert_dashboard_user(username="ada", role="admin", departments=[], password=None)[0],
        "viewer": upsert_dashboard_user(username="vic", role="viewer", departments=[], password=None)[0],
        "two": upsert_dashboard_user(
            username="tess", role="department", departments=["ER", "ICU", "OLD"], password=None
        )[0],
        "closed": upsert_dashboard_user(
            username="cid", role="department", departments=["OLD"], password=None
        )[0],
    }
    Department.objects.filter(code="OLD").update(active=False)
    return made


def test_by_id_in_one_query_equals_by_user() -> None:
    for name, user in users().items():
        with CaptureQueriesContext(connection) as queries:
            by_id = permissions.load_access_by_id(user.pk)
        assert len(queries) == 1, name
        assert by_id == permissions.load_access(user), name


def test_by_id_reads_departments_roles_and_the_active_flags() -> None:
    made = users()
    two = permissions.load_access_by_id(made["two"].pk)
    assert two is not None
    assert two.departments == frozenset({"ER", "ICU"})
    # A department role whose only department is inactive has no access, like one with none.
    assert permissions.load_access_by_id(made["closed"].pk) is None
    admin = permissions.load_access_by_id(made["admin"].pk)
    assert admin is not None
    assert admin.role == "admin"
    assert admin.departments == frozenset()
    get_user_model().objects.filter(pk=made["admin"].pk).update(is_active=False)
    assert permissions.load_access_by_id(made["admin"].pk) is None


def test_handshake_tells_an_unknown_user_from_one_without_access() -> None:
    made = users()
    plain = get_user_model().objects.create_user("plain", password="pw-plain-12345")
    assert handshake_access(HandshakeAuth(method="jwt", user_id=plain.pk)) == CloseCode.FORBIDDEN
    assert handshake_access(HandshakeAuth(method="jwt", user_id=made["closed"].pk)) == CloseCode.FORBIDDEN
    DashboardProfile.objects.filter(user_id=made["viewer"].pk).delete()
    assert handshake_access(HandshakeAuth(method="jwt", user_id=made["viewer"].pk)) == CloseCode.FORBIDDEN
    # A valid token of a user deleted since: not authenticated.
    assert (
        handshake_access(HandshakeAuth(method="jwt", user_id=plain.pk + 1000)) == CloseCode.NOT_AUTHENTICATED
    )
    admin = handshake_access(HandshakeAuth(method="jwt", user_id=made["admin"].pk))
    assert isinstance(admin, permissions.Access)
    assert admin.username == "ada"


def test_only_admins_see_system_health() -> None:
    seen = {name: permissions.load_access(user) for name, user in users().items()}
    assert {name for name, access in seen.items() if access and access.sees_system_health} == {"admin"}

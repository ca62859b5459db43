"""Role management in Django admin: profile validation, the inline, a read-only access log."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.contrib.auth import get_user_model

from dashboard.admin import DashboardProfileForm
from dashboard.models import AccessLog, DashboardProfile, Department

pytestmark = pytest.mark.django_db


@pytest.fixture
def departments() -> list[Department]:
    return Department.objects.bulk_create(
        [Department(code="ER", name="Emergency"), Department(code="ICU", name="Intensive care")]
    )


@pytest.fixture
def staff_client(client):
    staff = get_user_model().objects.create_superuser("root", "root@example.org", "a-long-admin-password")
    client.force_login(staff)
    return client


@pytest.mark.parametrize(
    ("role", "codes", "valid"),
    [
        ("department", [], False),
        ("department", ["ER"], True),
        ("admin", [], True),
        ("admin", ["ER"], False),
        ("viewer", ["ICU"], False),
        ("viewer", [], True),
        ("superhero", [], False),
    ],
)
def test_profile_form_enforces_departments_per_role(
    departments, role: str, codes: list[str], valid: bool
) -> None:
    ids = [d.pk for d in departments if d.code in codes]
    form = DashboardProfileForm(data={"role": role, "departments": ids})
    assert form.is_valid() is valid, form.errors


def test_editing_a_user_shows_the_dashboard_access_inline(staff_client, departments) -> None:
    user = get_user_model().objects.create_user("erin", password="pw-erin-123456")
    DashboardProfile.objects.create(user=user, role="department").departments.add(departments[0])
    html = staff_client.get(f"/admin/auth/user/{user.pk}/change/").content.decode()
    assert "Dashboard profile" in html
    assert 'name="dashboard_profile-0-role"' in html


def test_departments_are_listed_with_code_name_and_active_flag(staff_client, departments) -> None:
    html = staff_client.get("/admin/dashboard/department/").content.decode()
    assert "Intensive care" in html
    assert "field-active" in html


def test_the_access_log_is_read_only_in_admin(staff_client) -> None:
    entry = AccessLog.objects.create(at=datetime.now(UTC), username="erin", action=AccessLog.Action.CONNECT)
    assert staff_client.get("/admin/dashboard/accesslog/").status_code == 200
    assert staff_client.get("/admin/dashboard/accesslog/add/").status_code == 403
    detail = staff_client.get(f"/admin/dashboard/accesslog/{entry.pk}/change/")
    assert detail.status_code == 200
    assert b'name="_save"' not in detail.content
    assert (
        staff_client.post(f"/admin/dashboard/accesslog/{entry.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    assert AccessLog.objects.filter(pk=entry.pk).exists()

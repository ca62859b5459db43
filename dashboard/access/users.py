"""Creating and updating dashboard users (contract §2), for the command and the demo."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import transaction

from dashboard.models import DashboardProfile, Department, Role, department_code_validator


def validate_role_departments(role: str, departments: Iterable[str]) -> list[str]:
    """The department codes, checked against the role; raises ValidationError."""
    codes = sorted(set(departments))
    if role not in Role.values:
        raise ValidationError(f"role must be one of {', '.join(Role.values)}")
    for code in codes:
        department_code_validator(code)
    if role == Role.DEPARTMENT and not codes:
        raise ValidationError("a department user needs at least one department")
    if role != Role.DEPARTMENT and codes:
        raise ValidationError("admins and viewers see every department; give them none")
    return codes


@transaction.atomic
def upsert_dashboard_user(
    *, username: str, role: str, departments: Iterable[str], password: str | None
) -> tuple[AbstractUser, bool]:
    """Create or update the user, its role and departments; returns (user, created).

    Department codes not seen before are created, named after their code.
    """
    codes = validate_role_departments(role, departments)
    user_model = get_user_model()
    user, created = user_model.objects.get_or_create(username=username)
    if password is not None:
        user.set_password(password)
    elif created:
        user.set_unusable_password()
    user.is_active = True
    user.save()
    profile, _ = DashboardProfile.objects.get_or_create(user=user)
    profile.role = role
    profile.save()
    profile.departments.set(
        [Department.objects.get_or_create(code=code, defaults={"name": code})[0] for code in codes]
    )
    return user, created

"""The one way in: every permission question is answered here (contract §2).

Consumers, DRF views and the page load an `Access` for the user and ask it; nothing else
looks at roles or department memberships.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from dashboard.models import DashboardProfile, Department, Role
from dashboard.protocol.errors import DashboardError, ErrorCode
from dashboard.protocol.scopes import HOSPITAL_SCOPE, InvalidScope, Scope, parse_scope


@dataclass(frozen=True)
class Access:
    user_id: int
    username: str
    role: str
    departments: frozenset[str]
    version: int

    @property
    def sees_revenue(self) -> bool:
        return self.role == Role.ADMIN

    def may_subscribe(self, scope: Scope) -> bool:
        if self.role in (Role.ADMIN, Role.VIEWER):
            return True
        return scope.department is not None and scope.department in self.departments

    def may_acknowledge(self, department: str) -> bool:
        if self.role == Role.ADMIN:
            return True
        return self.role == Role.DEPARTMENT and department in self.departments

    def may_see_department(self, department: str) -> bool:
        return self.role in (Role.ADMIN, Role.VIEWER) or department in self.departments

    def default_scopes(self) -> list[Scope]:
        if self.role in (Role.ADMIN, Role.VIEWER):
            return [HOSPITAL_SCOPE]
        return [Scope(code) for code in sorted(self.departments)]

    def user_summary(self) -> dict[str, Any]:
        return {"username": self.username, "role": self.role, "departments": sorted(self.departments)}


def load_access(user: AbstractBaseUser | AnonymousUser | None) -> Access | None:
    """The user's dashboard access, or None when the user may not use the dashboard at all.

    Inactive users and users without a dashboard profile have no access. Runs an ORM query:
    call it from synchronous code or through `database_sync_to_async`.
    """
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    return load_access_by_id(int(user.pk))


def load_access_by_id(user_id: int) -> Access | None:
    """As `load_access` for a user known by id, read afresh in one query.

    The profile joined with its user and its departments: one row per department (one row
    with no department when it has none). Every WebSocket handshake with a token or ticket
    runs this, and a reconnect storm runs thousands at once (docs/BENCHMARKS.md).
    """
    username = f"user__{get_user_model().USERNAME_FIELD}"
    rows = list(
        DashboardProfile.objects.filter(user_id=user_id, user__is_active=True).values_list(
            "role", "version", username, "departments__code", "departments__active"
        )
    )
    if not rows:
        return None
    role, version, name = rows[0][:3]
    departments = frozenset(code for *_, code, active in rows if code is not None and active)
    if role == Role.DEPARTMENT and not departments:
        return None
    return Access(user_id=user_id, username=str(name), role=role, departments=departments, version=version)


def known_scopes(access: Access) -> list[Scope]:
    """Every scope the user may subscribe to, for `hello.scopes` and the page's filter."""
    if access.role in (Role.ADMIN, Role.VIEWER):
        codes = Department.objects.filter(active=True).values_list("code", flat=True)
        return [HOSPITAL_SCOPE, *(Scope(code) for code in codes)]
    return access.default_scopes()


def scope_exists(scope: Scope) -> bool:
    return scope.department is None or Department.objects.filter(code=scope.department, active=True).exists()


def access_scope(access: Access, raw: object, *, known: Collection[Scope] = ()) -> Scope:
    """The scope `raw` names (a client's string, or a parsed Scope), if this user may read it.

    Raises DashboardError: `bad_request` for a malformed scope; `forbidden` for a scope the
    user may not read, and, for a department user, for a department that does not exist too,
    with the same message, so department codes cannot be enumerated; `unknown_scope` for an
    admin or viewer asking for a department that does not exist (or is inactive). Scopes in
    `known` (those the handshake listed) are not looked up again. Runs an ORM query for others.
    """
    try:
        scope = raw if isinstance(raw, Scope) else parse_scope(raw)
    except InvalidScope as exc:
        raise DashboardError(ErrorCode.BAD_REQUEST, str(exc)) from None
    if not access.may_subscribe(scope):
        raise DashboardError(ErrorCode.FORBIDDEN, f"you may not read {scope}")
    if scope not in known and not scope_exists(scope):
        raise DashboardError(ErrorCode.UNKNOWN_SCOPE, f"no such scope: {scope}")
    return scope

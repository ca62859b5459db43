"""The one way in: every permission question is answered here (contract §2).

Consumers, DRF views and the page load an `Access` for the user and ask it; nothing else
looks at roles or department memberships.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
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

    @property
    def sees_revenue(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def sees_system_health(self) -> bool:
        """Each web process's memory, CPU and connections (the system-health tile): admins only."""
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

    Every WebSocket handshake with a token or ticket runs this, and a reconnect storm runs
    thousands at once (docs/BENCHMARKS.md).
    """
    return load_accesses([user_id]).get(user_id)


def load_accesses(user_ids: Iterable[int]) -> dict[int, Access]:
    """The access of each of `user_ids` that has one, read afresh in one query.

    The profiles joined with their users and departments: one row per department (one row
    with no department when a profile has none). A user missing from the answer has no
    access (deleted, deactivated, no profile, or a department role without an active
    department). Each web process runs this over its connected users every few seconds, so
    open connections follow the database whatever wrote it.
    """
    username = f"user__{get_user_model().USERNAME_FIELD}"
    rows = DashboardProfile.objects.filter(user_id__in=set(user_ids), user__is_active=True).values_list(
        "user_id", "role", username, "departments__code", "departments__active"
    )
    found: dict[int, tuple[str, str, set[str]]] = {}
    for user_id, role, name, code, active in rows:
        _role, _name, departments = found.setdefault(user_id, (role, str(name), set()))
        if code is not None and active:
            departments.add(code)
    return {
        user_id: Access(user_id=user_id, username=name, role=role, departments=frozenset(departments))
        for user_id, (role, name, departments) in found.items()
        if role != Role.DEPARTMENT or departments
    }


def active_department_codes() -> list[str]:
    """The codes of the active departments (one query)."""
    return list(Department.objects.filter(active=True).values_list("code", flat=True))


def known_scopes(access: Access, department_codes: Iterable[str] | None = None) -> list[Scope]:
    """Every scope the user may subscribe to, for `hello.scopes` and the page's filter.

    `department_codes` are the active departments when already read; they are read here otherwise.
    """
    if access.role in (Role.ADMIN, Role.VIEWER):
        codes = active_department_codes() if department_codes is None else department_codes
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

"""Scopes (contract §2): `hospital` or `dept:<CODE>`, and the channel-layer groups behind them."""

from __future__ import annotations

from dataclasses import dataclass

from dashboard.sources.contract import (
    DEPARTMENT_CODE_MAX_CHARS,
    DEPARTMENT_CODE_RE,
    DEPARTMENT_CODE_RULE,
    is_department_code,
)

HOSPITAL = "hospital"
_DEPT_PREFIX = "dept:"
# What `parse_scope` accepts, as a regular expression for the protocol's JSON Schemas.
SCOPE_PATTERN = rf"^(?:{HOSPITAL}|{_DEPT_PREFIX}{DEPARTMENT_CODE_RE.pattern})$"


class InvalidScope(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Scope:
    """A parsed scope. `department` is None for the whole hospital."""

    department: str | None

    @property
    def name(self) -> str:
        return HOSPITAL if self.department is None else f"{_DEPT_PREFIX}{self.department}"

    @property
    def key(self) -> str:
        """A form safe in Redis keys and channel-layer group names (ASCII, no colon)."""
        return "hospital" if self.department is None else f"dept.{self.department}"

    def group(self, *, with_revenue: bool) -> str:
        """Group of one visibility class: messages are serialized once per group."""
        return f"dash.{self.key}.{'full' if with_revenue else 'basic'}"

    def __str__(self) -> str:
        return self.name


HOSPITAL_SCOPE = Scope(None)


def department_scope(code: str) -> Scope:
    if not is_department_code(code):
        raise InvalidScope(DEPARTMENT_CODE_RULE)
    return Scope(code)


def parse_scope(value: object) -> Scope:
    """Parse a client-supplied scope; raises InvalidScope with a message fit for the client."""
    if not isinstance(value, str) or len(value) > len(_DEPT_PREFIX) + DEPARTMENT_CODE_MAX_CHARS:
        raise InvalidScope("scope must be 'hospital' or 'dept:<CODE>'.")
    if value == HOSPITAL:
        return HOSPITAL_SCOPE
    if value.startswith(_DEPT_PREFIX):
        return department_scope(value[len(_DEPT_PREFIX) :])
    raise InvalidScope("scope must be 'hospital' or 'dept:<CODE>'.")

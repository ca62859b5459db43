"""Scopes (contract §2): `hospital` or `dept:<CODE>`, and the channel-layer groups behind them."""

from __future__ import annotations

import re
from dataclasses import dataclass

HOSPITAL = "hospital"
_DEPT_PREFIX = "dept:"
_DEPT_CODE = re.compile(r"[A-Z0-9_]{1,16}")


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
    if not isinstance(code, str) or not _DEPT_CODE.fullmatch(code):
        raise InvalidScope("A department code is 1 to 16 characters of A-Z, 0-9 and _.")
    return Scope(code)


def parse_scope(value: object) -> Scope:
    """Parse a client-supplied scope; raises InvalidScope with a message fit for the client."""
    if not isinstance(value, str) or len(value) > len(_DEPT_PREFIX) + 16:
        raise InvalidScope("scope must be 'hospital' or 'dept:<CODE>'.")
    if value == HOSPITAL:
        return HOSPITAL_SCOPE
    if value.startswith(_DEPT_PREFIX):
        return department_scope(value[len(_DEPT_PREFIX) :])
    raise InvalidScope("scope must be 'hospital' or 'dept:<CODE>'.")

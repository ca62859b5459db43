"""What the contract (§1) promises about the hospital's documents: the closed sets and the
department-code rule, written once for every reader (scopes, metrics, alerts, the watcher).
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

DEPARTMENT_CODE_MAX_CHARS = 16
# 1 to 16 characters of A-Z, 0-9 and _ (contract §1).
DEPARTMENT_CODE_RE = re.compile(rf"[A-Z0-9_]{{1,{DEPARTMENT_CODE_MAX_CHARS}}}")
DEPARTMENT_CODE_RULE = "A department code is 1 to 16 characters of A-Z, 0-9 and _."


def is_department_code(value: Any) -> bool:
    """True for a string that is a valid department code."""
    return isinstance(value, str) and DEPARTMENT_CODE_RE.fullmatch(value) is not None


class Severity(StrEnum):
    """`alerts.severity`."""

    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"


SEVERITIES: tuple[str, ...] = tuple(Severity)

"""The filter every metric query starts from: the scope's documents, then the metric's conditions."""

from __future__ import annotations

from typing import Any

from dashboard.sources.mongo_compat import conjunction


def scope_filter(department: str | None, **conditions: Any) -> dict[str, Any]:
    """Documents of one department, or of every department (`department` a string) when None."""
    scope = department if department is not None else {"$type": "string"}
    return conjunction({"department": scope, **conditions})

"""What each visibility class may see of a tier's data: only admins see revenue (contract §2)."""

from __future__ import annotations

from typing import Any


def redact(tier: str, data: dict[str, Any], *, with_revenue: bool) -> dict[str, Any]:
    """The tier's data as a client of this class may see it; never mutates `data`."""
    if with_revenue or tier == "critical":
        return data
    visible = {key: value for key, value in data.items() if key != "revenue"}
    if tier == "historical":
        if "daily" in visible:
            visible["daily"] = [
                {key: value for key, value in day.items() if key != "revenue"} for day in visible["daily"]
            ]
        if "comparisons" in visible:
            visible["comparisons"] = {k: v for k, v in visible["comparisons"].items() if k != "revenue"}
    return visible


def redact_snapshot(data: dict[str, Any], *, with_revenue: bool) -> dict[str, Any]:
    return {tier: redact(tier, tier_data, with_revenue=with_revenue) for tier, tier_data in data.items()}

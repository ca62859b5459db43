"""What the dashboard page shows, computed on the server: the page is useful before any script runs.

The same tile list drives the server-rendered HTML and, through data attributes, the page's
script, which updates the tiles in place from WebSocket messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dashboard.access import permissions
from dashboard.access.permissions import Access
from dashboard.alerts import listing
from dashboard.metrics.snapshots import snapshot_message
from dashboard.protocol.errors import DashboardError, Unavailable
from dashboard.protocol.scopes import Scope
from dashboard.protocol.tiers import TIERS, interval_s

PAGE_ALERT_LIMIT = 50


@dataclass(frozen=True)
class Tile:
    tier: str
    path: str  # dotted path inside the tier's data, e.g. "patients.emergency"
    label: str
    kind: str = "count"  # "count", "percent" or "money"
    admin_only: bool = False

    @property
    def key(self) -> str:
        return f"{self.tier}.{self.path}"


CRITICAL_TILES = (
    Tile("critical", "patients.total", "Patients in care"),
    Tile("critical", "patients.active", "Admitted"),
    Tile("critical", "patients.emergency", "Emergency patients"),
    Tile("critical", "patients.new_today", "New today"),
    Tile("critical", "patients.discharged_today", "Discharged today"),
    Tile("critical", "rooms.available", "Rooms available"),
    Tile("critical", "rooms.occupied", "Rooms occupied"),
    Tile("critical", "rooms.cleaning", "Rooms cleaning"),
    Tile("critical", "rooms.maintenance", "Rooms in maintenance"),
    Tile("critical", "rooms.beds_occupied", "Beds occupied"),
    Tile("critical", "rooms.beds_total", "Beds in service"),
    Tile("critical", "rooms.occupancy_rate", "Bed occupancy", kind="percent"),
    Tile("critical", "alerts.open", "Open alerts"),
    Tile("critical", "alerts.critical_open", "Open critical alerts"),
    Tile("critical", "staff.on_duty", "Staff on duty"),
    Tile("critical", "staff.active_15m", "Staff active (15 min)"),
)
STANDARD_TILES = (
    Tile("standard", "appointments.today", "Appointments today"),
    Tile("standard", "appointments.completed", "Completed"),
    Tile("standard", "appointments.cancelled", "Cancelled"),
    Tile("standard", "appointments.no_show", "No-shows"),
    Tile("standard", "appointments.completion_rate", "Completion rate", kind="percent"),
    Tile("standard", "revenue.today", "Revenue today", kind="money", admin_only=True),
    Tile("standard", "revenue.week", "Revenue this week", kind="money", admin_only=True),
    Tile("standard", "revenue.month", "Revenue this month", kind="money", admin_only=True),
)
DEPARTMENT_COLUMNS = (
    ("patients.total", "Patients"),
    ("patients.emergency", "Emergency"),
    ("rooms.available", "Rooms free"),
    ("rooms.occupancy_rate", "Occupancy"),
    ("alerts.open", "Open alerts"),
    ("staff.on_duty", "Staff on duty"),
)


def lookup(data: dict[str, Any], path: str) -> Any:
    value: Any = data
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def formatted(value: Any, kind: str) -> str:
    """The text a tile shows; the page's script formats live values the same way."""
    if value is None:
        return "\u2013"  # an en dash: no value yet
    if kind == "percent":
        return f"{100 * float(value):.0f}%"
    if kind == "money":
        return f"{float(value):,.2f}"
    return f"{int(value):,}"


def chosen_scope(access: Access, requested: str | None) -> tuple[Scope, str | None]:
    """The scope to show, and a notice when the requested one was refused or unknown."""
    defaults = access.default_scopes()
    if requested:
        try:
            return permissions.access_scope(access, requested), None
        except DashboardError:
            if defaults:
                return defaults[0], f"{requested[:40]} is not a scope you may view; showing {defaults[0]}."
    if not defaults:
        raise PermissionError("no scope to show")
    return defaults[0], None


def tiles_with_values(tiles: tuple[Tile, ...], data: dict[str, Any], access: Access) -> list[dict[str, Any]]:
    shown = [tile for tile in tiles if access.sees_revenue or not tile.admin_only]
    return [
        {
            "key": tile.key,
            "label": tile.label,
            "kind": tile.kind,
            "text": formatted(lookup(data.get(tile.tier, {}), tile.path), tile.kind),
        }
        for tile in shown
    ]


def department_rows(standard: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for row in standard.get("departments", []):
        cells = []
        for path, _label in DEPARTMENT_COLUMNS:
            kind = "percent" if path.endswith("_rate") else "count"
            cells.append(formatted(lookup(row, path), kind))
        rows.append({"department": row.get("department", ""), "cells": cells})
    return rows


def page_context(access: Access, requested_scope: str | None) -> dict[str, Any]:
    scope, notice = chosen_scope(access, requested_scope)
    snapshot = snapshot_message(scope, with_revenue=access.sees_revenue)
    data = snapshot["data"]
    try:
        open_alerts = listing.list_alerts(access, scope, "open", limit=PAGE_ALERT_LIMIT)
    except Unavailable:
        open_alerts = []
        notice = notice or "The hospital database is not answering: alerts cannot be listed right now."
    known = permissions.known_scopes(access)
    ack_departments = [s.department for s in known if s.department and access.may_acknowledge(s.department)]
    return {
        "scope": scope.name,
        "scopes": [s.name for s in known],
        "notice": notice,
        "sees_revenue": access.sees_revenue,
        "critical_tiles": tiles_with_values(CRITICAL_TILES, data, access),
        "standard_tiles": tiles_with_values(STANDARD_TILES, data, access),
        "department_columns": [label for _path, label in DEPARTMENT_COLUMNS],
        "department_rows": department_rows(data.get("standard", {})) if scope.department is None else [],
        "alerts": open_alerts,
        "snapshot": snapshot,
        "boot": {
            "scope": scope.name,
            "snapshot": snapshot,
            "alerts": open_alerts,
            "ack_departments": ack_departments,
            "department_paths": [path for path, _label in DEPARTMENT_COLUMNS],
            "intervals": {tier: interval_s(tier) for tier in TIERS},
        },
    }

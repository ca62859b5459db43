"""What the dashboard page shows, computed on the server: the page is useful before any script runs.

The same tile list drives the server-rendered HTML and, through data attributes, the page's
script, which updates the tiles in place from WebSocket messages.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from dashboard.access import permissions
from dashboard.access.permissions import Access
from dashboard.alerts import listing
from dashboard.metrics.snapshots import snapshot_message
from dashboard.protocol.errors import DashboardError, Unavailable
from dashboard.protocol.scopes import Scope
from dashboard.protocol.tiers import TIERS, interval_s
from dashboard.web import page_version

PAGE_ALERT_LIMIT = 50


@dataclass(frozen=True)
class Tile:
    tier: str
    path: str  # dotted path inside the tier's data, e.g. "patients.emergency"
    label: str
    kind: str = "count"  # "count", "percent", "money", "minutes", "hours" or "decimal"
    admin_only: bool = False
    wall: bool = False  # one of the few tiles wall mode shows, read from across the room

    @property
    def key(self) -> str:
        return f"{self.tier}.{self.path}"


CRITICAL_TILES = (
    Tile("critical", "patients.total", "Patients in care", wall=True),
    Tile("critical", "patients.active", "Admitted"),
    Tile("critical", "patients.emergency", "Emergency patients", wall=True),
    Tile("critical", "patients.new_today", "New today"),
    Tile("critical", "patients.discharged_today", "Discharged today"),
    Tile("critical", "rooms.available", "Rooms available", wall=True),
    Tile("critical", "rooms.occupied", "Rooms occupied"),
    Tile("critical", "rooms.cleaning", "Rooms cleaning"),
    Tile("critical", "rooms.maintenance", "Rooms in maintenance"),
    Tile("critical", "rooms.beds_occupied", "Beds occupied"),
    Tile("critical", "rooms.beds_total", "Beds in service"),
    Tile("critical", "rooms.occupancy_rate", "Bed occupancy", kind="percent", wall=True),
    Tile("critical", "alerts.open", "Open alerts"),
    Tile("critical", "alerts.critical_open", "Open critical alerts", wall=True),
    Tile("critical", "staff.on_duty", "Staff on duty", wall=True),
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
# Contract §8: optional measures; a tile shows a dash and "no data" while its key is absent.
FLOW_TILES = (
    Tile("critical", "flow.boarding", "ED boarding", wall=True),
    Tile("critical", "flow.boarding_longest_min", "Longest boarding", kind="minutes", wall=True),
    Tile("critical", "flow.boarding_median_min", "Median boarding", kind="minutes"),
    Tile("standard", "flow.los_avg_h_7d", "Length of stay (7 days)", kind="hours"),
    Tile("standard", "flow.discharges_before_noon_share", "Discharges before noon", kind="percent"),
    Tile("standard", "flow.bed_turnaround_median_min", "Bed turnaround (median)", kind="minutes"),
    Tile("standard", "flow.lwbs_today", "Left without being seen"),
    Tile("standard", "flow.lwbs_share", "Left without being seen, share", kind="percent"),
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
    if kind == "minutes":
        return duration_text(float(value))
    if kind == "hours":
        return f"{float(value):,.1f} h"
    if kind == "decimal":
        return f"{math.floor(float(value) * 10 + 0.5) / 10:.1f}".rstrip("0").rstrip(".")  # half up
    return f"{int(value):,}"


def duration_text(minutes: float) -> str:
    """Minutes as a person reads them: "45 min" below an hour, "2 h 5 min" from one hour."""
    whole = math.floor(minutes + 0.5)  # half up, as the script's Math.round
    if whole < 60:
        return f"{whole} min"
    return f"{whole // 60} h {whole % 60} min"


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
            "wall": tile.wall,
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


def hour_text(iso: Any) -> str:
    """An hour row's ISO 8601 start as the chart tables show it: "2026-11-30 05:00"."""
    return str(iso)[:16].replace("T", " ")


def chart_rows(historical: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The hourly and outlook rows for the charts' tables, hours as `hour_text`; absent keys
    give no rows (the outlook is contract §8's `historical.outlook`)."""
    hourly = historical.get("admissions_hourly") or []
    outlook = historical.get("outlook") or []
    return {
        "hourly": [{"hour": hour_text(row.get("hour")), "count": row.get("count")} for row in hourly],
        "outlook": [
            {
                "hour": hour_text(row.get("hour")),
                "cells": [
                    formatted(row.get(key), "decimal") for key in ("expected_occupied_beds", "low", "high")
                ],
            }
            for row in outlook
        ],
    }


def page_context(access: Access, requested_scope: str | None, *, wall: bool = False) -> dict[str, Any]:
    """The page's template context; `wall` selects wall mode (large type, no chrome, dark)."""
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
        "flow_tiles": tiles_with_values(FLOW_TILES, data, access),
        "wall": wall,
        "version": page_version.current(),
        "department_columns": [label for _path, label in DEPARTMENT_COLUMNS],
        "department_rows": department_rows(data.get("standard", {})) if scope.department is None else [],
        "alerts": open_alerts,
        "snapshot": snapshot,
        "chart_rows": chart_rows(data.get("historical", {})),
        "boot": {
            "scope": scope.name,
            "snapshot": snapshot,
            "alerts": open_alerts,
            "ack_departments": ack_departments,
            "department_paths": [path for path, _label in DEPARTMENT_COLUMNS],
            "intervals": {tier: interval_s(tier) for tier in TIERS},
            "wall": wall,
            "version": page_version.current(),
        },
    }

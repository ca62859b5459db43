"""The indexes the metric queries need, and nothing more (`manage.py ensure_indexes`).

Each serves a query in dashboard/metrics: named for the collection and its fields so a
rerun finds it and creates nothing.
"""

from __future__ import annotations

from pymongo import ASCENDING, IndexModel
from pymongo.database import Database


def _index(*fields: str) -> IndexModel:
    return IndexModel([(field, ASCENDING) for field in fields], name="dash_" + "_".join(fields))


INDEXES: dict[str, list[IndexModel]] = {
    # Current patients of a department (critical tier).
    "patients": [
        _index("department", "status"),
        # Admissions and discharges within a window (new_today, historical).
        _index("department", "admitted_at"),
        _index("department", "discharged_at"),
    ],
    "rooms": [_index("department", "status")],
    "appointments": [_index("department", "scheduled_at")],
    "staff": [_index("department", "on_duty")],
    "billing": [_index("department", "status", "paid_at")],
    # Open alerts of a department (critical tier, alert list).
    "alerts": [_index("department", "acknowledged_at"), _index("created_at")],
}


def ensure_indexes(db: Database) -> list[str]:
    """Create the indexes that are missing; returns every index name this service relies on."""
    names = []
    for collection, indexes in INDEXES.items():
        names += db[collection].create_indexes(indexes)
    return names

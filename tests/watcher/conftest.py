"""Fixtures of the watcher's in-process tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo.database import Database

from dashboard.models import Department


@pytest.fixture
def hospital(mongo_db: Database, redis_client: Any) -> Database:
    """A hospital with an ER department and one admitted emergency patient in it."""
    Department.objects.create(code="ER", name="Emergency")
    mongo_db.patients.insert_one(
        {"department": "ER", "status": "admitted", "is_emergency": True, "admitted_at": datetime.now(UTC)}
    )
    return mongo_db

"""Outages injected where the test stack cannot stop a shared server: a source nobody answers on."""

from __future__ import annotations

from pymongo import MongoClient

from dashboard.alerts import acknowledgement


def unreachable_mongo(monkeypatch) -> None:
    """MongoDB is down, as the acknowledgement sees it: nothing listens on port 1."""
    down = MongoClient("mongodb://127.0.0.1:1/?directConnection=true", serverSelectionTimeoutMS=300)
    monkeypatch.setattr(acknowledgement.mongo, "primary_db", lambda name=None: down.get_database("hospital"))

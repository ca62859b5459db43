"""The one place that opens MongoDB: a process-wide client and the hospital database."""

from __future__ import annotations

import functools
from datetime import UTC, datetime

from django.conf import settings
from pymongo import MongoClient, ReadPreference
from pymongo.database import Database
from pymongo.read_preferences import _ServerMode

# The six collections the hospital application writes (contract §1).
PATIENTS = "patients"
ROOMS = "rooms"
APPOINTMENTS = "appointments"
STAFF = "staff"
BILLING = "billing"
ALERTS = "alerts"
WATCHED_COLLECTIONS = (PATIENTS, ROOMS, APPOINTMENTS, STAFF, BILLING, ALERTS)

_READ_PREFERENCES: dict[str, _ServerMode] = {
    "primary": ReadPreference.PRIMARY,
    "primaryPreferred": ReadPreference.PRIMARY_PREFERRED,
    "secondary": ReadPreference.SECONDARY,
    "secondaryPreferred": ReadPreference.SECONDARY_PREFERRED,
    "nearest": ReadPreference.NEAREST,
}

SERVER_SELECTION_TIMEOUT_MS = 5000


def make_client(url: str, *, timeout_ms: int = SERVER_SELECTION_TIMEOUT_MS) -> MongoClient:
    return MongoClient(
        url,
        tz_aware=True,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
        appname="hospital-dash",
    )


@functools.cache
def client() -> MongoClient:
    return make_client(settings.MONGO_URL)


def hospital_db(name: str | None = None) -> Database:
    """The hospital database, read with MONGO_READ_PREFERENCE (metrics may lag a secondary)."""
    return client().get_database(
        name or settings.MONGO_DB,
        read_preference=_READ_PREFERENCES[settings.MONGO_READ_PREFERENCE],
    )


def primary_db(name: str | None = None) -> Database:
    """The hospital database on the primary, for the few writes and change streams."""
    return client().get_database(name or settings.MONGO_DB, read_preference=ReadPreference.PRIMARY)


def server_now(db: Database) -> datetime:
    """The time on MongoDB's clock (`hello`'s `localTime`, aware UTC, to the millisecond): the
    clock that times alerts against their `created_at` whatever this host's clock says (the
    acknowledgement's `$currentDate` is MongoDB's clock too). This host's clock when the server
    does not say. Raises what pymongo raises when MongoDB does not answer."""
    local_time = db.command("hello").get("localTime")
    if not isinstance(local_time, datetime):
        return datetime.now(UTC)
    return local_time if local_time.tzinfo is not None else local_time.replace(tzinfo=UTC)

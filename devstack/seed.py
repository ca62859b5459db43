"""Seeding a realistic demo hospital into MongoDB, in the contract's shapes (§1).

Idempotent: a database that already has patients is reused as it is.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pymongo.database import Database

from devstack.hospital_model import (
    ADMISSIONS_BY_HOUR,
    DEPARTMENTS,
    STAFF_ROLES,
    at_shaped_hour,
    new_alert,
    new_patient,
    price,
)

ROOMS_TOTAL = 300
# Nine weeks of admissions: the occupancy outlook reads the last 4 weeks' flows, and its error
# is measured over the 14 days before now (python manage.py outlook_error).
HISTORY_DAYS = 63
PATIENTS_TOTAL = 4200
# ER patients boarding now, besides those the history leaves boarding (THRESHOLD_BOARDING_COUNT
# is 10 by default: the simulator's boarders take the ER past it now and then).
BOARDING_NOW = 7
STAFF_PER_DEPARTMENT = 25
APPOINTMENTS_TOTAL = 4000
BILLS_TOTAL = 3000
ALERTS_TOTAL = 400
INSERT_BATCH = 500


@dataclass(frozen=True)
class SeedReport:
    reused: bool
    departments: int = 0
    rooms: int = 0
    patients: int = 0
    appointments: int = 0
    staff: int = 0
    billing: int = 0
    alerts: int = 0


def _insert(db: Database, collection: str, docs: list[dict[str, Any]]) -> int:
    for start in range(0, len(docs), INSERT_BATCH):
        db[collection].insert_many(docs[start : start + INSERT_BATCH], ordered=False)
    return len(docs)


def _rooms(rng: random.Random, now: datetime) -> list[dict[str, Any]]:
    rooms = []
    codes = [code for code, _name, _weight in DEPARTMENTS]
    for number in range(ROOMS_TOTAL):
        department = codes[number % len(codes)]
        beds = rng.choice((1, 1, 2, 2, 2, 4))
        status = rng.choices(("occupied", "available", "cleaning", "maintenance"), (60, 28, 8, 4))[0]
        occupied = rng.randint(1, beds) if status == "occupied" else 0
        rooms.append(
            {
                "department": department,
                "room_number": f"{department}-{100 + number}",
                "status": status,
                "beds": beds,
                "occupied_beds": occupied,
                "status_changed_at": now - timedelta(minutes=rng.randint(5, 600)),
            }
        )
    return rooms


def _boarder(rng: random.Random, now: datetime) -> dict[str, Any]:
    """An ER patient admitted in the last hours and waiting for an inpatient bed since."""
    admitted_at = now - timedelta(minutes=rng.randint(30, 420))
    patient = new_patient(rng, now=now, admitted_at=admitted_at, department="ER")
    since = admitted_at + timedelta(minutes=rng.randint(5, 25))
    patient.update(status="admitted", discharged_at=None, disposition=None, boarding_since=since)
    return patient


def _admission_time(rng: random.Random, now: datetime) -> datetime:
    """A moment of the last HISTORY_DAYS days, at an hour shaped like a hospital's day."""
    while True:
        day = now - timedelta(days=rng.randint(0, HISTORY_DAYS - 1))
        moment = at_shaped_hour(rng, day, ADMISSIONS_BY_HOUR)
        if moment <= now:
            return moment


def _appointments(rng: random.Random, now: datetime) -> list[dict[str, Any]]:
    docs = []
    weights = [weight for _code, _name, weight in DEPARTMENTS]
    codes = [code for code, _name, _weight in DEPARTMENTS]
    for _ in range(APPOINTMENTS_TOTAL):
        scheduled_at = now + timedelta(minutes=rng.randint(-30 * 24 * 60, 7 * 24 * 60))
        scheduled_at = scheduled_at.replace(minute=(scheduled_at.minute // 15) * 15, second=0, microsecond=0)
        if scheduled_at > now:
            status = "scheduled"
        elif now - scheduled_at < timedelta(hours=1):
            status = rng.choices(("scheduled", "checked_in", "completed"), (30, 40, 30))[0]
        else:
            status = rng.choices(("completed", "cancelled", "no_show"), (82, 11, 7))[0]
        docs.append(
            {
                "department": rng.choices(codes, weights)[0],
                "scheduled_at": scheduled_at,
                "status": status,
                "patient_name": f"Patient {rng.randint(1000, 99999)}",
            }
        )
    return docs


def _staff(rng: random.Random, now: datetime) -> list[dict[str, Any]]:
    docs = []
    for code, _name, _weight in DEPARTMENTS:
        for index in range(STAFF_PER_DEPARTMENT):
            on_duty = rng.random() < 0.45
            idle = timedelta(minutes=rng.randint(0, 12)) if on_duty else timedelta(hours=rng.randint(1, 40))
            docs.append(
                {
                    "department": code,
                    "name": f"{code.title()} staff {index + 1}",
                    "role": rng.choice(STAFF_ROLES),
                    "on_duty": on_duty,
                    "last_active_at": now - idle,
                }
            )
    return docs


def _billing(rng: random.Random, now: datetime) -> list[dict[str, Any]]:
    docs = []
    codes = [code for code, _name, _weight in DEPARTMENTS]
    weights = [weight for _code, _name, weight in DEPARTMENTS]
    for _ in range(BILLS_TOTAL):
        issued = now - timedelta(minutes=rng.randint(0, 30 * 24 * 60))
        status = rng.choices(("paid", "pending", "refunded"), (75, 20, 5))[0]
        paid_at = None if status == "pending" else min(now, issued + timedelta(hours=rng.randint(0, 72)))
        docs.append(
            {
                "department": rng.choices(codes, weights)[0],
                "amount": price(rng),
                "status": status,
                "issued_at": issued,
                "paid_at": paid_at,
            }
        )
    return docs


def _alerts(rng: random.Random, now: datetime) -> list[dict[str, Any]]:
    docs = []
    for _ in range(ALERTS_TOTAL):
        created_at = now - timedelta(minutes=rng.randint(1, 7 * 24 * 60))
        doc = new_alert(
            rng, created_at=created_at, severity=rng.choices(("critical", "warning", "info"), (15, 35, 50))[0]
        )
        if created_at < now - timedelta(hours=1) or rng.random() < 0.5:
            doc["acknowledged_at"] = created_at + timedelta(minutes=rng.randint(1, 50))
            doc["acknowledged_by"] = rng.choice(("admin", "er_lead", "charge_nurse"))
        docs.append(doc)
    return docs


def seed_hospital(db: Database, *, now: datetime, rng: random.Random) -> SeedReport:
    """Seed every collection unless the hospital already has patients."""
    if db.patients.find_one({}, {"_id": 1}) is not None:
        return SeedReport(reused=True)
    patients = [
        new_patient(rng, now=now, admitted_at=_admission_time(rng, now))
        for _ in range(PATIENTS_TOTAL - BOARDING_NOW)
    ]
    patients += [_boarder(rng, now) for _ in range(BOARDING_NOW)]
    return SeedReport(
        reused=False,
        departments=len(DEPARTMENTS),
        rooms=_insert(db, "rooms", _rooms(rng, now)),
        patients=_insert(db, "patients", patients),
        appointments=_insert(db, "appointments", _appointments(rng, now)),
        staff=_insert(db, "staff", _staff(rng, now)),
        billing=_insert(db, "billing", _billing(rng, now)),
        alerts=_insert(db, "alerts", _alerts(rng, now)),
    )

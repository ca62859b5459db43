"""A hospital day, simulated against MongoDB as the main application would write it.

Each `step()` is about one second of hospital life: admissions and discharges (busier by day,
per `hospital_model`'s day shape), ER patients boarding until they get a bed, room turnover
stamped with `status_changed_at`, patients leaving without being seen, appointments, payments,
staff activity, an emergency alert about every minute, and now and then a surge that fills a
department's beds past the occupancy threshold. Every write leaves documents valid per the
contract (§1, §8).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.database import Database

from devstack.hospital_model import (
    ADMISSIONS_BY_HOUR,
    BOARDING_SHARE,
    DISCHARGES_BY_HOUR,
    LWBS_SHARE,
    new_alert,
    new_patient,
    pick_department,
    price,
)

EMERGENCY_ALERT_EVERY_S = 60.0
STEP_S = 1.0
# Chance per step (about one second) of each kind of event.
P_ADMISSION = 0.15
P_DISCHARGE = 0.12
P_ROOM_TURNOVER = 0.1
P_APPOINTMENT = 0.25
P_NEW_APPOINTMENT = 0.05
P_PAYMENT = 0.15
P_REFUND = 0.01
P_STAFF_ACTIVITY = 0.4
P_SHIFT_CHANGE = 0.02
P_MINOR_ALERT = 0.02
P_BOARDING_END = 0.04
# About one surge every 15 minutes: a department's free beds filled at once.
P_SURGE = 1 / 900
SURGE_TARGET = 0.96
CANDIDATES = 25


def day_factor(weights: tuple[int, ...], now: datetime) -> float:
    """How busy this hour of the day is for `weights`, relative to the day's mean (UTC hours)."""
    return weights[now.hour] * len(weights) / sum(weights)


def utc_now() -> datetime:
    return datetime.now(UTC)


class HospitalSimulator:
    def __init__(self, db: Database, *, rng: random.Random, clock: Callable[[], datetime] = utc_now) -> None:
        self.db = db
        self.rng = rng
        self.clock = clock
        self.next_emergency_at: datetime | None = None

    def _set_with_dates(self, collection: str, doc: dict[str, Any], changes: dict[str, Any]) -> None:
        # Replaced whole: nx-27017 stores a date given to $set as a string (MONGODB_COMPATIBILITY.md).
        self.db[collection].replace_one({"_id": doc["_id"]}, {**doc, **changes})

    def _pick(self, collection: str, query: dict[str, Any]) -> dict[str, Any] | None:
        candidates = list(self.db[collection].find(query).limit(CANDIDATES))
        return self.rng.choice(candidates) if candidates else None

    def step(self) -> list[str]:
        now = self.clock()
        events: list[str] = []
        chance = self.rng.random
        if self.next_emergency_at is None:
            self.next_emergency_at = now + timedelta(seconds=self.rng.uniform(5, EMERGENCY_ALERT_EVERY_S))
        if now >= self.next_emergency_at:
            events.append(self.emergency(now))
            self.next_emergency_at = now + timedelta(
                seconds=EMERGENCY_ALERT_EVERY_S * self.rng.uniform(0.7, 1.3)
            )
        for probability, action in (
            (P_ADMISSION * day_factor(ADMISSIONS_BY_HOUR, now), self.admit),
            (P_DISCHARGE * day_factor(DISCHARGES_BY_HOUR, now), self.discharge),
            (P_BOARDING_END, self.end_boarding),
            (P_SURGE, self.surge),
            (P_ROOM_TURNOVER, self.turn_over_room),
            (P_APPOINTMENT, self.advance_appointment),
            (P_NEW_APPOINTMENT, self.book_appointment),
            (P_PAYMENT, self.take_payment),
            (P_REFUND, self.refund),
            (P_STAFF_ACTIVITY, self.staff_activity),
            (P_SHIFT_CHANGE, self.shift_change),
            (P_MINOR_ALERT, self.minor_alert),
        ):
            if chance() < probability:
                description = action(now)
                if description:
                    events.append(description)
        return events

    # --- patients and rooms ------------------------------------------------------------------
    def _set_room(self, room: dict[str, Any], now: datetime, **changes: Any) -> None:
        """Change a room, stamping `status_changed_at` when its status changes."""
        if changes.get("status", room["status"]) != room["status"]:
            changes["status_changed_at"] = now
        self._set_with_dates("rooms", room, changes)

    def _free_room(self, department: str) -> dict[str, Any] | None:
        return self._pick(
            "rooms",
            {
                "department": department,
                "status": {"$in": ["available", "occupied"]},
                "$expr": {"$lt": ["$occupied_beds", "$beds"]},
            },
        )

    def _occupy_bed(self, department: str, now: datetime) -> bool:
        room = self._free_room(department)
        if room is None:
            return False
        self._set_room(room, now, status="occupied", occupied_beds=room["occupied_beds"] + 1)
        return True

    def _free_bed(self, department: str, now: datetime) -> None:
        room = self._pick(
            "rooms", {"department": department, "status": "occupied", "occupied_beds": {"$gt": 0}}
        )
        if room is None:
            return
        if room["occupied_beds"] <= 1:
            self._set_room(room, now, status="cleaning", occupied_beds=0)
        else:
            self._set_room(room, now, occupied_beds=room["occupied_beds"] - 1)

    def admit(self, now: datetime, *, emergency: bool = False, department: str | None = None) -> str:
        department = "ER" if emergency else department
        patient = new_patient(self.rng, now=now, admitted_at=now, department=department)
        if emergency:
            patient["is_emergency"] = True
            patient["status"] = "admitted"
        if patient["department"] == "ER" and patient["status"] == "admitted":
            patient["boarding_since"] = now if self.rng.random() < BOARDING_SHARE else None
        self.db.patients.insert_one(patient)
        if patient["status"] == "admitted":
            self._occupy_bed(patient["department"], now)
        kind = f"emergency {patient['status']}" if patient["is_emergency"] else patient["status"]
        return f"{kind} patient in {patient['department']}"

    def discharge(self, now: datetime) -> str | None:
        patient = self._pick(
            "patients",
            {"status": {"$in": ["admitted", "outpatient"]}, "department": pick_department(self.rng)},
        )
        if patient is None:
            return None
        lwbs = (
            patient["status"] == "outpatient"
            and patient["department"] == "ER"
            and self.rng.random() < LWBS_SHARE
        )
        self._set_with_dates(
            "patients",
            patient,
            {
                "status": "discharged",
                "discharged_at": now,
                "boarding_since": None,
                "disposition": "lwbs" if lwbs else "home",
            },
        )
        if patient["status"] == "admitted":
            self._free_bed(patient["department"], now)
        return f"{'lwbs: ' if lwbs else ''}discharged a patient from {patient['department']}"

    def end_boarding(self, now: datetime) -> str | None:
        """A boarding ER patient gets an inpatient bed."""
        patient = self._pick(
            "patients", {"department": "ER", "status": "admitted", "boarding_since": {"$ne": None}}
        )
        if patient is None:
            return None
        self._set_with_dates("patients", patient, {"boarding_since": None})
        return "a boarding ER patient got a bed"

    def surge(self, now: datetime, department: str | None = None) -> str | None:
        """Fill the department's free beds (cleaning rooms made ready first) with new admissions
        until its occupancy passes SURGE_TARGET."""
        department = department or pick_department(self.rng)
        admitted = 0
        while self._occupancy(department) <= SURGE_TARGET:
            if self._free_room(department) is None:
                # Rooms waiting for cleaning are turned around first.
                cleaning = self._pick("rooms", {"department": department, "status": "cleaning"})
                if cleaning is None:
                    break
                self._set_room(cleaning, now, status="available")
                continue
            patient = new_patient(self.rng, now=now, admitted_at=now, department=department)
            patient.update(status="admitted", discharged_at=None, disposition=None)
            self.db.patients.insert_one(patient)
            self._occupy_bed(department, now)
            admitted += 1
        return f"surge: {admitted} admissions in {department}" if admitted else None

    def _occupancy(self, department: str) -> float:
        rooms = list(self.db.rooms.find({"department": department, "status": {"$ne": "maintenance"}}))
        beds = sum(room["beds"] for room in rooms)
        return sum(room["occupied_beds"] for room in rooms) / beds if beds else 0.0

    def turn_over_room(self, now: datetime) -> str | None:
        if self.rng.random() < 0.1:
            room = (
                self._pick("rooms", {"status": "maintenance"})
                if self.rng.random() < 0.5
                else self._pick("rooms", {"status": "available"})
            )
            if room is None:
                return None
            status = "available" if room["status"] == "maintenance" else "maintenance"
            self._set_room(room, now, status=status, occupied_beds=0)
            return f"room {room.get('room_number')} is now {status}"
        room = self._pick("rooms", {"status": "cleaning"})
        if room is None:
            return None
        self._set_room(room, now, status="available")
        return f"room {room.get('room_number')} cleaned"

    # --- appointments, billing, staff --------------------------------------------------------
    def advance_appointment(self, now: datetime) -> str | None:
        window = {"$gte": now - timedelta(hours=3), "$lte": now + timedelta(minutes=15)}
        appointment = self._pick(
            "appointments", {"scheduled_at": window, "status": {"$in": ["scheduled", "checked_in"]}}
        )
        if appointment is None:
            return None
        if appointment["status"] == "checked_in":
            status = "completed"
        else:
            status = self.rng.choices(("checked_in", "no_show", "cancelled"), (85, 8, 7))[0]
        self.db.appointments.update_one({"_id": appointment["_id"]}, {"$set": {"status": status}})
        return f"appointment in {appointment['department']} {status.replace('_', ' ')}"

    def book_appointment(self, now: datetime) -> str:
        scheduled_at = now + timedelta(minutes=self.rng.randint(15, 7 * 24 * 60))
        department = pick_department(self.rng)
        self.db.appointments.insert_one(
            {
                "department": department,
                "scheduled_at": scheduled_at,
                "status": "scheduled",
                "patient_name": f"Patient {self.rng.randint(1000, 99999)}",
            }
        )
        return f"appointment booked in {department}"

    def take_payment(self, now: datetime) -> str:
        bill = self._pick("billing", {"status": "pending"}) if self.rng.random() < 0.5 else None
        if bill is not None:
            self._set_with_dates("billing", bill, {"status": "paid", "paid_at": now})
            return f"payment of {bill['amount']:.2f} in {bill['department']}"
        department = pick_department(self.rng)
        amount = price(self.rng)
        self.db.billing.insert_one(
            {"department": department, "amount": amount, "status": "paid", "issued_at": now, "paid_at": now}
        )
        return f"payment of {amount:.2f} in {department}"

    def refund(self, now: datetime) -> str | None:
        bill = self._pick("billing", {"status": "paid", "paid_at": {"$gte": now - timedelta(days=7)}})
        if bill is None:
            return None
        self.db.billing.update_one({"_id": bill["_id"]}, {"$set": {"status": "refunded"}})
        return f"refund of {bill['amount']:.2f} in {bill['department']}"

    def staff_activity(self, now: datetime) -> str | None:
        member = self._pick("staff", {"on_duty": True, "department": pick_department(self.rng)})
        if member is None:
            return None
        self._set_with_dates("staff", member, {"last_active_at": now})
        return None

    def shift_change(self, now: datetime) -> str | None:
        member = self._pick("staff", {"department": pick_department(self.rng)})
        if member is None:
            return None
        on_duty = not member["on_duty"]
        self._set_with_dates("staff", member, {"on_duty": on_duty, "last_active_at": now})
        return f"{member['role']} in {member['department']} {'on' if on_duty else 'off'} duty"

    # --- alerts --------------------------------------------------------------------------------
    def emergency(self, now: datetime) -> str:
        self.admit(now, emergency=True)
        alert = new_alert(
            self.rng,
            created_at=now,
            severity="critical",
            department="ER" if self.rng.random() < 0.6 else None,
        )
        self.db.alerts.insert_one(alert)
        return f"critical alert: {alert['message']}"

    def minor_alert(self, now: datetime) -> str:
        alert = new_alert(self.rng, created_at=now, severity=self.rng.choice(("warning", "info")))
        self.db.alerts.insert_one(alert)
        return f"{alert['severity']} alert: {alert['message']}"


def run_simulation(
    db: Database,
    *,
    stop: threading.Event,
    rng: random.Random,
    interval_s: float = STEP_S,
    on_event: Callable[[str], None] | None = None,
) -> None:
    """Step the simulator every `interval_s` until `stop` is set."""
    simulator = HospitalSimulator(db, rng=rng)
    while not stop.wait(interval_s):
        for description in simulator.step():
            if on_event is not None:
                on_event(description)

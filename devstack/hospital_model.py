"""What a demo hospital is made of: departments, roles, and how one patient or alert looks."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

# (code, name, share of patients)
DEPARTMENTS = (
    ("ER", "Emergency", 22),
    ("ICU", "Intensive care", 6),
    ("CARD", "Cardiology", 12),
    ("ONC", "Oncology", 9),
    ("PED", "Paediatrics", 11),
    ("ORTH", "Orthopaedics", 10),
    ("NEURO", "Neurology", 8),
    ("MAT", "Maternity", 9),
    ("SURG", "Surgery", 9),
    ("RAD", "Radiology", 4),
)
DEPARTMENT_CODES = tuple(code for code, _name, _weight in DEPARTMENTS)
DEPARTMENT_WEIGHTS = tuple(weight for _code, _name, weight in DEPARTMENTS)
STAFF_ROLES = ("nurse", "nurse", "nurse", "physician", "physician", "technician", "porter", "admin")
ALERT_KINDS = {
    "critical": ("code_blue", "sepsis_risk", "cardiac_arrest", "rapid_response"),
    "warning": ("bed_shortage", "fall_risk", "medication_delay", "staffing_low"),
    "info": ("equipment_service", "transfer_requested", "lab_result_ready"),
}
EMERGENCY_SHARE = 0.12
OUTPATIENT_SHARE = 0.3
OUTPATIENT_VISIT = timedelta(hours=4)
MAX_STAY_DAYS = 12
# Admitted ER patients who wait for an inpatient bed (board), and for how long at most.
BOARDING_SHARE = 0.35
BOARDING_MAX = timedelta(hours=9)
# ER outpatients who leave without being seen.
LWBS_SHARE = 0.12
# The day's shape, by hour (UTC, the demo's time zone): admissions peak in the afternoon,
# discharges late in the morning.
ADMISSIONS_BY_HOUR = (2, 1, 1, 1, 1, 2, 3, 5, 7, 8, 9, 9, 9, 9, 9, 8, 8, 7, 6, 5, 4, 3, 3, 2)
DISCHARGES_BY_HOUR = (0, 0, 0, 0, 0, 0, 1, 2, 4, 7, 9, 10, 10, 9, 8, 7, 5, 3, 2, 1, 1, 1, 0, 0)


def pick_department(rng: random.Random) -> str:
    return rng.choices(DEPARTMENT_CODES, DEPARTMENT_WEIGHTS)[0]


def at_shaped_hour(rng: random.Random, day: datetime, weights: tuple[int, ...]) -> datetime:
    """A moment on the UTC day of `day`, at an hour drawn from `weights` (24 of them)."""
    hour = rng.choices(range(24), weights)[0]
    return day.replace(hour=hour, minute=rng.randint(0, 59), second=rng.randint(0, 59), microsecond=0)


def _discharge_time(rng: random.Random, admitted_at: datetime, stay: timedelta) -> datetime:
    """The end of an inpatient stay, moved to a discharge hour of its day unless that ends it too soon."""
    shaped = at_shaped_hour(rng, admitted_at + stay, DISCHARGES_BY_HOUR)
    return shaped if shaped > admitted_at + timedelta(hours=2) else admitted_at + stay


def new_patient(
    rng: random.Random, *, now: datetime, admitted_at: datetime, department: str | None = None
) -> dict[str, Any]:
    """A patient admitted at `admitted_at`, discharged by `now` if their stay is over.

    Admitted ER patients may board (`boarding_since`, null once they have a bed or left);
    discharged ER outpatients may have left without being seen (`disposition: "lwbs"`).
    """
    department = department or pick_department(rng)
    outpatient = rng.random() < OUTPATIENT_SHARE
    if outpatient:
        end = admitted_at + OUTPATIENT_VISIT * rng.uniform(0.3, 1.0)
    else:
        end = _discharge_time(rng, admitted_at, timedelta(days=rng.uniform(0.5, MAX_STAY_DAYS)))
    discharged_at = end if end <= now else None
    status = "outpatient" if outpatient else "admitted"
    if discharged_at is not None:
        status = "discharged"
    boarding_since = None
    if department == "ER" and status == "admitted" and rng.random() < BOARDING_SHARE:
        since = admitted_at + timedelta(minutes=rng.randint(10, 120))
        if since <= now and now - since < BOARDING_MAX:
            boarding_since = since
    disposition = None
    if status == "discharged":
        lwbs = outpatient and department == "ER" and rng.random() < LWBS_SHARE
        disposition = "lwbs" if lwbs else "home"
    return {
        "department": department,
        "name": f"Patient {rng.randint(10000, 99999)}",
        "status": status,
        "is_emergency": (department == "ER" and rng.random() < EMERGENCY_SHARE * 3)
        or rng.random() < EMERGENCY_SHARE / 3,
        "admitted_at": admitted_at,
        "discharged_at": discharged_at,
        "boarding_since": boarding_since,
        "disposition": disposition,
    }


def new_alert(
    rng: random.Random, *, created_at: datetime, severity: str, department: str | None = None
) -> dict[str, Any]:
    department = department or pick_department(rng)
    kind = rng.choice(ALERT_KINDS[severity])
    return {
        "department": department,
        "severity": severity,
        "kind": kind,
        "message": f"{kind.replace('_', ' ').capitalize()} in {department} room {rng.randint(100, 399)}",
        "created_at": created_at,
        "acknowledged_at": None,
        "acknowledged_by": None,
    }


def price(rng: random.Random) -> float:
    return round(rng.lognormvariate(5.5, 0.9), 2)

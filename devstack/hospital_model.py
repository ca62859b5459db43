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


def pick_department(rng: random.Random) -> str:
    return rng.choices(DEPARTMENT_CODES, DEPARTMENT_WEIGHTS)[0]


def new_patient(
    rng: random.Random, *, now: datetime, admitted_at: datetime, department: str | None = None
) -> dict[str, Any]:
    """A patient admitted at `admitted_at`, discharged by `now` if their stay is over."""
    department = department or pick_department(rng)
    outpatient = rng.random() < OUTPATIENT_SHARE
    stay = (
        OUTPATIENT_VISIT * rng.uniform(0.3, 1.0)
        if outpatient
        else timedelta(days=rng.uniform(0.5, MAX_STAY_DAYS))
    )
    discharged_at = admitted_at + stay if admitted_at + stay <= now else None
    status = "outpatient" if outpatient else "admitted"
    if discharged_at is not None:
        status = "discharged"
    return {
        "department": department,
        "name": f"Patient {rng.randint(10000, 99999)}",
        "status": status,
        "is_emergency": (department == "ER" and rng.random() < EMERGENCY_SHARE * 3)
        or rng.random() < EMERGENCY_SHARE / 3,
        "admitted_at": admitted_at,
        "discharged_at": discharged_at,
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

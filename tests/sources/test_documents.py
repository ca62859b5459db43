"""The one validation of source documents (dashboard/sources/documents.py), value by value."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from bson import Decimal128, Int64, ObjectId
from bson.datetime_ms import DatetimeMS

from dashboard.sources import documents, skipped
from dashboard.sources.documents import INVALID, MAX_AMOUNT, MAX_BEDS, check, read

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "exact"),
    [
        (12, Decimal(12)),
        (Int64(2**36), Decimal(2**36)),
        (0.1, Decimal("0.1")),
        (-5.25, Decimal("-5.25")),
        (Decimal128("1.10"), Decimal("1.10")),
        (Decimal128("0.000000000000000000000000000001"), Decimal("1E-30")),
        (Decimal128(str(MAX_AMOUNT)), MAX_AMOUNT),
    ],
)
def test_finite_numbers_are_exact_amounts(raw: Any, exact: Decimal) -> None:
    assert documents.amount(raw) == exact
    assert isinstance(documents.amount(raw), Decimal)


@pytest.mark.parametrize(
    "raw",
    [
        float("nan"),
        float("inf"),
        float("-inf"),
        Decimal128("NaN"),
        Decimal128("-NaN"),
        Decimal128("Infinity"),
        Decimal128("-Infinity"),
        Decimal128("1E+6144"),  # finite, but no float holds it
        1e300,
        Int64(2**62),
        True,
        "12.5",
        None,
        [1],
        {"$numberDecimal": "1"},
        Decimal("1"),  # never decoded from BSON: not a BSON number
    ],
)
def test_everything_else_is_no_amount(raw: Any) -> None:
    assert documents.amount(raw) is INVALID


@pytest.mark.parametrize(
    ("raw", "valid"),
    [
        (0, True),
        (4, True),
        (Int64(3), True),
        (MAX_BEDS, True),
        (MAX_BEDS + 1, False),
        (Int64(2**62), False),
        (2**40, False),
        (-1, False),
        (True, False),
        (2.0, False),
        ("2", False),
        (None, False),
    ],
)
def test_counts_are_ints_and_longs_within_bounds(raw: Any, valid: bool) -> None:
    result = documents.count(raw)
    assert (result is not INVALID) is valid
    if valid:
        assert type(result) is int
        assert result == raw


@pytest.mark.parametrize(
    ("raw", "valid"),
    [
        (NOW, True),
        (NOW.replace(tzinfo=None), True),  # naive is UTC
        (NOW.astimezone(timezone(timedelta(hours=-6))), True),
        (datetime(1, 1, 1, tzinfo=UTC), False),
        (datetime(1, 1, 2, 0, 0, tzinfo=UTC), True),
        (datetime(9999, 12, 31, tzinfo=UTC), False),
        (datetime(9999, 12, 30, 23, 59, tzinfo=UTC), True),
        (DatetimeMS(-(10**15)), False),  # outside years 1-9999, as lenient decoding gives it
        ("2026-11-28T12:00:00Z", False),
        (NOW.timestamp(), False),
        (None, False),
    ],
)
def test_dates_are_datetimes_every_time_zone_can_hold(raw: Any, valid: bool) -> None:
    result = documents.date(raw)
    assert (result is not INVALID) is valid
    if valid:
        assert result.tzinfo is UTC
        assert result == (raw if raw.tzinfo else raw.replace(tzinfo=UTC))


def test_closed_sets_booleans_departments_and_strings() -> None:
    patient = {
        "_id": 1,
        "department": "ER_2",
        "status": "admitted",
        "is_emergency": False,
        "admitted_at": NOW,
    }
    assert check("patients", patient).invalid == ()
    assert check("patients", patient).valid("discharged_at")  # absent: not yet discharged
    for field, bad in [
        ("department", "er"),
        ("department", "A" * 17),
        ("department", 7),
        ("status", "Admitted"),
        ("status", ["admitted"]),
        ("is_emergency", 1),
        ("is_emergency", "true"),
        ("is_emergency", None),
        ("admitted_at", None),
        ("discharged_at", "yesterday"),
    ]:
        checked = check("patients", {**patient, field: bad})
        assert checked.invalid == (field,), (field, bad)
        assert checked.get(field) is None
        assert not checked.valid(field)
    assert check("staff", {"department": "ER", "role": 3, "on_duty": True}).invalid == ("role",)
    assert check("alerts", {"department": "ER", "severity": "fatal"}, ["severity"]).invalid == ("severity",)


def test_every_collection_of_the_contract_has_rules_for_every_field_it_names() -> None:
    assert documents.FIELDS == {
        "patients": (
            "department",
            "status",
            "is_emergency",
            "admitted_at",
            "discharged_at",
            "boarding_since",
            "disposition",
        ),
        "rooms": ("department", "status", "beds", "occupied_beds", "status_changed_at"),
        "appointments": ("department", "scheduled_at", "status"),
        "staff": ("department", "role", "on_duty", "last_active_at"),
        "billing": ("department", "amount", "status", "paid_at"),
        "alerts": (
            "department",
            "severity",
            "kind",
            "message",
            "created_at",
            "acknowledged_at",
            "acknowledged_by",
        ),
    }


def test_occupied_beds_may_exceed_beds() -> None:
    room = {"department": "ER", "status": "occupied", "beds": 2, "occupied_beds": 3}
    assert check("rooms", room).invalid == ()


def test_read_counts_each_invalid_field_and_logs_the_id_once_per_reader(redis_client, caplog) -> None:
    bill = {"_id": ObjectId(), "department": "ER", "amount": float("nan"), "status": "paid", "paid_at": "x"}
    with caplog.at_level(logging.WARNING, logger="dashboard.sources.skipped"):
        for _ in range(3):
            checked = read("billing", bill, "standard")
            assert checked.invalid == ("amount", "paid_at")
        read("billing", bill, "historical", ["amount"])
    assert skipped.counts() == {("billing", "amount"): 4, ("billing", "paid_at"): 3}
    lines = [record.getMessage() for record in caplog.records]
    assert lines == [
        f"standard skipped billing document {bill['_id']}: invalid amount",
        f"standard skipped billing document {bill['_id']}: invalid paid_at",
        f"historical skipped billing document {bill['_id']}: invalid amount",
    ]
    assert "nan" not in " ".join(lines)

"""Source values the contract does not promise, through every tier computation and the snapshot.

What nx-27017 stores (Int64 and large integers, dates of year 1 and 9999, wrong types) is
stored for real; what it refuses (NaN, ±Infinity, Decimal128) is injected into `find` answers
(tests/support/injected.py). Real Redis and MongoDB wire server.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from bson import Decimal128, Int64
from pymongo.database import Database

from dashboard.alerts import thresholds
from dashboard.metrics import maintained, registry, runner
from dashboard.metrics.critical import compute_critical, critical_by_department
from dashboard.metrics.historical import compute_historical
from dashboard.metrics.snapshots import snapshot_message
from dashboard.metrics.standard import compute_standard
from dashboard.protocol import messages
from dashboard.protocol.scopes import HOSPITAL_SCOPE, Scope
from dashboard.protocol.tiers import Tier
from dashboard.sources import mongo, skipped
from dashboard.stream import publish, tier_cache
from tests.support.injected import Injecting, marker

pytestmark = pytest.mark.django_db

TZ = ZoneInfo("America/Chicago")
NOW = datetime(2026, 11, 28, 18, 0, tzinfo=UTC)  # noon in Chicago
TODAY = NOW - timedelta(hours=1)
YEAR_ONE = datetime(1, 1, 1, tzinfo=UTC)
YEAR_9999 = datetime(9999, 12, 31, 23, 59, tzinfo=UTC)
COMPUTE = (compute_critical, compute_standard, compute_historical)

# Amounts nx-27017 refuses to store, injected by marker: index -> value.
REFUSED = [
    float("nan"),
    float("inf"),
    float("-inf"),
    Decimal128("NaN"),
    Decimal128("Infinity"),
    Decimal128("-Infinity"),
    Decimal128("9.999999999999999999999999999999999E+6144"),
    Decimal128("1.10"),
    Decimal128("0.10"),
]


def bill(amount: Any, paid_at: Any = TODAY, department: Any = "ER", status: str = "paid") -> dict[str, Any]:
    return {"department": department, "amount": amount, "status": status, "paid_at": paid_at}


def every_tier(db: Any, department: str | None) -> dict[str, dict[str, Any]]:
    tiers = {fn.__name__: fn(db, department, now=NOW, tz=TZ) for fn in COMPUTE}
    messages.encode(tiers)  # raises ValueError for a non-finite number
    return tiers


def test_non_finite_and_decimal128_amounts_injected_into_every_tier(mongo_db: Database, redis_client) -> None:
    mongo_db.billing.insert_many(
        [bill(marker(index)) for index in range(len(REFUSED))] + [bill(0.1), bill(0.2), bill(Int64(3))]
    )
    db = Injecting(mongo_db, REFUSED)
    for department in ("ER", None):
        tiers = every_tier(db, department)
        # 1.10 + 0.10 (Decimal128, exact) + 0.1 + 0.2 (doubles as written) + 3 (long).
        assert tiers["compute_standard"]["revenue"] == {"today": 4.5, "week": 4.5, "month": 4.5}
        assert tiers["compute_historical"]["daily"][-1]["revenue"] == 4.5
    # 7 invalid amounts, read by the standard and the historical tier of 2 scopes.
    assert skipped.counts() == {("billing", "amount"): 7 * 2 * 2}


def test_revenue_sums_decimal128_exactly_and_rounds_half_even_to_cents(
    mongo_db: Database, redis_client
) -> None:
    values = [Decimal128("0.005"), Decimal128("0.01"), Decimal128("0.1")]
    mongo_db.billing.insert_many([bill(marker(0)), *(bill(marker(1)) for _ in range(3)), bill(marker(2))])
    revenue = compute_standard(Injecting(mongo_db, values), "ER", now=NOW, tz=TZ)["revenue"]
    # 0.005 + 3 * 0.01 + 0.1 = 0.135 exactly: half-even to 0.14 (a float sum gives 0.13499999...).
    assert revenue["today"] == 0.14


def test_longs_large_integers_and_bad_counts_in_rooms(mongo_db: Database, redis_client) -> None:
    def room(beds: Any, occupied: Any, department: Any = "ER") -> dict[str, Any]:
        return {"department": department, "status": "occupied", "beds": beds, "occupied_beds": occupied}

    mongo_db.rooms.insert_many(
        [
            room(Int64(4), Int64(2)),
            room(2, 3),  # more occupied than beds: allowed, the rate is clamped
            room(Int64(2**62), 1),  # beyond MAX_BEDS
            room(2**40, 0),
            room(-1, 0),
            room(True, 0),
            room(2.0, 1),
            room("2", 1),
            room(2, 1, department="er"),  # no department code: counts nowhere, not even in hospital
        ]
    )
    for department in ("ER", None):
        rooms = every_tier(mongo_db, department)["compute_critical"]["rooms"]
        assert rooms["occupied"] == 8
        assert (rooms["beds_total"], rooms["beds_occupied"], rooms["occupancy_rate"]) == (6, 5, 5 / 6)
    # The maintained counters read the same rooms the same way, and count each bad value.
    maintained.rebuild(mongo_db, TZ, ["rooms"])
    assert maintained.counts_by_department(NOW, TZ) == critical_by_department(mongo_db, None, now=NOW, tz=TZ)
    assert skipped.counts() == {
        ("rooms", "beds"): 6,
        ("rooms", "department"): 1,
    }


def test_dates_of_year_one_and_9999_in_every_dated_field(mongo_db: Database, redis_client, settings) -> None:
    settings.TIME_ZONE = "America/Chicago"
    for moment in (YEAR_ONE, YEAR_9999):
        mongo_db.patients.insert_one(
            {
                "department": "ER",
                "status": "discharged",
                "is_emergency": False,
                "admitted_at": moment,
                "discharged_at": moment,
            }
        )
        mongo_db.appointments.insert_one({"department": "ER", "scheduled_at": moment, "status": "completed"})
        mongo_db.staff.insert_one(
            {"department": "ER", "role": "rn", "on_duty": True, "last_active_at": moment}
        )
        mongo_db.billing.insert_one(bill(10, paid_at=moment))
    mongo_db.billing.insert_one(bill(10))
    for department in ("ER", None):
        tiers = every_tier(mongo_db, department)
        assert tiers["compute_standard"]["revenue"]["today"] == 10.0
        assert tiers["compute_critical"]["staff"] == {"on_duty": 2, "active_15m": 0}
    maintained.rebuild(mongo_db, TZ)
    assert skipped.counts() == {
        ("patients", "admitted_at"): 2,
        ("patients", "discharged_at"): 2,
        ("appointments", "scheduled_at"): 2,
        ("staff", "last_active_at"): 2,
        ("billing", "paid_at"): 2,
    }
    for scope in (HOSPITAL_SCOPE, Scope("ER")):
        snapshot_message(scope, with_revenue=True)


def test_a_snapshot_and_a_publication_of_a_scope_whose_bill_is_nan(
    mongo_db: Database, redis_client, monkeypatch, settings
) -> None:
    settings.TIME_ZONE = "UTC"
    mongo_db.billing.insert_many(
        [bill(marker(0), paid_at=datetime.now(UTC)), bill(12.5, paid_at=datetime.now(UTC))]
    )
    monkeypatch.setattr(mongo, "hospital_db", lambda name=None: Injecting(mongo_db, [float("nan")]))
    for scope in (HOSPITAL_SCOPE, Scope("ER")):
        runner.run_tier(scope, "standard")
        snapshot = snapshot_message(scope, with_revenue=True)
        assert snapshot["data"]["standard"]["revenue"]["today"] == 12.5
        assert json.loads(messages.encode(snapshot))["stale"] is False
        assert tier_cache.load_tiers(scope, ["standard"])["standard"]["revenue"]["today"] == 12.5
    assert skipped.counts()[("billing", "amount")] >= 2


def test_a_tier_that_cannot_be_encoded_is_never_cached_and_the_snapshot_serves_the_last_one(
    mongo_db: Database, redis_client, monkeypatch
) -> None:
    scope = Scope("ER")
    good = runner.compute_tier(scope, "standard")
    publish.publish_tier(scope, "standard", good)
    redis_client.delete(f"dash:tier:{scope.key}:standard")  # expired from the cache

    def not_finite(*_args: Any, **_kwargs: Any) -> dict[str, Any]:
        return {"revenue": {"today": float("nan")}}

    monkeypatch.setitem(registry.COMPUTE, Tier.STANDARD, not_finite)
    with pytest.raises(runner.UnencodableTier):
        runner.compute_tier(scope, "standard")
    snapshot = snapshot_message(scope, with_revenue=True)
    assert snapshot["stale"] is True
    assert snapshot["data"]["standard"] == good
    assert tier_cache.load_tiers(scope, ["standard"])["standard"] is None


def test_non_finite_and_out_of_range_values_in_the_patient_flow_fields(
    mongo_db: Database, redis_client, settings
) -> None:
    settings.THRESHOLD_BOARDING_COUNT = 0
    settings.THRESHOLD_BOARDING_HOURS = 1
    admitted = NOW - timedelta(hours=2)
    hostile = [float("nan"), float("inf"), Decimal128("NaN"), YEAR_ONE, YEAR_9999, "today", 7, "x" * 100_000]
    mongo_db.patients.insert_many(
        [
            {
                "department": "ER",
                "status": "admitted",
                "is_emergency": False,
                "admitted_at": admitted,
                "boarding_since": marker(index),
            }
            for index in range(len(hostile))
        ]
        + [
            {
                "department": "ER",
                "status": "discharged",
                "is_emergency": False,
                "admitted_at": admitted,
                "discharged_at": TODAY,
                "disposition": marker(index),
            }
            for index in range(len(hostile))
        ]
    )
    db = Injecting(mongo_db, hostile)
    for department in ("ER", None):
        tiers = every_tier(db, department)
        # YEAR_9999 is invalid (a day from the end of time); none of them is a boarding patient.
        assert tiers["compute_critical"]["flow"] == {
            "boarding": 0,
            "boarding_longest_min": 0,
            "boarding_median_min": 0,
        }
        flow = tiers["compute_standard"]["flow"]
        assert (flow["discharges_today"], flow["lwbs_today"], flow["los_avg_h_7d"]) == (8, 0, 1.0)
    assert thresholds.evaluate("ER", every_tier(db, "ER")["compute_critical"], now=NOW) == []
    assert mongo_db.alerts.count_documents({}) == 0


def test_booleans_and_dates_of_the_wrong_type_count_nowhere(mongo_db: Database, redis_client) -> None:
    # The poison documents of the fault matrix's row 12: MongoDB matches neither `1` nor "yes"
    # to `true`, nor a string to a date range; nx-27017 did (docs/MONGODB_COMPATIBILITY.md).
    recent = NOW - timedelta(minutes=1)
    mongo_db.staff.insert_many(
        [
            {"department": "ER", "role": "nurse", "on_duty": True, "last_active_at": recent},
            {"department": "ER", "role": "nurse", "on_duty": 1, "last_active_at": "now"},
            {"department": "ER", "role": "nurse", "on_duty": "true", "last_active_at": recent.isoformat()},
        ]
    )
    mongo_db.patients.insert_many(
        [
            {"department": "ER", "status": "admitted", "is_emergency": True, "admitted_at": TODAY},
            {"department": "ER", "status": "admitted", "is_emergency": 1, "admitted_at": TODAY.isoformat()},
            {"department": "ER", "status": "admitted", "is_emergency": "yes", "admitted_at": "today"},
            {"department": "ER", "status": "discharged", "discharged_at": TODAY.isoformat()},
        ]
    )
    mongo_db.appointments.insert_many(
        [
            {"department": "ER", "status": "scheduled", "scheduled_at": TODAY},
            {"department": "ER", "status": "scheduled", "scheduled_at": TODAY.isoformat()},
        ]
    )
    for department in ("ER", None):
        standard = compute_standard(mongo_db, department, now=NOW, tz=TZ)
        assert standard["appointments"]["today"] == 1, department
        critical = compute_critical(mongo_db, department, now=NOW, tz=TZ)
        assert critical["staff"] == {"on_duty": 1, "active_15m": 1}, department
        assert critical["patients"]["emergency"] == 1, department
        assert critical["patients"]["active"] == 3, department
        assert critical["patients"]["new_today"] == 1, department
        assert critical["patients"]["discharged_today"] == 0, department


def test_a_department_that_is_an_array_counts_nowhere(mongo_db: Database, redis_client) -> None:
    # `{"department": "ER"}` matches an array holding "ER": its group is no code, and must not
    # break the grouping (a list is no dictionary key).
    mongo_db.patients.insert_many(
        [
            {"department": "ER", "status": "admitted", "admitted_at": TODAY},
            {"department": ["ER"], "status": "admitted", "admitted_at": TODAY},
            {"department": ["ER", "ICU"], "status": "admitted", "admitted_at": TODAY},
        ]
    )
    mongo_db.rooms.insert_one({"department": ["ER"], "status": "occupied", "beds": 2, "occupied_beds": 1})
    for department in ("ER", None):
        critical = compute_critical(mongo_db, department, now=NOW, tz=TZ)
        assert critical["patients"]["active"] == 1, department
        assert critical["rooms"]["occupied"] == 0, department

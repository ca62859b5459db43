"""Property: documents with arbitrary BSON values in every contract field, through the watcher's
event path and every tier computation: nothing escapes, every invalid value is counted, and
the valid documents are counted exactly as a plain reference count says.

The reference below is written from contract §1 and docs/METRICS.md, not from
dashboard/sources/documents.py. The event path runs on the real Redis; the tiers on the real
MongoDB wire server, with the values it refuses to store injected (tests/support/injected.py).
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from bson import Decimal128, Int64, ObjectId
from bson.datetime_ms import DatetimeMS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pymongo.database import Database

from dashboard.metrics import maintained
from dashboard.metrics.critical import compute_critical
from dashboard.metrics.historical import compute_historical
from dashboard.metrics.standard import compute_standard
from dashboard.metrics.timewindows import Windows
from dashboard.protocol import messages
from dashboard.sources import skipped
from dashboard.watcher import actions
from dashboard.watcher.events import interpret
from tests.support.injected import Injecting, marker

TZ = ZoneInfo("America/Chicago")
NOW = datetime(2026, 11, 28, 18, 0, tzinfo=UTC)
WINDOWS = Windows.at(NOW, TZ)
ABSENT = object()

# --- arbitrary BSON values --------------------------------------------------------------------

near_now = st.integers(-2 * 86400, 86400).map(lambda s: NOW + timedelta(seconds=s))
any_value = st.one_of(
    st.none(),
    st.just(ABSENT),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.integers(-(2**63), 2**63 - 1).map(Int64),
    st.integers(-5, 20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["NaN", "-NaN", "Infinity", "-Infinity", "1E+6144", "0.10", "1.10", "-3"]).map(
        Decimal128
    ),
    st.decimals(min_value=-(10**13), max_value=10**13, places=3).map(lambda d: Decimal128(str(d))),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=4),
    near_now,
    st.sampled_from([datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 12, tzinfo=UTC)]),
    st.just(DatetimeMS(-(10**15))),
    st.builds(ObjectId),
    st.lists(st.integers(0, 3), max_size=2),
    st.just({"a": 1}),
)
code = st.sampled_from(["ER", "ICU"]) | st.sampled_from(["er", "A" * 17, "", "E R"]) | any_value


def field(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(good, good, any_value)


DOCUMENTS: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "patients": st.fixed_dictionaries(
        {
            "department": code,
            "status": field(st.sampled_from(["admitted", "outpatient", "discharged"])),
            "is_emergency": field(st.booleans()),
            "admitted_at": field(near_now),
            "discharged_at": field(st.none() | near_now),
        }
    ),
    "rooms": st.fixed_dictionaries(
        {
            "department": code,
            "status": field(st.sampled_from(["available", "occupied", "cleaning", "maintenance"])),
            "beds": field(st.integers(0, 6) | st.integers(0, 6).map(Int64)),
            "occupied_beds": field(st.integers(0, 6)),
        }
    ),
    "appointments": st.fixed_dictionaries(
        {
            "department": code,
            "scheduled_at": field(near_now),
            "status": field(
                st.sampled_from(["scheduled", "checked_in", "completed", "cancelled", "no_show"])
            ),
        }
    ),
    "staff": st.fixed_dictionaries(
        {
            "department": code,
            "role": field(st.just("nurse")),
            "on_duty": field(st.booleans()),
            "last_active_at": field(st.none() | near_now),
        }
    ),
    "billing": st.fixed_dictionaries(
        {
            "department": code,
            "amount": field(st.integers(0, 500) | st.floats(0, 500) | st.just(Decimal128("19.99"))),
            "status": field(st.sampled_from(["paid", "pending", "refunded"])),
            "paid_at": field(st.none() | near_now),
        }
    ),
    "alerts": st.fixed_dictionaries(
        {
            "department": code,
            "severity": field(st.sampled_from(["critical", "warning", "info"])),
            "kind": field(st.just("k")),
            "message": field(st.just("m")),
            "created_at": field(near_now),
            "acknowledged_at": field(st.none() | near_now),
            "acknowledged_by": field(st.none() | st.just("ada")),
        }
    ),
}
hospital = st.fixed_dictionaries({name: st.lists(docs, max_size=6) for name, docs in DOCUMENTS.items()})


def stored(doc: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in doc.items() if value is not ABSENT}


# --- the reference, from the contract ----------------------------------------------------------

EARLIEST, LATEST = datetime(1, 1, 2, tzinfo=UTC), datetime(9999, 12, 30, tzinfo=UTC)


def is_date(v: Any) -> bool:
    return isinstance(v, datetime) and EARLIEST <= v.astimezone(UTC) <= LATEST


def is_count(v: Any) -> bool:
    return type(v) in (int, Int64) and 0 <= v <= 10_000


def exact_amount(v: Any) -> Decimal | None:
    if type(v) in (int, Int64):
        exact = Decimal(v)
    elif type(v) is float and math.isfinite(v):
        exact = Decimal(repr(v))
    elif isinstance(v, Decimal128) and v.to_decimal().is_finite():
        exact = v.to_decimal()
    else:
        return None
    return exact if abs(exact) <= 10**12 else None


def one_of(*allowed: str) -> Any:
    return lambda v: isinstance(v, str) and v in allowed


def null_or(rule: Any) -> Any:
    return lambda v: v is None or v is ABSENT or rule(v)


VALID = {
    "department": lambda v: isinstance(v, str) and re.fullmatch(r"[A-Z0-9_]{1,16}", v) is not None,
    "patients.status": one_of("admitted", "outpatient", "discharged"),
    "rooms.status": one_of("available", "occupied", "cleaning", "maintenance"),
    "appointments.status": one_of("scheduled", "checked_in", "completed", "cancelled", "no_show"),
    "billing.status": one_of("paid", "pending", "refunded"),
    "severity": one_of("critical", "warning", "info"),
    "is_emergency": lambda v: type(v) is bool,
    "on_duty": lambda v: type(v) is bool,
    "beds": is_count,
    "occupied_beds": is_count,
    "amount": lambda v: exact_amount(v) is not None,
    "admitted_at": is_date,
    "scheduled_at": is_date,
    "created_at": is_date,
    "discharged_at": null_or(is_date),
    "paid_at": null_or(is_date),
    "last_active_at": null_or(is_date),
    "acknowledged_at": null_or(is_date),
    "acknowledged_by": null_or(lambda v: isinstance(v, str)),
    "role": lambda v: isinstance(v, str),
    "kind": lambda v: isinstance(v, str),
    "message": lambda v: isinstance(v, str),
}


def valid(collection: str, doc: dict[str, Any], name: str) -> bool:
    return bool(VALID.get(f"{collection}.{name}", VALID.get(name))(doc.get(name, ABSENT)))


def invalid_fields(collection: str, doc: dict[str, Any]) -> list[str]:
    return [name for name in DOCUMENTS_FIELDS[collection] if not valid(collection, doc, name)]


DOCUMENTS_FIELDS = {
    "patients": ("department", "status", "is_emergency", "admitted_at", "discharged_at"),
    "rooms": ("department", "status", "beds", "occupied_beds"),
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


def today(v: Any) -> bool:
    return is_date(v) and WINDOWS.day_start <= v < WINDOWS.day_end


def reference_counts(docs: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, dict[str, int]]]:
    """The critical counts per department, from valid values only (docs/METRICS.md)."""
    counts: dict[str, dict[str, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
    for collection, found in docs.items():
        for doc in found:
            if not valid(collection, doc, "department"):
                continue
            c = counts[doc["department"]]
            ok = lambda name, d=doc, col=collection: valid(col, d, name)  # noqa: E731
            status = doc.get("status") if "status" in doc and ok("status") else None
            if collection == "patients" and status is not None:
                c["patients"]["admitted"] += status == "admitted"
                c["patients"]["outpatient"] += status == "outpatient"
                c["patients"]["emergency"] += status != "discharged" and doc.get("is_emergency") is True
                c["patients"]["new_today"] += today(doc.get("admitted_at"))
                c["patients"]["discharged_today"] += status == "discharged" and today(
                    doc.get("discharged_at")
                )
            elif collection == "rooms" and status is not None:
                c["rooms"][status] += 1
                if status != "maintenance" and ok("beds") and ok("occupied_beds"):
                    c["rooms"]["beds_total"] += doc["beds"]
                    c["rooms"]["beds_occupied"] += doc["occupied_beds"]
            elif collection == "alerts" and ok("severity") and doc.get("acknowledged_at") in (None, ABSENT):
                c["alerts"]["open"] += 1
                c["alerts"]["critical_open"] += doc["severity"] == "critical"
            elif collection == "staff":
                c["staff"]["on_duty"] += doc.get("on_duty") is True
                active = doc.get("last_active_at")
                c["staff"]["active_15m"] += is_date(active) and active >= NOW - timedelta(minutes=15)
            else:
                c["patients"]["admitted"] += 0  # the department exists
    shape = maintained.counts_by_department(NOW, TZ, ["NONE"])["NONE"]
    return {
        code: {group: {name: groups[group][name] for name in names} for group, names in shape.items()}
        for code, groups in counts.items()
    }


def reference_invalid(docs: dict[str, list[dict[str, Any]]]) -> Counter[tuple[str, str]]:
    return Counter(
        (collection, name)
        for collection, found in docs.items()
        for doc in found
        for name in invalid_fields(collection, doc)
    )


def reference_revenue_today(bills: list[dict[str, Any]]) -> float:
    total = sum(
        (
            exact_amount(bill["amount"])
            for bill in bills
            if bill.get("status") == "paid"
            and all(valid("billing", bill, name) for name in ("department", "amount"))
            and today(bill.get("paid_at"))
        ),
        Decimal(0),
    )
    return float(total.quantize(Decimal("0.01")))


SETTINGS = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.mark.django_db
def test_any_values_through_the_event_path(redis_client: Any) -> None:
    @SETTINGS
    @given(hospital)
    def events(docs: dict[str, list[dict[str, Any]]]) -> None:
        redis_client.flushdb()
        for collection, found in docs.items():
            for doc in found:
                oid = ObjectId()
                event = {
                    "operationType": "insert",
                    "documentKey": {"_id": oid},
                    "fullDocument": {"_id": oid, **stored(doc)},
                }
                actions.maintain(interpret(collection, event), TZ)
        assert Counter(skipped.counts()) == reference_invalid(docs)
        expected = reference_counts(docs)
        assert maintained.counts_by_department(NOW, TZ, expected) == expected
        assert set(maintained.departments()) == set(expected)

    events()


REFUSED = (float, Decimal128, DatetimeMS)


@pytest.mark.django_db
def test_any_values_through_every_tier_computation(mongo_db: Database, redis_client: Any) -> None:
    @settings(SETTINGS, max_examples=15)
    @given(hospital)
    def tiers(docs: dict[str, list[dict[str, Any]]]) -> None:
        redis_client.flushdb()
        injected: list[Any] = []
        for collection, found in docs.items():
            mongo_db[collection].delete_many({})
            rows = []
            for doc in found:
                row = {}
                for name, value in stored(doc).items():
                    # nx-27017 refuses non-finite doubles and every Decimal128 and DatetimeMS.
                    refused = isinstance(value, REFUSED) and not (
                        type(value) is float and math.isfinite(value)
                    )
                    if refused:
                        injected.append(value)
                        value = marker(len(injected) - 1)
                    row[name] = value
                rows.append(row)
            if rows:
                mongo_db[collection].insert_many(rows)
        db = Injecting(mongo_db, injected)
        computed = {
            fn.__name__: fn(db, None, now=NOW, tz=TZ)
            for fn in (compute_critical, compute_standard, compute_historical)
        }
        messages.encode(computed)
        assert computed["compute_standard"]["revenue"]["today"] == reference_revenue_today(docs["billing"])
        expected = reference_counts(docs)
        rooms = computed["compute_critical"]["rooms"]
        for name in ("available", "occupied", "cleaning", "maintenance", "beds_total", "beds_occupied"):
            assert rooms[name] == sum(counts["rooms"][name] for counts in expected.values()), name
        appointments = [
            doc
            for doc in docs["appointments"]
            if all(valid("appointments", doc, name) for name in DOCUMENTS_FIELDS["appointments"])
            and today(doc["scheduled_at"])
        ]
        assert computed["compute_standard"]["appointments"]["today"] == len(appointments)
        bad_amounts_read = [
            bill
            for bill in docs["billing"]
            if bill.get("status") == "paid"
            and is_date(bill.get("paid_at"))
            and bill["paid_at"] < WINDOWS.day_end
            and isinstance(bill.get("department"), str)
            and not valid("billing", bill, "amount")
        ]
        # Read by the standard tier and by the historical tier.
        assert skipped.counts().get(("billing", "amount"), 0) == 2 * len(bad_amounts_read)

    tiers()

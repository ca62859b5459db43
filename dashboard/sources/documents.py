"""The one validation of the hospital's documents: what contract §1 (and §8) allows in each field.

Every reader of the six collections takes a document's fields through `check` (pure) or `read`
(which also counts and logs each invalid field through `dashboard.sources.skipped`), so a
value is valid or invalid in the same way for the maintained counters, the tier
computations, alerts and the API. A valid value comes out normalized:

- `department`: a department code (`contract.is_department_code`).
- closed sets (`status`, `severity`): one of the contract's strings.
- booleans (`is_emergency`, `on_duty`): exactly `true` or `false`; 1 and "true" are invalid.
- counts (`beds`, `occupied_beds`): a BSON int or long (`bson.Int64` included; a bool is
  not a count) from 0 to MAX_BEDS, as a plain `int`. `occupied_beds` may exceed `beds`
  (overflow stretchers are real); the occupancy rate is clamped instead.
- `amount`: a finite number (int, long, double or Decimal128) of at most MAX_AMOUNT in
  magnitude, as an exact `decimal.Decimal`: a Decimal128 as it is, a double as the decimal
  its shortest representation shows (0.1 is 0.1). NaN and ±Infinity, as double or
  Decimal128, are invalid.
- dates: a BSON date Python can place in every time zone (`date_range.localizable`), as an
  aware UTC `datetime`; a date within a day of year 1 or 9999, or one pymongo could only
  decode as `DatetimeMS`, is invalid.
- strings (`role`, `kind`, `message`, `acknowledged_by`, `disposition`): any `str`.

`discharged_at`, `paid_at`, `last_active_at`, `acknowledged_at` and `acknowledged_by` may also
be null or absent (a patient not yet discharged, a bill not yet paid, a member never active,
an alert not yet acknowledged); so may the optional patient-flow fields of contract §8,
`patients.boarding_since` (a date), `patients.disposition` (a string) and
`rooms.status_changed_at` (a date). Every other field is required.

One rule compares two fields (NOT_BEFORE): a patient's `boarding_since` before its valid
`admitted_at` is invalid.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final

from bson.decimal128 import Decimal128

from dashboard.sources import mongo, skipped
from dashboard.sources.contract import SEVERITIES, is_department_code
from dashboard.sources.date_range import localizable

# No room holds more beds than this; a larger count is a broken value, not a ward.
MAX_BEDS: Final = 10_000
# No single bill is larger than this (in the hospital's currency): sums stay finite and exact.
MAX_AMOUNT: Final = Decimal(10) ** 12

PATIENT_STATUSES: Final = ("admitted", "outpatient", "discharged")
ROOM_STATUSES: Final = ("available", "occupied", "cleaning", "maintenance")
APPOINTMENT_STATUSES: Final = ("scheduled", "checked_in", "completed", "cancelled", "no_show")
BILL_STATUSES: Final = ("paid", "pending", "refunded")


class _Invalid:
    """The result of a rule for a value the contract does not allow."""

    def __repr__(self) -> str:
        return "INVALID"


INVALID: Final = _Invalid()
# A rule: the raw BSON value (None when absent) -> its normalized value, or INVALID.
Rule = Callable[[Any], Any]


def department(value: Any) -> str | _Invalid:
    return value if is_department_code(value) else INVALID


def one_of(allowed: tuple[str, ...]) -> Rule:
    def rule(value: Any) -> str | _Invalid:
        return value if isinstance(value, str) and value in allowed else INVALID

    return rule


def boolean(value: Any) -> bool | _Invalid:
    return value if isinstance(value, bool) else INVALID


def count(value: Any) -> int | _Invalid:
    """A BSON int or long (Int64 is an int subclass; bool is not a count) in [0, MAX_BEDS]."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_BEDS:
        return int(value)
    return INVALID


def amount(value: Any) -> Decimal | _Invalid:
    """A finite number within ±MAX_AMOUNT, as an exact Decimal."""
    exact: Decimal
    if isinstance(value, bool):
        return INVALID
    if isinstance(value, int):
        exact = Decimal(int(value))
    elif isinstance(value, float):
        if not math.isfinite(value):
            return INVALID
        exact = Decimal(repr(value))
    elif isinstance(value, Decimal128):
        exact = value.to_decimal()
        if not exact.is_finite():
            return INVALID
    else:
        return INVALID
    return exact if abs(exact) <= MAX_AMOUNT else INVALID


def date(value: Any) -> datetime | _Invalid:
    """A datetime every time zone can hold, as an aware UTC datetime (naive is taken as UTC)."""
    if not isinstance(value, datetime) or not localizable(value):
        return INVALID
    return value.astimezone(UTC) if value.tzinfo is not None else value.replace(tzinfo=UTC)


def text(value: Any) -> str | _Invalid:
    return value if isinstance(value, str) else INVALID


def nullable(rule: Rule) -> Rule:
    """`rule`, but null (or absent) is allowed and stays None."""

    def either(value: Any) -> Any:
        return None if value is None else rule(value)

    return either


# Contract §1: each collection's fields the service relies on, with what each may hold.
RULES: Final[dict[str, dict[str, Rule]]] = {
    mongo.PATIENTS: {
        "department": department,
        "status": one_of(PATIENT_STATUSES),
        "is_emergency": boolean,
        "admitted_at": date,
        "discharged_at": nullable(date),
        "boarding_since": nullable(date),
        "disposition": nullable(text),
    },
    mongo.ROOMS: {
        "department": department,
        "status": one_of(ROOM_STATUSES),
        "beds": count,
        "occupied_beds": count,
        "status_changed_at": nullable(date),
    },
    mongo.APPOINTMENTS: {
        "department": department,
        "scheduled_at": date,
        "status": one_of(APPOINTMENT_STATUSES),
    },
    mongo.STAFF: {
        "department": department,
        "role": text,
        "on_duty": boolean,
        "last_active_at": nullable(date),
    },
    mongo.BILLING: {
        "department": department,
        "amount": amount,
        "status": one_of(BILL_STATUSES),
        "paid_at": nullable(date),
    },
    mongo.ALERTS: {
        "department": department,
        "severity": one_of(SEVERITIES),
        "kind": text,
        "message": text,
        "created_at": date,
        "acknowledged_at": nullable(date),
        "acknowledged_by": nullable(text),
    },
}
# A date that may not precede another date of the same document: (collection, field) -> the
# earlier field. A patient waits for an inpatient bed from admission on, so a `boarding_since`
# before `admitted_at` (a year-1 date, a clock gone back) is invalid; were it valid, it would
# be a boarding time of centuries and raise a threshold alert. When the earlier field is itself
# invalid or absent, nothing is compared.
NOT_BEFORE: Final[dict[tuple[str, str], str]] = {(mongo.PATIENTS, "boarding_since"): "admitted_at"}
# Every field of §1 per collection, for projections.
FIELDS: Final[dict[str, tuple[str, ...]]] = {collection: tuple(rules) for collection, rules in RULES.items()}


@dataclass(frozen=True)
class Checked:
    """The fields of one document a reader relies on, after validation.

    `values` holds each valid field normalized (None for an allowed null or absence);
    `invalid` names the fields that are not valid, in the order checked; `doc_id` is the
    document's `_id` (None when it has none).
    """

    collection: str
    doc_id: Any
    values: Mapping[str, Any]
    invalid: tuple[str, ...]

    def get(self, field: str) -> Any:
        """The field's normalized value; None when it is null, absent or invalid."""
        return self.values.get(field)

    def valid(self, field: str) -> bool:
        """True when `field` was checked and is valid (null included, where null is allowed)."""
        return field in self.values


def check(collection: str, doc: Mapping[str, Any], fields: Iterable[str] | None = None) -> Checked:
    """`doc`'s `fields` (default: every §1 field of `collection`) checked against RULES.

    Pure; never raises for any value. KeyError for an unknown collection or field.
    """
    rules = RULES[collection]
    values: dict[str, Any] = {}
    invalid: list[str] = []
    for field in fields if fields is not None else rules:
        normalized = rules[field](doc.get(field))
        if normalized is INVALID or _before_its_earlier_field(collection, field, normalized, doc):
            invalid.append(field)
        else:
            values[field] = normalized
    return Checked(collection, doc.get("_id"), values, tuple(invalid))


def _before_its_earlier_field(collection: str, field: str, normalized: Any, doc: Mapping[str, Any]) -> bool:
    """True when NOT_BEFORE names an earlier field for `field`, and both dates are valid and
    `field`'s comes first (the earlier field is checked here whether or not it was asked for)."""
    earlier_field = NOT_BEFORE.get((collection, field))
    if earlier_field is None or not isinstance(normalized, datetime):
        return False
    earlier = RULES[collection][earlier_field](doc.get(earlier_field))
    return isinstance(earlier, datetime) and normalized < earlier


def read(collection: str, doc: Mapping[str, Any], where: str, fields: Iterable[str] | None = None) -> Checked:
    """`check`, then each invalid field counted and logged by `skipped.record` as read by `where`."""
    checked = check(collection, doc, fields)
    for field in checked.invalid:
        skipped.record(collection, field, checked.doc_id, where)
    return checked

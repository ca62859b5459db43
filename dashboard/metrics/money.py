"""Sums of money: exact decimal sums of bill amounts, rounded to cents only when shown.

Amounts arrive as exact `Decimal`s from `dashboard.sources.documents.amount` (at most 10^12
each, finite). They are added in a context wide enough that no sum of them is ever rounded
at or above a cent, and shown as a JSON number (a float) rounded half-even to cents.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_EVEN, Context, Decimal

# 60 significant digits: a sum of up to 10^20 bills of 10^12 each keeps 28 places after the point.
_EXACT = Context(prec=60)
CENT = Decimal("0.01")


def total(amounts: Iterable[Decimal]) -> Decimal:
    """The sum of `amounts` (Decimal 0 for none)."""
    result = Decimal(0)
    for amount in amounts:
        result = _EXACT.add(result, amount)
    return result


def shown(amount: Decimal) -> float:
    """`amount` rounded half-even to cents, as the float the tiers carry (always finite)."""
    return float(amount.quantize(CENT, rounding=ROUND_HALF_EVEN, context=_EXACT))

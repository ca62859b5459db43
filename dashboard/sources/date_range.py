"""Which BSON dates Python can place in a local calendar.

MongoDB stores dates from about 292 million years BC to AD; pymongo decodes those within
years 1-9999 as `datetime`. An instant within a day of either end (0001-01-01, 9999-12-31)
cannot be moved to every time zone: `astimezone` raises OverflowError. Such a date is not a
date the hospital means (contract §1, §8: outside what the contract allows), so it is taken
as absent rather than allowed to stop the service.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

# No UTC offset reaches a whole day, so an instant this far from both ends converts anywhere.
_SAFE_MARGIN = timedelta(days=1)
EARLIEST_LOCALIZABLE = datetime.min.replace(tzinfo=UTC) + _SAFE_MARGIN
LATEST_LOCALIZABLE = datetime.max.replace(tzinfo=UTC) - _SAFE_MARGIN


def localizable(instant: datetime) -> bool:
    """True when `instant` (aware; naive is taken as UTC) converts to every time zone.

    False for instants within a day of 0001-01-01 or 9999-12-31, whose conversion to some
    zone raises OverflowError. Never raises.
    """
    aware = instant if instant.tzinfo is not None else instant.replace(tzinfo=UTC)
    return EARLIEST_LOCALIZABLE <= aware <= LATEST_LOCALIZABLE

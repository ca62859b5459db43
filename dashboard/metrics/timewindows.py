"""Calendar boundaries in the hospital's time zone, as UTC instants for queries.

A local day is midnight to midnight in TIME_ZONE, so it lasts 23 or 25 hours across a DST
change; weeks start on Monday (ISO); months on the 1st.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


@dataclass(frozen=True)
class Windows:
    now: datetime
    today: date
    day_start: datetime
    day_end: datetime
    yesterday_start: datetime
    week_start: datetime
    month_start: datetime

    @classmethod
    def at(cls, now: datetime, tz: ZoneInfo) -> Windows:
        today = now.astimezone(tz).date()
        month_first = today.replace(day=1)
        return cls(
            now=now,
            today=today,
            day_start=local_midnight(today, tz),
            day_end=local_midnight(today + timedelta(days=1), tz),
            yesterday_start=local_midnight(today - timedelta(days=1), tz),
            week_start=local_midnight(today - timedelta(days=today.weekday()), tz),
            month_start=local_midnight(month_first, tz),
        )

"""`python manage.py outlook_error [--days 14]`: the occupancy outlook's mean absolute error.

Replays the outlook (dashboard/metrics/outlook.py) at every hour of the last `--days` days of
the hospital's data and prints its mean absolute error in beds, for the hospital and each
department, next to that of "occupied beds stay as they are". docs/METRICS.md "Outlook"
quotes the figure for the demo's seeded history.
"""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from pymongo.errors import PyMongoError

from dashboard.metrics.outlook import backtest
from dashboard.models import Department
from dashboard.sources import mongo
from dashboard.sources.url_redaction import redact


def _shown(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


class Command(BaseCommand):
    help = "Print the occupancy outlook's mean absolute error (beds) over the last days of data."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=14, help="days to replay (default 14)")
        parser.add_argument(
            "--departments", default="", help="comma-separated codes (default: every active department)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["days"]
        if not 1 <= days <= 90:
            raise CommandError("--days must be between 1 and 90")
        codes = [code for code in options["departments"].split(",") if code] or list(
            Department.objects.filter(active=True).order_by("code").values_list("code", flat=True)
        )
        tz = zoneinfo.ZoneInfo(settings.TIME_ZONE)
        now = datetime.now(UTC)
        db = mongo.primary_db()
        self.stdout.write(
            f"scope      origins  mae  mae_h1  mae_h2  mae_h3  mae_h4  baseline_mae  (beds, {days} days)"
        )
        try:
            for label, department in [("hospital", None), *((code, code) for code in codes)]:
                result = backtest(db, department, now=now, tz=tz, days=days)
                by_hour = "  ".join(f"{_shown(value):>6}" for value in result.mae_by_horizon)
                baseline = _shown(result.baseline_mae)
                self.stdout.write(
                    f"{label:<9} {result.origins:>8}  {_shown(result.mae)}  {by_hour}  {baseline:>12}"
                )
        except PyMongoError as exc:
            raise CommandError(f"cannot read MongoDB at {redact(settings.MONGO_URL)}: {exc}") from None

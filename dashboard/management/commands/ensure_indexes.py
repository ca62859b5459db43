"""`python manage.py ensure_indexes`: create the indexes the metric queries need (idempotent)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from pymongo.errors import PyMongoError

from dashboard.metrics.indexes import ensure_indexes
from dashboard.sources import mongo
from dashboard.sources.url_redaction import redact


class Command(BaseCommand):
    help = "Create the MongoDB indexes the dashboard's queries need; safe to run again."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            names = ensure_indexes(mongo.primary_db())
        except PyMongoError as exc:
            raise CommandError(
                f"cannot create indexes on MongoDB at {redact(settings.MONGO_URL)}: {exc}"
            ) from None
        for name in names:
            self.stdout.write(name)

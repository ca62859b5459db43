"""`python manage.py watch_changes`: MongoDB change streams → dashboard updates and alerts."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from dashboard import mongo
from dashboard.preflight import require_sources
from dashboard.watcher.loop import Watcher

logger = logging.getLogger("dashboard.watcher")


class Command(BaseCommand):
    help = "Watch the hospital's MongoDB collections and push live updates and alerts."

    def handle(self, *args: Any, **options: Any) -> None:
        require_sources("watcher")
        stop = threading.Event()

        def request_stop(signum: int, _frame: FrameType | None) -> None:
            logger.info("signal %s received; stopping after the current batch", signum)
            stop.set()

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        watcher = Watcher(mongo.primary_db(), coalesce_s=settings.WATCH_COALESCE_MS / 1000, stop=stop)
        logger.info("watching %s on %s", ", ".join(mongo.WATCHED_COLLECTIONS), settings.MONGO_DB)
        watcher.run()
        logger.info("stopped after %d events", watcher.processed)

"""`python manage.py watch_changes`: MongoDB change streams → dashboard updates and alerts.

Several may run: one holds the lease in Redis and is active, the others stand by.
"""

from __future__ import annotations

import atexit
import logging
import signal
import sys
import threading
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from dashboard.sources import mongo
from dashboard.sources.preflight import require_sources
from dashboard.telemetry import exposition, process_stats
from dashboard.watcher.loop import run_watcher

logger = logging.getLogger("dashboard.watcher")


class Command(BaseCommand):
    help = "Watch the hospital's MongoDB collections and push live updates and alerts."

    def handle(self, *args: Any, **options: Any) -> None:
        require_sources("watcher")
        # Its memory and CPU on /metrics; its live gauges leave the sums when it ends.
        process_stats.start_sampler("watcher")
        atexit.register(exposition.mark_dead)
        stop = threading.Event()

        def request_stop(signum: int, _frame: FrameType | None) -> None:
            logger.info("signal %s received; stopping after the current batch", signum)
            stop.set()

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        logger.info("watching %s in database %s", ", ".join(mongo.WATCHED_COLLECTIONS), settings.MONGO_DB)
        code = run_watcher(mongo.primary_db(), stop)
        logger.info("watcher stopped")
        if code:
            sys.exit(code)

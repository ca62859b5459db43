"""A web process's reporter for the admins' system-health tile: every
web_health.REPORT_EVERY_S, its resident memory, CPU use and open WebSockets go to Redis.

Runs in a daemon thread of the web process (started by `hospital_dash/web.py`), so a busy or
blocked event loop does not stop the report, and Redis being down only skips reports (one
warning per outage).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time

from dashboard.realtime import ticker
from dashboard.sources import service_clock, web_health
from dashboard.telemetry import process_stats

logger = logging.getLogger(__name__)


class Reporter:
    """Builds this process's reports; `cpu_percent` is the CPU time used between two reports
    over the wall time between them (100 = one core busy)."""

    def __init__(self, server: str) -> None:
        self.server = server
        self._last_cpu_s = process_stats.read().cpu_s
        self._last_at = time.monotonic()

    def build(self) -> web_health.WebHealth:
        sample = process_stats.read()
        now = time.monotonic()
        elapsed = now - self._last_at
        cpu_percent = 100 * (sample.cpu_s - self._last_cpu_s) / elapsed if elapsed > 0 else 0.0
        self._last_cpu_s, self._last_at = sample.cpu_s, now
        return web_health.WebHealth(
            server=self.server,
            pid=os.getpid(),
            resident_bytes=sample.resident_bytes,
            cpu_percent=round(max(0.0, cpu_percent), 1),
            connections=ticker.count(),
            reported_at=service_clock.time_s(),
        )


def server_name(port: int) -> str:
    """`hostname:port`, as dash_ws_connections' `server` label names the same process."""
    return f"{socket.gethostname()}:{port}"


def start(port: int) -> None:
    """Report now and every REPORT_EVERY_S from a daemon thread, as the web process on `port`."""
    reporter = Reporter(server_name(port))

    def loop() -> None:
        failing = False
        while True:
            try:
                web_health.report(reporter.build())
            except Exception as exc:
                if not failing:
                    logger.warning("could not report this web process's health: %s", exc.__class__.__name__)
                failing = True
            else:
                if failing:
                    logger.info("reporting this web process's health again")
                failing = False
            time.sleep(web_health.REPORT_EVERY_S)

    threading.Thread(target=loop, name="health-report", daemon=True).start()

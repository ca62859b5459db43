"""A web process's health report: its own pid, memory, CPU use since the last report and open
connections, from /proc and the connection ticker."""

from __future__ import annotations

import os
import socket
import time

from dashboard.realtime import health_report, ticker
from dashboard.telemetry import process_stats


def test_a_report_holds_this_process_figures() -> None:
    reporter = health_report.Reporter(health_report.server_name(8123))
    start = process_stats.read().cpu_s
    while process_stats.read().cpu_s - start < 0.2:
        sum(range(10_000))
    report = reporter.build()
    assert report.server == f"{socket.gethostname()}:8123"
    assert report.pid == os.getpid()
    assert report.resident_bytes > 10_000_000
    assert report.cpu_percent > 0
    assert report.connections == ticker.count()
    assert abs(report.reported_at - time.time()) < 5
    # The next one counts only the CPU used since this one.
    assert reporter.build().cpu_percent < report.cpu_percent

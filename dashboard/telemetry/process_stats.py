"""This process's resident memory, CPU time and open file descriptors, read from /proc.

prometheus_client's ProcessCollector reports only the scraped process, so each process sets
its own `liveall` gauges (one series per pid on /metrics): a sampler thread every
SAMPLE_EVERY_S, and the scraped process once more at scrape time.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

from dashboard.telemetry import instruments

SAMPLE_EVERY_S = 5.0
_TICKS_PER_S = os.sysconf("SC_CLK_TCK")
_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")

_role = ""


@dataclass(frozen=True)
class ProcessSample:
    resident_bytes: int
    cpu_s: float
    open_fds: int


def read() -> ProcessSample:
    """This process's figures now (Linux /proc)."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        resident_pages = int(statm.read().split()[1])
    with open("/proc/self/stat", encoding="ascii") as stat:
        # Fields after the command name (which may hold spaces): utime and stime are 14 and 15.
        after_name = stat.read().rpartition(")")[2].split()
    utime, stime = int(after_name[11]), int(after_name[12])
    return ProcessSample(
        resident_bytes=resident_pages * _PAGE_BYTES,
        cpu_s=(utime + stime) / _TICKS_PER_S,
        open_fds=len(os.listdir("/proc/self/fd")),
    )


def sample() -> None:
    """Set this process's gauges now (nothing before `start_sampler` named its role)."""
    if not _role:
        return
    now = read()
    instruments.PROCESS_RESIDENT_MEMORY.labels(_role).set(now.resident_bytes)
    instruments.PROCESS_CPU_SECONDS.labels(_role).set(now.cpu_s)
    instruments.PROCESS_OPEN_FDS.labels(_role).set(now.open_fds)


def start_sampler(role: str) -> None:
    """Sample now and every SAMPLE_EVERY_S in a daemon thread, as `role` (web, worker...)."""
    global _role
    _role = role
    sample()
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(SAMPLE_EVERY_S):
            sample()

    threading.Thread(target=loop, name="process-stats", daemon=True).start()

"""/metrics text: every process's instruments (multiprocess mode) plus collectors read at scrape.

PROMETHEUS_MULTIPROC_DIR is one directory per host shared by every process of the service
(web processes, Celery worker and its children, beat, watcher), emptied before any of them
starts (docs/OPERATIONS.md, "Health and metrics"). A process that exits calls `mark_dead` so
its `live*` gauges leave the sums; one that could not (SIGKILL, the OOM killer) is found by
`forget_dead_processes` at the next scrape. Counters and histograms of dead processes stay in
the sums, so they never go down (Prometheus reads a decrease as a reset).
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable, Iterator

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from dashboard.telemetry import process_stats

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MULTIPROC_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
PREFIX = "dash_"

# Multiprocess files hold no `_created` series; a single process exports none either.
disable_created_metrics()


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_DIR_VARIABLE) or None


class _ThisProcess(Collector):
    """This process's instruments (the default registry's `dash_` metrics), when there is no
    multiprocess dir: the same names as in multiprocess mode, without the client's own
    process and Python collectors."""

    def collect(self) -> Iterator[Metric]:
        yield from (metric for metric in REGISTRY.collect() if metric.name.startswith(PREFIX))


def render(extra: Iterable[Collector] = ()) -> bytes:
    """The exposition of every process's instruments and of `extra`, collected now."""
    process_stats.sample()
    forget_dead_processes()
    registry = CollectorRegistry(auto_describe=False)
    if multiprocess_dir():
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_ThisProcess())
    for collector in extra:
        registry.register(collector)
    return generate_latest(registry)


def mark_dead(pid: int | None = None) -> None:
    """Drop the `live*` gauges of a process that is ending (by default the one calling: an
    atexit handler inherited by a forked child then marks the child, not its parent)."""
    if multiprocess_dir():
        multiprocess.mark_process_dead(pid if pid is not None else os.getpid())


# prometheus_client's file of one `live*` gauge mode of one process: gauge_<mode>_<pid>.db.
_LIVE_GAUGE_FILES = "gauge_live*_*.db"


def _running(pid: int) -> bool:
    """Whether `pid` is a process of this host that has not ended (a zombie has ended)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            state = stat.read().rpartition(")")[2].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")


def forget_dead_processes() -> list[int]:
    """Mark dead every process that left `live*` gauge files behind without `mark_dead`
    (killed with SIGKILL or by the OOM killer), so its open connections, memory and CPU leave
    /metrics; returns their pids. The directory is per host, so a pid names a process here."""
    directory = multiprocess_dir()
    if not directory:
        return []
    pids = set()
    for path in glob.glob(os.path.join(directory, _LIVE_GAUGE_FILES)):
        pid_text = os.path.basename(path).rpartition("_")[2].removesuffix(".db")
        if pid_text.isdigit():
            pids.add(int(pid_text))
    gone = sorted(pid for pid in pids if not _running(pid))
    for pid in gone:
        multiprocess.mark_process_dead(pid, directory)
    return gone

"""Counters of this web process's WebSocket delivery, for `GET /metrics`."""

from __future__ import annotations

import threading

_lock = threading.Lock()
_counts = {"coalesced": 0, "closed_slow": 0}


def coalesced(count: int = 1) -> None:
    if count:
        with _lock:
            _counts["coalesced"] += count


def closed_slow() -> None:
    with _lock:
        _counts["closed_slow"] += 1


def read() -> dict[str, int]:
    with _lock:
        return dict(_counts)

"""Garbage collection in a web process: full collections on a clock, not in proportion to growth.

CPython collects its oldest generation in full whenever the objects that survived into it
have grown by a quarter. A web process taking on thousands of WebSockets therefore collects
in full every few hundred new connections, and each collection walks every object of every
connection while the event loop stands still. Measured during a ramp to 5,000 connections
per process: 14 full collections, the last ones 0.7-0.8 s each, and those pauses were the
1 % tail of handshake-to-snapshot (docs/BENCHMARKS.md).

`settle()` runs once the application is loaded: what exists then (Django, every module, the
URL conf) is frozen, so no collection walks it again; automatic full collections are turned
off; and a thread runs one every FULL_COLLECTION_EVERY_S, logging how long it took. Young
generations are still collected as usual; cyclic garbage that has reached the old generation
(connections that lived a while, then closed) waits for the next full collection.
"""

from __future__ import annotations

import gc
import logging
import threading
import time

logger = logging.getLogger(__name__)

FULL_COLLECTION_EVERY_S = 300.0
_NEVER = 2**31 - 1  # generation 2's threshold: automatic full collections never come due


def settle(every_s: float = FULL_COLLECTION_EVERY_S) -> threading.Thread:
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, _NEVER)
    thread = threading.Thread(target=_collect_forever, args=(every_s,), name="full-gc", daemon=True)
    thread.start()
    return thread


def collect_in_full() -> tuple[int, float]:
    """One full collection: (objects found unreachable, seconds it took)."""
    started = time.perf_counter()
    found = gc.collect()
    return found, time.perf_counter() - started


def _collect_forever(every_s: float) -> None:
    while True:
        time.sleep(every_s)
        found, seconds = collect_in_full()
        logger.info("full garbage collection: %d unreachable objects, %.0f ms", found, seconds * 1000)

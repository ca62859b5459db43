"""One change stream per watched collection, each read on its own thread into one queue.

A database-level stream filtered with `$match` would do on MongoDB 6+, but nx-27017 returns
no events for it (docs/MONGODB_COMPATIBILITY.md), so one stream per collection serves both.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
from dataclasses import dataclass
from time import monotonic
from typing import Any

from pymongo.database import Database
from pymongo.errors import OperationFailure

from dashboard.sources import mongo, mongo_compat
from dashboard.sources.documents import FIELDS
from dashboard.watcher import stats
from dashboard.watcher.failures import MAX_DETERMINISTIC_TRIES, describe, is_transient

logger = logging.getLogger(__name__)

MAX_AWAIT_MS = 200
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 30.0
CHANGE_STREAM_HISTORY_LOST = 286
# Resuming from the same point can never work after these: the stream starts afresh instead.
RESUME_IMPOSSIBLE = {
    CHANGE_STREAM_HISTORY_LOST: "history lost (ChangeStreamHistoryLost)",
    280: "ChangeStreamFatalError",
    260: "invalid resume token (InvalidResumeToken)",
    40576: "resume token not found",
}
# "The $changeStream stage is only supported on replica sets" and its relatives.
CHANGE_STREAMS_UNSUPPORTED = (40573, 40415, 115)


def pipeline(collection: str) -> list[dict[str, Any]]:
    """The alerts stream takes whole documents; the others only their contract fields (documents.FIELDS)."""
    if collection == mongo.ALERTS:
        return []
    fields = {f"fullDocument.{name}": 1 for name in FIELDS[collection]}
    return [{"$project": {"operationType": 1, "documentKey": 1, "clusterTime": 1, "wallTime": 1, **fields}}]


@dataclass(frozen=True)
class StreamItem:
    collection: str
    # "event"; "token" (a newer resume token only); "resync" (the stream restarted from now,
    # for `reason`, so what happened in between must be recomputed); or "unsupported".
    kind: str
    event: dict[str, Any] | None = None
    token: dict[str, Any] | None = None
    reason: str | None = None


def backoff_delay(attempt: int, rng: random.Random) -> float:
    """Capped exponential backoff with full jitter."""
    return rng.uniform(0, min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2**attempt))


class StreamReader(threading.Thread):
    """Follows one collection's change stream into `out` until `stop` is set.

    Transient failures (failures.is_transient) are retried from the same point with backoff.
    A resume point the server refuses for good (RESUME_IMPOSSIBLE), or any other failure
    repeated MAX_DETERMINISTIC_TRIES times at the same point, is dropped: the stream starts
    from now and a "resync" item tells the loop to recompute what it missed.
    """

    def __init__(
        self,
        db: Database,
        collection: str,
        token: dict[str, Any] | None,
        out: queue.Queue[StreamItem],
        stop: threading.Event,
        start_after: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(name=f"stream-{collection}", daemon=True)
        self.db = db
        self.collection = collection
        self.token = token
        self.start_after = start_after
        self.out = out
        self.stop = stop
        # Set once the stream is open, or once the reader gave up on it (no change streams).
        self.settled = threading.Event()
        # Set at the first poll that found nothing new: every change up to then is in `out`.
        self.drained = threading.Event()
        self.is_open = False
        self.unsupported = False
        # Whether the stream goes on from the resume point it was given: False without one, and
        # once the server refused it (what happened since then is not in the stream).
        self.resumes = token is not None or start_after is not None

    def run(self) -> None:
        try:
            self._follow_and_recover()
        finally:
            # A reader that ended, even on an error it could not handle, holds nobody up.
            self.is_open = False
            self.settled.set()

    def _follow_and_recover(self) -> None:
        rng = random.Random()
        attempt = 0
        failed_at: tuple[str, str] | None = None
        failures_here = 0
        while not self.stop.is_set():
            try:
                self._follow()
                attempt = 0
            except Exception as exc:
                if isinstance(exc, OperationFailure) and exc.code in CHANGE_STREAMS_UNSUPPORTED:
                    self.unsupported = True
                    self.out.put(StreamItem(self.collection, "unsupported"))
                    self.settled.set()
                    return
                if is_transient(exc):
                    attempt = self._failed(exc, attempt, rng)
                    continue
                position = (repr(self.token), repr(self.start_after))
                failures_here = failures_here + 1 if position == failed_at else 1
                failed_at = position
                impossible = isinstance(exc, OperationFailure) and exc.code in RESUME_IMPOSSIBLE
                has_position = self.token is not None or self.start_after is not None
                if has_position and (impossible or failures_here >= MAX_DETERMINISTIC_TRIES):
                    self._start_afresh(exc)
                    failed_at, failures_here = None, 0
                    continue
                attempt = self._failed(exc, attempt, rng)

    def _start_afresh(self, exc: Exception) -> None:
        """Drop the resume point: retrying it can never work. The loop resyncs."""
        if isinstance(exc, OperationFailure) and exc.code in RESUME_IMPOSSIBLE:
            reason = RESUME_IMPOSSIBLE[exc.code]
        else:
            reason = f"{describe(exc)}, {MAX_DETERMINISTIC_TRIES} times at the same resume point"
        logger.error("change stream on %s cannot resume: %s; resyncing from now", self.collection, reason)
        self.token = self.start_after = None
        self.resumes = False
        self.out.put(StreamItem(self.collection, "resync", reason=reason))

    def _failed(self, exc: Exception, attempt: int, rng: random.Random) -> int:
        self.is_open = False
        stats.incr("stream_errors")
        stats.set_stream_down(True)
        delay = backoff_delay(attempt, rng)
        logger.warning(
            "change stream on %s failed (%s); retrying in %.1f s", self.collection, describe(exc), delay
        )
        self.stop.wait(delay)
        return attempt + 1

    def _options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"full_document": "updateLookup", "max_await_time_ms": MAX_AWAIT_MS}
        if self.start_after is not None:
            options["start_after"] = self.start_after
        elif self.token is not None:
            options["resume_after"] = self.token
        return options

    def _follow(self) -> None:
        with self.db[self.collection].watch(pipeline(self.collection), **self._options()) as stream:
            self.is_open = True
            self.settled.set()
            stats.set_stream_down(False)
            while not self.stop.is_set():
                asked_at = monotonic()
                event = stream.try_next()
                took_s = monotonic() - asked_at
                token = dict(stream.resume_token) if stream.resume_token is not None else None
                if event is not None and event.get("operationType") == "invalidate":
                    # The collection was dropped or renamed: the loop rebuilds its counters, and
                    # the stream reopens after the invalidate (whose token only startAfter takes).
                    logger.warning("change stream on %s invalidated; reopening after it", self.collection)
                    self.out.put(StreamItem(self.collection, "event", event, None))
                    self.start_after = dict(event["_id"])
                    return
                if event is not None:
                    self.start_after = None
                    self.out.put(StreamItem(self.collection, "event", event, token))
                    self.token = token
                else:
                    if token is not None and token != self.token:
                        self.out.put(StreamItem(self.collection, "token", None, token))
                        self.token = token
                    self.drained.set()
                    mongo_compat.wait_out_early_empty_poll(took_s, self.stop)

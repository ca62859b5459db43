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
from typing import Any

from pymongo.database import Database
from pymongo.errors import OperationFailure, PyMongoError

from dashboard.metrics.contributions import FIELDS
from dashboard.sources import mongo
from dashboard.watcher import stats

logger = logging.getLogger(__name__)

MAX_AWAIT_MS = 200
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 30.0
CHANGE_STREAM_HISTORY_LOST = 286
# "The $changeStream stage is only supported on replica sets" and its relatives.
CHANGE_STREAMS_UNSUPPORTED = (40573, 40415, 115)


def pipeline(collection: str) -> list[dict[str, Any]]:
    """The alerts stream takes whole documents; the others only the fields their counters read."""
    if collection == mongo.ALERTS:
        return []
    fields = {f"fullDocument.{name}": 1 for name in FIELDS[collection]}
    return [{"$project": {"operationType": 1, "documentKey": 1, "clusterTime": 1, "wallTime": 1, **fields}}]


@dataclass(frozen=True)
class StreamItem:
    collection: str
    kind: str  # "event", "token" (a newer resume token only), "history_lost" or "unsupported"
    event: dict[str, Any] | None = None
    token: dict[str, Any] | None = None


def backoff_delay(attempt: int, rng: random.Random) -> float:
    """Capped exponential backoff with full jitter."""
    return rng.uniform(0, min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2**attempt))


class StreamReader(threading.Thread):
    def __init__(
        self,
        db: Database,
        collection: str,
        token: dict[str, Any] | None,
        out: queue.Queue[StreamItem],
        stop: threading.Event,
    ) -> None:
        super().__init__(name=f"stream-{collection}", daemon=True)
        self.db = db
        self.collection = collection
        self.token = token
        self.start_after: dict[str, Any] | None = None
        self.out = out
        self.stop = stop
        # Set once the stream is open, or once the reader gave up on it (no change streams).
        self.settled = threading.Event()
        self.is_open = False

    def run(self) -> None:
        rng = random.Random()
        attempt = 0
        while not self.stop.is_set():
            try:
                self._follow()
                attempt = 0
            except OperationFailure as exc:
                if exc.code == CHANGE_STREAM_HISTORY_LOST:
                    # Retrying the same token can never work: start afresh and let the loop resync.
                    logger.error("change stream history lost on %s; resyncing from now", self.collection)
                    self.token = self.start_after = None
                    self.out.put(StreamItem(self.collection, "history_lost"))
                    continue
                if exc.code in CHANGE_STREAMS_UNSUPPORTED:
                    self.out.put(StreamItem(self.collection, "unsupported"))
                    self.settled.set()
                    return
                attempt = self._failed(exc, attempt, rng)
            except PyMongoError as exc:
                attempt = self._failed(exc, attempt, rng)

    def _failed(self, exc: PyMongoError, attempt: int, rng: random.Random) -> int:
        self.is_open = False
        stats.incr("stream_errors")
        stats.set_stream_down(True)
        delay = backoff_delay(attempt, rng)
        logger.warning(
            "change stream on %s failed (%s: %s); retrying in %.1f s",
            self.collection,
            exc.__class__.__name__,
            str(exc)[:200],
            delay,
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
                event = stream.try_next()
                token = dict(stream.resume_token) if stream.resume_token is not None else None
                if event is not None and event.get("operationType") == "invalidate":
                    # The collection was dropped or renamed: reopen after the invalidate event.
                    logger.warning("change stream on %s invalidated; reopening after it", self.collection)
                    self.start_after = dict(event["_id"])
                    return
                if event is not None:
                    self.start_after = None
                    self.out.put(StreamItem(self.collection, "event", event, token))
                    self.token = token
                elif token is not None and token != self.token:
                    self.out.put(StreamItem(self.collection, "token", None, token))
                    self.token = token

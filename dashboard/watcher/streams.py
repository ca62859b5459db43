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
from pymongo.errors import PyMongoError

from dashboard import mongo

logger = logging.getLogger(__name__)

MAX_AWAIT_MS = 200
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 30.0

# Only the alerts stream needs whole documents; the others need the department alone.
_DEPARTMENT_ONLY = [
    {
        "$project": {
            "operationType": 1,
            "documentKey": 1,
            "clusterTime": 1,
            "fullDocument.department": 1,
        }
    }
]


@dataclass(frozen=True)
class StreamItem:
    collection: str
    event: dict[str, Any] | None  # None: no event, only a newer resume token
    token: dict[str, Any] | None


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
        self.out = out
        self.stop = stop
        self.failures = 0
        self.opened = threading.Event()

    def run(self) -> None:
        rng = random.Random()
        attempt = 0
        while not self.stop.is_set():
            try:
                self._follow()
                attempt = 0
            except PyMongoError as exc:
                self.failures += 1
                delay = backoff_delay(attempt, rng)
                attempt += 1
                logger.warning(
                    "change stream on %s failed (%s); retrying in %.1f s",
                    self.collection,
                    exc.__class__.__name__,
                    delay,
                )
                self.stop.wait(delay)

    def _follow(self) -> None:
        pipeline = [] if self.collection == mongo.ALERTS else _DEPARTMENT_ONLY
        options: dict[str, Any] = {"full_document": "updateLookup", "max_await_time_ms": MAX_AWAIT_MS}
        if self.token is not None:
            options["resume_after"] = self.token
        with self.db[self.collection].watch(pipeline, **options) as stream:
            self.opened.set()
            while not self.stop.is_set():
                event = stream.try_next()
                token = dict(stream.resume_token) if stream.resume_token is not None else None
                if event is not None:
                    self.out.put(StreamItem(self.collection, event, token))
                    self.token = token
                elif token is not None and token != self.token:
                    self.out.put(StreamItem(self.collection, None, token))
                    self.token = token

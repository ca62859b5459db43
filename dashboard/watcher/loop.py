"""The watcher's loop: events in, alerts pushed at once, departments recomputed in coalesced bursts.

Resume tokens are saved only after the pushes for the events before them, so a crash at any
point replays events rather than losing them (delivery is at least once; alert duplicates
are dropped by alert id).
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pymongo.database import Database

from dashboard import mongo, publish, redis_store
from dashboard.scopes import HOSPITAL_SCOPE, Scope
from dashboard.services import tiers
from dashboard.services.alerts import alert_payload
from dashboard.watcher.events import BadEvent, Change, interpret
from dashboard.watcher.streams import StreamItem, StreamReader

logger = logging.getLogger(__name__)

IDLE_POLL_S = 0.5
FLUSH_RETRY_S = 1.0
STREAMS_OPEN_TIMEOUT_S = 30.0
ALERT_DEDUP_TTL_S = 86400
DEAD_LETTER_STREAM = "dash:watch:dead-letter"
DEAD_LETTER_MAX = 10_000


def load_token(collection: str) -> dict[str, Any] | None:
    raw = redis_store.client().get(redis_store.watcher_token_key(collection))
    return json.loads(raw) if raw else None


def save_tokens(tokens: dict[str, dict[str, Any]]) -> None:
    if tokens:
        redis_store.client().mset(
            {redis_store.watcher_token_key(name): json.dumps(token) for name, token in tokens.items()}
        )


def dead_letter(collection: str, event: dict[str, Any], reason: str) -> None:
    logger.warning("dead-lettered a %s event of %s: %s", event.get("operationType"), collection, reason)
    redis_store.client().xadd(
        DEAD_LETTER_STREAM,
        {"collection": collection, "reason": reason, "event": json.dumps(event, default=str)[:10_000]},
        maxlen=DEAD_LETTER_MAX,
        approximate=True,
    )


def push_new_alert(doc: dict[str, Any]) -> bool:
    """Publish a new alert to its department and the hospital, once per alert id."""
    payload = alert_payload(doc)
    first = redis_store.client().set(f"dash:alert-sent:{payload['id']}", "1", nx=True, ex=ALERT_DEDUP_TTL_S)
    if not first:
        return False
    for scope in (Scope(payload["department"]), HOSPITAL_SCOPE):
        publish.publish_alert(scope, payload)
    return True


def recompute_critical(departments: set[str] | None) -> None:
    """Recompute and publish the critical tier of the given departments (None: all) and the hospital."""
    scopes = (
        [scope for scope in tiers.tier_scopes() if scope.department is not None]
        if departments is None
        else [Scope(code) for code in sorted(departments)]
    )
    for scope in [*scopes, HOSPITAL_SCOPE]:
        publish.publish_tier(scope, "critical", tiers.compute_tier(scope, "critical"))


@dataclass
class Batch:
    """Changes gathered since the last flush, and the tokens to save once they are pushed."""

    departments: set[str] = field(default_factory=set)
    all_departments: bool = False
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    opened_at: float | None = None

    def add(self, change: Change) -> None:
        if change.department is None:
            self.all_departments = True
        else:
            self.departments.add(change.department)


@dataclass
class Watcher:
    db: Database
    coalesce_s: float
    stop: threading.Event
    clock: Callable[[], float] = time.monotonic
    queue: queue.Queue[StreamItem] = field(default_factory=queue.Queue)
    processed: int = 0

    def start_readers(self) -> list[StreamReader]:
        readers = [
            StreamReader(self.db, name, load_token(name), self.queue, self.stop)
            for name in mongo.WATCHED_COLLECTIONS
        ]
        for reader in readers:
            reader.start()
        deadline = time.monotonic() + STREAMS_OPEN_TIMEOUT_S
        for reader in readers:
            reader.opened.wait(max(0.0, deadline - time.monotonic()))
        opened = sum(reader.opened.is_set() for reader in readers)
        logger.info("%d of %d change streams open", opened, len(readers))
        return readers

    def handle(self, item: StreamItem, batch: Batch) -> None:
        """Take one stream item into the batch; new alerts are pushed right away."""
        if item.event is not None:
            self.processed += 1
            try:
                change = interpret(item.collection, item.event)
            except BadEvent as exc:
                dead_letter(item.collection, item.event, str(exc))
            else:
                if change.new_alert is not None:
                    push_new_alert(change.new_alert)
                batch.add(change)
                if batch.opened_at is None:
                    batch.opened_at = self.clock()
        if item.token is not None:
            batch.tokens[item.collection] = item.token

    def flush(self, batch: Batch) -> None:
        if batch.all_departments or batch.departments:
            recompute_critical(None if batch.all_departments else batch.departments)
        save_tokens(batch.tokens)

    def run(self) -> None:
        self.start_readers()
        batch = Batch()
        while not self.stop.is_set():
            wait_s = (
                IDLE_POLL_S if batch.opened_at is None else batch.opened_at + self.coalesce_s - self.clock()
            )
            with contextlib.suppress(queue.Empty):
                self.handle(self.queue.get(timeout=max(0.0, wait_s)), batch)
            due = batch.opened_at is None or self.clock() >= batch.opened_at + self.coalesce_s
            if batch.tokens and due:
                try:
                    self.flush(batch)
                except Exception:
                    # The batch stays: its departments stay dirty and its tokens unsaved.
                    logger.exception("could not push a batch of changes; retrying in %.1f s", FLUSH_RETRY_S)
                    self.stop.wait(FLUSH_RETRY_S)
                    continue
                batch = Batch()

"""The watcher's loop: events in, alerts pushed at once, counters maintained, departments published
at once when quiet and in coalesced bursts when busy.

Each event replaces its document's contribution to the maintained critical counters
(dashboard/metrics/maintained.py); the dirty scopes' critical tiers are published from those
counters, with no MongoDB query: a quiet scope's at once, a busy one's at the end of the
coalescing window (dashboard/watcher/pacing.py). Resume tokens are saved only
after the pushes for the events before them, so a crash at any point replays events rather
than losing them (delivery is at least once; a replayed event replaces a contribution with
the same one, and alert duplicates are dropped by alert id). Only the holder of the lease
reads streams and publishes.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from pymongo.database import Database

from dashboard.alerts import escalation
from dashboard.metrics import maintained
from dashboard.protocol.scopes import HOSPITAL_SCOPE, Scope
from dashboard.protocol.tiers import Tier, interval_s
from dashboard.sources import mongo, service_clock
from dashboard.sources.lenient_decoding import lenient
from dashboard.watcher import actions, stats
from dashboard.watcher.drift import DriftCheck
from dashboard.watcher.events import BadEvent, collection_gone, interpret
from dashboard.watcher.failures import MAX_DETERMINISTIC_TRIES, describe, is_transient
from dashboard.watcher.lease import RENEW_EVERY_S, Lease, LeaseKeeper
from dashboard.watcher.pacing import Pacing
from dashboard.watcher.streams import CHANGE_STREAM_HISTORY_LOST, RESUME_IMPOSSIBLE, StreamItem, StreamReader

logger = logging.getLogger(__name__)

IDLE_POLL_S = 0.2
FLUSH_RETRY_S = 1.0
# Between tries of an item or batch that failed deterministically: the same answer is likely,
# so tries are few (failures.MAX_DETERMINISTIC_TRIES) and close together.
DETERMINISTIC_RETRY_S = 0.2
# After the active period ended on an unexpected error, before trying to become active again.
REACTIVATE_AFTER_S = 1.0
STREAMS_OPEN_TIMEOUT_S = 30.0
HOUSEKEEPING_EVERY_S = 1.0
# Without change streams (WATCH_FALLBACK=poll), every department is recomputed this often.
POLL_INTERVAL_S: float = interval_s(Tier.CRITICAL)
# The counters stay live this long after the last housekeeping that found every stream open
# (renewed every HOUSEKEEPING_EVERY_S). Short, so that once they stop being maintained (the
# watcher killed or stuck) the next Celery critical run recomputes from MongoDB: within
# LIVE_TTL_S plus one critical interval, 8 s, of the last renewal. Long enough that a loop
# iteration up to 2 s late does not drop it.
LIVE_TTL_S = 3.0
# A watcher that becomes active publishes nothing until it has caught up with the changes made
# while no watcher was active (every stream drained once, the queue empty): until then its
# counters lack them, and its tiers, newer than beat's recomputation from MongoDB, would replace
# right numbers with wrong ones. It publishes anyway after this long, should it never catch up.
CATCH_UP_HOLD_S = 10.0
CATCH_UP_POLL_S = 0.05


class ChangeStreamsUnsupported(Exception):
    """The server cannot do change streams (a standalone MongoDB)."""


@dataclass
class Batch:
    """Changes gathered since the last flush, and the tokens to save once they are pushed.

    `leading`: scopes that were quiet when they changed, published at the next flush.
    `trailing`: each other scope with the time its window ends (its last publication plus the
    window, on the watcher's monotonic clock, seconds), when it is published. Nothing waits
    longer than one window after the batch's first trailing change (`opened_at`): then every
    trailing scope is published. The tokens are saved by the flush that leaves nothing waiting.
    """

    leading: set[Scope] = field(default_factory=set)
    trailing: dict[Scope, float] = field(default_factory=dict)
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    opened_at: float | None = None
    newest_event_at: datetime | None = None
    # Whether a flush of this batch published anything.
    published: bool = False
    # Deterministic failures to push this batch so far.
    failures: int = 0

    def add(self, dirty: set[str], event_time: datetime | None, pacing: Pacing, now: float) -> None:
        """Take the departments a change may have altered (and so the hospital) into the batch."""
        scopes = {Scope(code) for code in dirty}
        if scopes:
            scopes.add(HOSPITAL_SCOPE)
        for scope in scopes - self.leading - self.trailing.keys():
            if pacing.is_quiet(scope, now):
                self.leading.add(scope)
            else:
                self.trailing[scope] = pacing.window_ends(scope)
                if self.opened_at is None:
                    self.opened_at = now
        if event_time is not None:
            self.newest_event_at = max(event_time, self.newest_event_at or event_time)

    def scopes(self) -> set[Scope]:
        return self.leading | self.trailing.keys()

    def due_at(self, window_s: float) -> float | None:
        """When the next trailing scope is due; None when none waits."""
        if not self.trailing or self.opened_at is None:
            return None
        return min(min(self.trailing.values()), self.opened_at + window_s)

    def due(self, now: float, window_s: float) -> set[Scope]:
        """The scopes to publish at `now`: the leading ones and the trailing ones whose window ended."""
        if self.opened_at is not None and now >= self.opened_at + window_s:
            return self.scopes()
        return self.leading | {scope for scope, ends in self.trailing.items() if now >= ends}


def event_time(event: dict[str, Any]) -> datetime | None:
    """When the change happened: `wallTime`, else `clusterTime` when the server sends a date there."""
    for field_name in ("wallTime", "clusterTime"):
        value = event.get(field_name)
        if isinstance(value, datetime):
            return value
    return None


@dataclass
class Watcher:
    db: Database
    coalesce_s: float
    stop: threading.Event
    clock: Callable[[], float] = time.monotonic
    lease: Lease = field(default_factory=Lease)
    tz: zoneinfo.ZoneInfo = field(default_factory=lambda: zoneinfo.ZoneInfo(settings.TIME_ZONE))
    escalations: escalation.Escalations = field(default_factory=escalation.Escalations)
    pacing: Pacing = field(init=False)

    def __post_init__(self) -> None:
        self.pacing = Pacing(self.coalesce_s)

    # --- one stream item -----------------------------------------------------------------------
    def handle(self, item: StreamItem, batch: Batch) -> None:
        """Take one stream item into the batch; new alerts are pushed right away."""
        if item.kind == "unsupported":
            raise ChangeStreamsUnsupported(item.collection)
        if item.kind == "resync":
            actions.forget_token(item.collection)
            batch.tokens.pop(item.collection, None)
            actions.resync_everything(self.db, self.tz, item.reason or "unknown")
            if item.reason == RESUME_IMPOSSIBLE[CHANGE_STREAM_HISTORY_LOST]:
                stats.incr("history_lost")
            return
        if item.event is not None and collection_gone(item.event):
            stats.incr("events_processed")
            logger.warning(
                "%s: %s event; rebuilding its counters", item.collection, item.event.get("operationType")
            )
            _, dirty = actions.rebuild_counters(self.db, self.tz, [item.collection])
            batch.add(dirty, event_time(item.event), self.pacing, self.clock())
        elif item.event is not None:
            stats.incr("events_processed")
            try:
                change = interpret(item.collection, item.event)
            except BadEvent as exc:
                actions.dead_letter(item.collection, item.event, str(exc))
            else:
                if change.new_alert is not None:
                    actions.push_new_alert(change.new_alert)
                happened = event_time(item.event)
                batch.add(actions.maintain(change, self.tz, happened), happened, self.pacing, self.clock())
        if item.token is not None:
            batch.tokens[item.collection] = item.token

    def flush(self, batch: Batch) -> bool:
        """Publish the batch's due scopes (Batch.due); once nothing waits, save its tokens.

        Returns True when the batch is done; raises what Redis raises (the batch stays).
        """
        now = self.clock()
        scopes = batch.due(now, self.coalesce_s)
        if scopes:
            actions.publish_critical_scopes(scopes)
            self.pacing.published(scopes, now)
            batch.published = True
        batch.leading.clear()
        for scope in scopes:
            batch.trailing.pop(scope, None)
        if batch.trailing:
            return False
        hold_s = settings.WATCH_FAULT_HOLD_TOKEN_SAVE_S
        if hold_s and batch.published:
            logger.warning("fault injection: pushed; holding the token save %.1f s", hold_s)
            time.sleep(hold_s)
        actions.save_tokens(batch.tokens)
        if batch.newest_event_at is not None:
            stats.set_lag((service_clock.now() - batch.newest_event_at).total_seconds())
        return True

    # --- active and standby --------------------------------------------------------------------
    def run(self) -> None:
        """Stand by until this process holds the lease, then follow the streams while it does.

        An active period that ends on an unexpected error (MongoDB down during the rebuild, a
        bug) releases the lease and starts over, rather than ending the process. Raises
        ChangeStreamsUnsupported when the server has no change streams.
        """
        was_standby = False
        while not self.stop.is_set():
            if self.lease.acquire():
                if was_standby:
                    stats.incr("failovers")
                logger.info("watcher %s is active", self.lease.owner)
                try:
                    self._follow_while_holding()
                except ChangeStreamsUnsupported:
                    raise
                except Exception as exc:
                    logger.error(
                        "the active watcher stopped on %s; starting over in %.1f s",
                        describe(exc),
                        REACTIVATE_AFTER_S,
                        exc_info=True,
                    )
                    self.stop.wait(REACTIVATE_AFTER_S)
                finally:
                    self._quietly(self.lease.release)
                continue
            if not was_standby:
                logger.info("watcher %s is standby; %s is active", self.lease.owner, Lease.holder())
                was_standby = True
            self.stop.wait(RENEW_EVERY_S)

    def _start_readers(self, stop: threading.Event, out: queue.Queue[StreamItem]) -> list[StreamReader]:
        readers = [
            StreamReader(self.db, name, self._saved_token(name, out), out, stop)
            for name in mongo.WATCHED_COLLECTIONS
        ]
        started = time.monotonic()
        for reader in readers:
            reader.start()
        deadline = started + STREAMS_OPEN_TIMEOUT_S
        for reader in readers:
            reader.settled.wait(max(0.0, deadline - time.monotonic()))
        opened = sum(reader.is_open for reader in readers)
        settled = time.monotonic()
        why = self._why_rebuild(readers)
        if why is None:
            logger.info(
                "%d of %d change streams open in %.1f s; counters kept from the previous watcher "
                "(every stream resumed from its saved token, completion mark %s)",
                opened,
                len(readers),
                settled - started,
                maintained.counters_format(self.tz),
            )
            return readers
        # Rebuilt after the streams opened: a change during the rebuild still arrives as an event.
        remembered, _ = actions.rebuild_counters(self.db, self.tz)
        logger.info(
            "%d of %d change streams open in %.1f s; counters rebuilt from %d documents in %.1f s (%s)",
            opened,
            len(readers),
            settled - started,
            remembered,
            time.monotonic() - settled,
            why,
        )
        return readers

    def _why_rebuild(self, readers: list[StreamReader]) -> str | None:
        """Why the counters left in Redis cannot be kept; None when they can.

        They can when a complete rebuild of this format (maintained.counters_format) stands
        behind them and every stream is open and goes on from its saved token: every event
        since then arrives again, and applying an event replaces its document's remembered
        contribution (maintained.apply), so the ones the previous watcher had already applied
        change nothing the second time.
        """
        missing = [reader.collection for reader in readers if not (reader.is_open and reader.resumes)]
        if missing:
            return f"no usable resume token for {', '.join(missing)}"
        found = maintained.completed_format()
        expected = maintained.counters_format(self.tz)
        if found is None:
            return "no completion mark"
        if found != expected:
            return f"completion mark of format {found!r}, not {expected!r}"
        return None

    @staticmethod
    def _saved_token(collection: str, out: queue.Queue[StreamItem]) -> dict[str, Any] | None:
        """The token to resume from; an unreadable one is dropped and the stream resyncs."""
        try:
            return actions.load_token(collection)
        except actions.UnreadableToken as exc:
            out.put(StreamItem(collection, "resync", reason=str(exc)))
            return None

    def _follow_while_holding(self) -> None:
        keeper = LeaseKeeper(self.lease)
        keeper.start()
        readers_stop = threading.Event()
        items: queue.Queue[StreamItem] = queue.Queue()
        readers: list[StreamReader] = []
        next_housekeeping = self.clock()
        drift = DriftCheck(self.db, self.tz, settings.WATCH_DRIFT_CHECK_S, clock=self.clock)
        batch = Batch()
        activated_at = time.monotonic()
        active_since: float | None = activated_at
        # Whether the queue was once empty after every stream had drained since it opened:
        # until then the counters may lack the changes made while no watcher was active, are
        # not marked live, and are not published (CATCH_UP_HOLD_S).
        caught_up = False
        try:
            readers = self._start_readers(readers_stop, items)
            while not self.stop.is_set():
                keeper.beat()
                if keeper.lost.is_set():
                    logger.error("lost the lease; going back to standby without publishing more")
                    return
                now = self.clock()
                if now >= next_housekeeping:
                    self._revive_dead_readers(readers, readers_stop, items)
                    self._housekeep(
                        readers, drift, idle=not batch.scopes() and items.empty(), caught_up=caught_up
                    )
                    next_housekeeping = now + HOUSEKEEPING_EVERY_S
                due_at = batch.due_at(self.coalesce_s)
                wait_s = IDLE_POLL_S if due_at is None else due_at - now
                if not caught_up:
                    wait_s = CATCH_UP_POLL_S  # nothing is published yet: look for the end of the backlog
                try:
                    item = items.get(timeout=max(0.0, min(wait_s, IDLE_POLL_S)))
                except queue.Empty:
                    caught_up = caught_up or all(reader.drained.is_set() for reader in readers)
                    if not batch.scopes():
                        stats.set_lag(0.0)
                else:
                    self._handle_until_done(item, batch)
                due_at = batch.due_at(self.coalesce_s)
                due = bool(batch.leading) or due_at is None or self.clock() >= due_at
                held = not caught_up and time.monotonic() - activated_at < CATCH_UP_HOLD_S
                if (batch.tokens or batch.scopes()) and due and not held:
                    try:
                        done = self.flush(batch)
                    except Exception as exc:
                        # The batch stays: its scopes stay dirty and its tokens unsaved.
                        self._flush_failed(batch, exc)
                        continue
                    if batch.published and active_since is not None:
                        logger.info(
                            "first publication %.1f s after taking the lease", time.monotonic() - active_since
                        )
                        active_since = None
                    if done:
                        batch = Batch()
        finally:
            self._quietly(maintained.clear_live)
            keeper.halt()
            readers_stop.set()
            for reader in readers:
                reader.join(timeout=2)

    def _flush_failed(self, batch: Batch, exc: Exception) -> None:
        """Wait to retry a batch; after deterministic failures, push its tokens without its publication."""
        if is_transient(exc):
            logger.warning(
                "could not push a batch of changes (%s); retrying in %.1f s", describe(exc), FLUSH_RETRY_S
            )
            self.stop.wait(FLUSH_RETRY_S)
            return
        batch.failures += 1
        if batch.failures < MAX_DETERMINISTIC_TRIES:
            logger.warning("could not push a batch of changes (%s); trying again", describe(exc))
            self.stop.wait(DETERMINISTIC_RETRY_S)
            return
        # The counters are right; only publishing them failed. Celery's critical tier publishes
        # these departments within its interval, and the stream must go on.
        logger.error(
            "dropped the publication of %s after %d failures (%s)",
            ", ".join(sorted(scope.name for scope in batch.scopes())),
            batch.failures,
            describe(exc),
            exc_info=True,
        )
        stats.incr("publications_dropped")
        batch.leading.clear()
        batch.trailing.clear()

    def _handle_until_done(self, item: StreamItem, batch: Batch) -> None:
        """Handle one item: retried while Redis or MongoDB are unreachable, never skipped for that;
        dead-lettered after MAX_DETERMINISTIC_TRIES deterministic failures (bad data, a bug),
        so the stream goes on."""
        tries = 0
        while not self.stop.is_set():
            try:
                self.handle(item, batch)
                return
            except ChangeStreamsUnsupported:
                raise
            except Exception as exc:
                if is_transient(exc):
                    logger.warning(
                        "could not handle a %s item of %s (%s); retrying in %.1f s",
                        item.kind,
                        item.collection,
                        describe(exc),
                        FLUSH_RETRY_S,
                    )
                    self.stop.wait(FLUSH_RETRY_S)
                    continue
                tries += 1
                if tries >= MAX_DETERMINISTIC_TRIES:
                    self._set_aside(item, batch, exc)
                    return
                logger.warning(
                    "could not handle a %s item of %s (%s); trying again",
                    item.kind,
                    item.collection,
                    describe(exc),
                    exc_info=tries == 1,
                )
                self.stop.wait(DETERMINISTIC_RETRY_S)

    def _set_aside(self, item: StreamItem, batch: Batch, exc: Exception) -> None:
        """Dead-letter an item that failed deterministically; its token goes with the batch."""
        reason = f"{describe(exc)}, {MAX_DETERMINISTIC_TRIES} times"
        while not self.stop.is_set():
            try:
                if item.event is not None:
                    actions.dead_letter(item.collection, item.event, reason)
                else:
                    logger.error("gave up a %s item of %s: %s", item.kind, item.collection, reason)
                    stats.incr("events_dead_lettered")
                break
            except Exception as failure:
                if not is_transient(failure):
                    logger.error(
                        "could not dead-letter a %s item of %s (%s)",
                        item.kind,
                        item.collection,
                        describe(failure),
                    )
                    break
                self.stop.wait(FLUSH_RETRY_S)
        if item.token is not None:
            batch.tokens[item.collection] = item.token

    def _revive_dead_readers(
        self, readers: list[StreamReader], stop: threading.Event, out: queue.Queue[StreamItem]
    ) -> None:
        """Restart any stream thread that died; until its stream opens the counters are not live."""
        for index, reader in enumerate(readers):
            if reader.is_alive() or reader.unsupported or stop.is_set():
                continue
            logger.error("the change stream thread of %s died; restarting it", reader.collection)
            self._quietly(maintained.clear_live)
            self._quietly(lambda: stats.set_stream_down(True))
            self._quietly(lambda: stats.incr("stream_restarts"))
            revived = StreamReader(self.db, reader.collection, reader.token, out, stop, reader.start_after)
            revived.start()
            readers[index] = revived

    def _housekeep(
        self, readers: list[StreamReader], drift: DriftCheck, *, idle: bool, caught_up: bool
    ) -> None:
        """Once a second: escalations, the counters' live mark (once the events that waited at
        activation are handled, while every stream is open), and the drift check when idle."""
        self._escalate()
        if caught_up and all(reader.is_open and reader.is_alive() for reader in readers):
            self._quietly(lambda: maintained.mark_live(LIVE_TTL_S))
        else:
            self._quietly(maintained.clear_live)
        if idle and drift.due():
            try:
                repaired = drift.run()
                if repaired:
                    actions.publish_critical(repaired)
            except Exception:
                logger.exception("could not check the maintained counters for drift; will retry")

    @staticmethod
    def _quietly(step: Callable[[], None]) -> None:
        try:
            step()
        except Exception as exc:
            logger.warning("could not update the watcher's state in Redis (%s)", describe(exc))

    def _escalate(self) -> None:
        try:
            # MongoDB's clock, not this host's: a watcher whose clock runs ahead would
            # escalate every alert that early (chaos row 8, docs/RELIABILITY.md).
            for doc in self.escalations.due(mongo.server_now(self.db)):
                if actions.push_new_alert(doc, escalated=True):
                    logger.warning("escalated unacknowledged alert %s", doc["_id"])
                self.escalations.settle(doc)
        except Exception as exc:
            logger.warning("could not check for alerts to escalate (%s); will retry", describe(exc))


def poll_forever(stop: threading.Event, lease: Lease, interval_s: float) -> None:
    """Fallback without change streams: recompute every department each interval, if active."""
    logger.warning("polling MongoDB every %.1f s instead of following change streams", interval_s)
    while not stop.is_set():
        if lease.acquire() or lease.renew():
            try:
                actions.recompute_all_critical()
            except Exception:
                logger.exception("polling recomputation failed; will retry")
        stop.wait(interval_s)
    lease.release()


def run_watcher(db: Database, stop: threading.Event) -> int:
    """The command's body: follow changes, or fall back as WATCH_FALLBACK says; returns an exit code."""
    watcher = Watcher(lenient(db), coalesce_s=settings.WATCH_COALESCE_MS / 1000, stop=stop)
    try:
        watcher.run()
    except ChangeStreamsUnsupported:
        message = (
            "this MongoDB cannot do change streams (it is not a replica set or sharded cluster). "
            "Run MongoDB as a replica set"
        )
        if settings.WATCH_FALLBACK == "fail":
            logger.error("%s; exiting because WATCH_FALLBACK=fail.", message)
            return 2
        logger.error("%s; falling back to polling because WATCH_FALLBACK=poll.", message)
        poll_forever(stop, watcher.lease, POLL_INTERVAL_S)
    return 0

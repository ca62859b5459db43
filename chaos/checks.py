"""What is checked after (and during) each fault.

**Truth over time.** Every SAMPLE_S the sampler recomputes from MongoDB the critical tier of
every scope a client follows, every scope from one hospital-wide read (chaos/truth.py); T(t) is
a scope's truth from a read that ended at t. A round reads the tiles at s, computes the truths
they need, and judges the tiles as they are when it ends, at e. A client's critical tile
*matches* when, read at s or at e (a write during the computation, which takes a second or more
under load, may reach the tile before the truth's reads), it equals some T(t) with
s - GRACE_S <= t <= e: a change in MongoDB may take GRACE_S to reach the tile (the watcher's
50 ms coalescing window plus delivery under load) before the tile counts as wrong. A truth is
computed as at the `computed_at` of a tile that no truth explains yet, the newest first, until
every tile matches one or TRUTH_TIMES were computed in the round, as the final values are: the
numbers that move with the clock alone (minutes of boarding, staff active in the last 15
minutes) are those of the moment the tile was computed, not of a moment up to one critical
interval later. Clients may show two computations at once (while the tiers are recomputed from
MongoDB after Redis restarted empty, a snapshot may carry a newer one than the last update
others hold); each is judged by what MongoDB holds as at its own time, so a count a tile missed
is still wrong. While MongoDB does not answer there is no truth, and that round is not judged.
One read for every scope keeps a round near SAMPLE_S at 10 times the demo's rate, where a read
per scope made rounds of 5-7 s (each row reports `sample_round_s`).

**Marked.** A tile is marked as possibly out of date when the client is not connected or is
resyncing the scope (the page shows "reconnecting"), when its last `status` named a source
down, when the scope's last snapshot had `stale: true` and no update came since, or when the
tile's `computed_at` is more than two critical intervals old (the contract's `stale`, §3.5).

**Unmarked-wrong window.** A run of consecutive samples at which a client's tile did not match
and was not marked; its length is (last - first sample time) + SAMPLE_S. The row passes when
the longest is at most one critical interval (5 s).

**Alerts lost.** The valid alerts written to MongoDB while the row ran, for the departments a
client may see, that the client neither received (an `alert` message, live or replayed) nor
recovered (the alert list it fetched after a refused recovery) within ALERT_WAIT_S of the
load's end.

**Final values.** After the simulator stops and FINAL_SETTLE_S passes, each client's critical
tier, and its standard tier when computed after the stop, is compared with a recomputation.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bson import ObjectId
from pymongo.database import Database
from pymongo.errors import PyMongoError
from redis.exceptions import RedisError

from chaos.client import Client
from chaos.truth import recompute, recompute_critical, without_time
from dashboard.protocol.tiers import interval_s

SAMPLE_S = 1.0
GRACE_S = 2.0
CRITICAL_INTERVAL_S = float(interval_s("critical"))
STALE_AFTER_S = 2 * CRITICAL_INTERVAL_S
FINAL_SETTLE_S = 8.0
# At most this many distinct `computed_at` of the tiles get a truth of their own per round.
TRUTH_TIMES = 3
POISON_KIND = "chaos_poison"
# How long after the load stops an alert may still arrive before it counts as lost.
ALERT_WAIT_S = 60.0


@dataclass
class WrongWindow:
    client: int
    scope: str
    started: float
    ended: float
    # The fields that differed, at the window's last sample, from the truth as at the tile's own
    # `computed_at` (the newest truth when the tile's time had none).
    differing: str = ""
    # The same at the window's first sample, and when that was (UTC, for the processes' logs).
    first_differing: str = ""
    started_utc: str = ""

    @property
    def seconds(self) -> float:
        return self.ended - self.started + SAMPLE_S

    @property
    def described(self) -> str:
        """When the window began and how the tile differed then, and at its end when that changed."""
        if self.first_differing in ("", self.differing):
            return f"from {self.started_utc}: {self.differing}"
        return f"from {self.started_utc}: {self.first_differing}; at its end: {self.differing}"


@dataclass
class _OpenRun:
    """A window still open: its first and last sample (monotonic s) and how the tile differed."""

    first: float
    last: float
    first_differing: str
    differing: str
    started_utc: str

    def closed(self, client: int, scope: str) -> WrongWindow:
        return WrongWindow(
            client, scope, self.first, self.last, self.differing, self.first_differing, self.started_utc
        )


def _age_s(data: dict[str, Any]) -> float:
    computed = data.get("computed_at")
    if not isinstance(computed, str):
        return float("inf")
    return time.time() - datetime.fromisoformat(computed).timestamp()


def marked(client: Client, scope: str) -> bool:
    """Whether the client shows the scope's critical tile as possibly out of date now."""
    state = client.scopes.get(scope)
    if state is None or not client.connected or state.resyncing or client.sources_down:
        return True
    critical = state.tiers.get("critical", {})
    return state.snapshot_stale or _age_s(critical) > STALE_AFTER_S


@dataclass
class Sampler:
    """Samples the truth and every client's critical tiles in a thread (see the module doc)."""

    db: Database
    clients: list[Client]
    # Scope → (when computed, monotonic s; the truth; the `computed_at` it was computed as at).
    history: dict[str, deque[tuple[float, dict[str, Any], str]]] = field(default_factory=dict)
    open_runs: dict[tuple[int, str], _OpenRun] = field(default_factory=dict)
    windows: list[WrongWindow] = field(default_factory=list)
    samples: int = 0
    unanswered: int = 0
    # When the first and the last round began (monotonic s), and how many began.
    round_starts: tuple[float, float, int] | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Sampler:
        self._thread = threading.Thread(target=self._run, name="chaos-sampler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop sampling and close the open runs (idempotent)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
        for (index, scope), run in self.open_runs.items():
            self.windows.append(run.closed(index, scope))
        self.open_runs.clear()

    def longest(self) -> WrongWindow | None:
        return max(self.windows, key=lambda w: w.seconds, default=None)

    def _run(self) -> None:
        scopes = sorted({scope for client in self.clients for scope in client.scopes})
        while not self._stop.wait(SAMPLE_S):
            now = time.monotonic()
            first, _last, rounds = self.round_starts or (now, now, 0)
            self.round_starts = (first, now, rounds + 1)
            try:
                self.sample(scopes)
            except (PyMongoError, RedisError):
                self.unanswered += 1
                continue
            self.samples += 1

    def round_s(self) -> float | None:
        """The mean time between two rounds' starts (seconds; None before two rounds): how far
        apart the samples of one tile are, SAMPLE_S at best."""
        if self.round_starts is None or self.round_starts[2] < 2:
            return None
        first, last, rounds = self.round_starts
        return (last - first) / (rounds - 1)

    def sample(self, scopes: list[str]) -> None:
        """One round: the truths the tiles need, then every client's tile of every scope judged.
        Raises what pymongo raises when MongoDB does not answer.

        Each truth is every scope's, as at one time, from one hospital-wide read: first as at the
        newest `computed_at` of a tile no truth explains yet, then the next such, at most
        TRUTH_TIMES in a round. A round therefore takes one read when the tiles agree, however
        many scopes the clients follow.
        """
        started = time.monotonic()
        before = {scope: self._tiles(scope) for scope in scopes}
        computed: set[datetime | None] = set()
        while len(computed) < TRUTH_TIMES:
            needed = self._unexplained_times(scopes, started, before, computed)
            if not needed:
                break
            at = needed[0]
            truths = recompute_critical(self.db, scopes, now=at)
            done = time.monotonic()
            for scope, truth in truths.items():
                history = self.history.setdefault(scope, deque(maxlen=30))
                history.append((done, truth, "now" if at is None else at.isoformat()))
            computed.add(at)
        ended = time.monotonic()
        for scope in scopes:
            self._judge(scope, started, ended, before[scope])

    def _unexplained_times(
        self,
        scopes: list[str],
        started: float,
        before: dict[str, dict[int, dict[str, Any]]],
        computed: set[datetime | None],
    ) -> list[datetime | None]:
        """The `computed_at` of the tiles no recent truth explains, without a truth this round
        yet: None first (a tile without one, judged by the present), then newest first."""
        times: set[datetime | None] = set()
        for scope in scopes:
            for client in self._unexplained(scope, started, before[scope]):
                critical = client.scopes[scope].tiers.get("critical")
                times.add(None if critical is None else _computed(critical))
        times -= computed
        dated = sorted((time for time in times if time is not None), reverse=True)
        return [None, *dated] if None in times else list(dated)

    def _tiles(self, scope: str) -> dict[int, dict[str, Any]]:
        """Client index → the numbers of the scope's critical tile it shows now."""
        return {
            client.index: without_time(state.tiers.get("critical", {}))
            for client in self.clients
            if (state := client.scopes.get(scope)) is not None
        }

    def _recent(self, scope: str, started: float) -> list[tuple[float, dict[str, Any], str]]:
        """The scope's truths computed since GRACE_S before `started` (monotonic seconds)."""
        return [entry for entry in self.history.get(scope, ()) if entry[0] >= started - GRACE_S]

    def _unexplained(self, scope: str, started: float, before: dict[int, dict[str, Any]]) -> list[Client]:
        """The clients whose tile of `scope`, as shown now or at `started` (`before`), matches no
        recent truth and is not marked."""
        recent = [truth for _at, truth, _as_at in self._recent(scope, started)]
        return [
            client
            for client in self.clients
            if (state := client.scopes.get(scope)) is not None
            and without_time(state.tiers.get("critical", {})) not in recent
            and before.get(client.index) not in recent
            and not marked(client, scope)
        ]

    def _judge(self, judged: str, started: float, now: float, before: dict[int, dict[str, Any]]) -> None:
        """Every client's tile of the scope `judged`, whose truth was computed from `started`
        to `now` (monotonic seconds); `before` holds the tiles as they were at `started`."""
        recent_entries = self._recent(judged, started)
        wrong = {client.index for client in self._unexplained(judged, started, before)}
        for client in self.clients:
            state = client.scopes.get(judged)
            if state is None:
                continue
            key = (client.index, judged)
            if client.index not in wrong:
                if key in self.open_runs:
                    self.windows.append(self.open_runs.pop(key).closed(client.index, judged))
                continue
            differing = _described(state.tiers.get("critical", {}), recent_entries)
            run = self.open_runs.get(key)
            if run is None:
                started_utc = datetime.now(UTC).isoformat(timespec="milliseconds")
                self.open_runs[key] = _OpenRun(now, now, differing, differing, started_utc)
            else:
                run.last, run.differing = now, differing


def status_times(clients: list[Client], since: float) -> dict[str, float | None]:
    """When the clients were told a source was down, and all was well again, in seconds from
    `since` (monotonic; negative: before it): the first `down` any client got, and the last
    `ok` any client got after a `down` (None when no client got one)."""
    downs = [at for c in clients for at, sources in c.statuses if any(v != "ok" for v in sources.values())]
    first_down = min(downs, default=None)
    oks = [
        at
        for c in clients
        for at, sources in c.statuses
        if first_down is not None and at > first_down and all(v == "ok" for v in sources.values())
    ]
    last_ok = max(oks, default=None)
    return {
        "first_down_s": None if first_down is None else round(first_down - since, 1),
        "last_ok_s": None if last_ok is None else round(last_ok - since, 1),
    }


def _described(tile: dict[str, Any], truths: list[tuple[float, dict[str, Any], str]]) -> str:
    """How a tile differs from the truth computed as at its own `computed_at` (the newest
    truth when there is none), with the times of both."""
    shown_at = _computed(tile).isoformat()
    own = [entry for entry in truths if entry[2] == shown_at]
    # The newest computation's truth otherwise (one as at "now" only when there is no other).
    _at, truth, as_at = (own or sorted(truths, key=lambda entry: (entry[2] != "now", entry[2])))[-1]
    return f"{_differences(without_time(tile), truth)} (tile computed at {shown_at}, truth as at {as_at})"


def _differences(shown: dict[str, Any], truth: dict[str, Any]) -> str:
    """`group.field shown≠truth` for each differing number of a critical tier."""
    found = []
    for group in sorted(set(shown) | set(truth)):
        ours, theirs = shown.get(group, {}), truth.get(group, {})
        if not isinstance(ours, dict) or not isinstance(theirs, dict):
            found.append(f"{group} {ours}≠{theirs}")
            continue
        found += [
            f"{group}.{name} {ours.get(name)}≠{theirs.get(name)}"
            for name in sorted(set(ours) | set(theirs))
            if ours.get(name) != theirs.get(name)
        ]
    return ", ".join(found)


def written_alerts(db: Database, since: datetime, until: datetime) -> dict[str, str]:
    """The valid alerts created in [since, until): id → department (poison documents left out)."""
    cursor = db.alerts.find(
        {"created_at": {"$gte": since, "$lt": until}, "kind": {"$ne": POISON_KIND}},
        {"department": 1},
    )
    return {str(doc["_id"]): str(doc.get("department")) for doc in cursor if isinstance(doc["_id"], ObjectId)}


def describe_lost(db: Database, lost: dict[str, int]) -> list[str]:
    """One line per lost alert: id, department, creation time, how many clients missed it."""
    lines = []
    for alert_id, missed_by in sorted(lost.items()):
        doc = db.alerts.find_one({"_id": ObjectId(alert_id)}) or {}
        lines.append(f"{alert_id} {doc.get('department')} {doc.get('created_at')} missed by {missed_by}")
    return lines


def lost_alerts(
    clients: list[Client], written: dict[str, str], departments: tuple[str, ...]
) -> dict[str, int]:
    """Alert id → how many clients that may see it neither received nor recovered it."""
    lost: dict[str, int] = {}
    for client in clients:
        visible = set(client.visible_departments(departments))
        for alert_id, department in written.items():
            if (
                department in visible
                and alert_id not in client.alerts
                and alert_id not in client.recovered_alerts
            ):
                lost[alert_id] = lost.get(alert_id, 0) + 1
    return lost


def final_mismatches(db: Database, clients: list[Client], stopped_at: datetime) -> list[str]:
    """Each client's final critical (and, if computed after the stop, standard) tier against a
    recomputation from MongoDB's final state as at the tier's own `computed_at` (the numbers
    that depend on the time, "active in the last 15 minutes", move without any write); one
    line per difference."""
    found: list[str] = []
    truths: dict[tuple[str, str, bool, str], dict[str, Any]] = {}
    for client in clients:
        for scope, state in client.scopes.items():
            for tier in ("critical", "standard"):
                shown = state.tiers.get(tier, {})
                if tier == "standard" and _computed(shown) < stopped_at:
                    continue
                key = (scope, tier, client.with_revenue, str(shown.get("computed_at")))
                if key not in truths:
                    truths[key] = recompute(
                        db, scope, tier, with_revenue=client.with_revenue, now=_computed(shown)
                    )
                if without_time(shown) != truths[key]:
                    differing = _differences(without_time(shown), truths[key])
                    found.append(
                        f"client {client.index} ({client.username}) {scope} {tier} "
                        f"computed {_age_s(shown):.0f} s ago: {differing}"
                    )
    return found


def _computed(data: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(
        str(data.get("computed_at", "1970-01-01T00:00:00+00:00")).replace("Z", "+00:00")
    )


def wait_for_alerts(
    db: Database, clients: list[Client], since: datetime, until: datetime, departments: tuple[str, ...]
) -> tuple[dict[str, str], dict[str, int], float]:
    """(alerts written, alerts still missing, seconds waited): waits up to ALERT_WAIT_S for every
    client to receive or recover every alert it may see; what is missing then is lost."""
    started = time.monotonic()
    while True:
        written = written_alerts(db, since, until)
        lost = lost_alerts(clients, written, departments)
        if not lost or time.monotonic() - started > ALERT_WAIT_S:
            return written, lost, time.monotonic() - started
        time.sleep(1.0)

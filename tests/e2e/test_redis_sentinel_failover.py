"""Redis with Sentinel: the primary is SIGKILLed under load and nothing has to be restarted.

A primary, a replica and three sentinels (devstack/sentinel.py); web, worker, beat and watcher
configured with REDIS_SENTINELS only; three WebSocket clients following the hospital scope as
the contract says; alerts inserted into MongoDB every 200 ms before, during and after the kill.

"No alert is lost" means, for each client: every alert document inserted is shown to it,
either as an `alert` message (live or replayed after a resubscribe with `since`) or, for one
whose push went to the dead primary, in `GET /api/alerts/?scope=hospital&state=open` read after the client
has converged (what a client shows after a `snapshot`). The promoted replica starts a new
epoch, so every client ends in an epoch other than the one it had before the kill. The test
prints and keeps in var/failover/ the failover times (kill to promotion; kill to each client's
first live alert inserted after the kill) and how each client got every alert: live, replayed
after a resubscribe with `since`, while resyncing, or from the alerts list.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from devstack.sentinel import SentinelGroup
from tests.e2e.alert_follower import AlertFollower
from tests.support import failover_results
from tests.support.live_stack import E2E_REDIS_DB, LiveStack

pytestmark = pytest.mark.e2e

PASSWORD = "a-long-test-password-sentinel"
CLIENTS = 3
INSERT_EVERY_S = 0.2
PROMOTION_LIMIT_S = 10.0
# From the kill to every client on live data again, and to every alert accounted for.
CONVERGE_LIMIT_S = 30.0


@pytest.fixture(scope="module")
def group(test_tmp: Path) -> Iterator[SentinelGroup]:
    sentinels = SentinelGroup(test_tmp / f"sentinel-{uuid.uuid4().hex[:8]}").start()
    try:
        yield sentinels
    finally:
        sentinels.stop()


@pytest.fixture(scope="module")
def stack(group: SentinelGroup, test_tmp: Path) -> Iterator[LiveStack]:
    live = LiveStack(
        root=test_tmp / f"stack-{uuid.uuid4().hex[:8]}",
        redis_url="",
        mongo_url=os.environ["MONGO_URL"],
        database_url=os.environ.get("DATABASE_URL"),
        redis_env=group.env(E2E_REDIS_DB),
    )
    try:
        assert live.manage("migrate", "--noinput").returncode == 0
        live.create_user("ada", PASSWORD, "admin")
        live.start("web", "worker", "beat", "watcher")
        live.wait_for_web()
        live.wait_for_log("worker", "ready")
        live.wait_for_log("watcher", "6 of 6 change streams open")
        yield live
    finally:
        live.stop()


def insert_alert(stack: LiveStack, index: int) -> str:
    result = stack.mongo().alerts.insert_one(
        {
            "department": ("ER", "ICU")[index % 2],
            "severity": "warning",
            "kind": "test",
            "message": f"failover {index}",
            "created_at": datetime.now(UTC),
            "acknowledged_at": None,
            "acknowledged_by": None,
        }
    )
    return str(result.inserted_id)


def open_alert_ids(stack: LiveStack, token: str) -> set[str]:
    status, body = stack.get_json("/api/alerts/?scope=hospital&state=open", token)
    assert status == 200, body
    return {alert["id"] for alert in body["alerts"]}


def test_primary_killed_under_load_replica_promoted_clients_converge_no_alert_lost(
    group: SentinelGroup, stack: LiveStack
) -> None:
    token = stack.access_token("ada", PASSWORD)
    followers = [AlertFollower(stack.ws_url, token).start() for _ in range(CLIENTS)]
    pids = {name: proc.pid for name, proc in stack.processes.items()}
    inserted: dict[str, float] = {}
    stop_writing = threading.Event()

    def write() -> None:
        index = 0
        while not stop_writing.is_set():
            inserted[insert_alert(stack, index)] = time.monotonic()
            index += 1
            time.sleep(INSERT_EVERY_S)

    writer = threading.Thread(target=write, daemon=True)
    try:
        deadline = time.monotonic() + 15
        while not all(f.epoch for f in followers):
            assert time.monotonic() < deadline, "a client got no snapshot"
            time.sleep(0.1)
        writer.start()
        time.sleep(3)
        epochs_before = [f.epoch for f in followers]
        old_primary = group.primary_port
        assert group.master_port() == old_primary
        assert group.primary is not None
        group.primary.signal(signal.SIGKILL)
        killed_at = time.monotonic()
        while group.master_port() == old_primary:
            assert time.monotonic() - killed_at < PROMOTION_LIMIT_S, "no replica was promoted"
            time.sleep(0.05)
        promoted_s = time.monotonic() - killed_at
        assert group.master_port() == group.replica_port

        def back_live_s(follower: AlertFollower) -> float | None:
            after = [
                at for aid, (at, live) in follower.alerts.items() if live and inserted.get(aid, 0) > killed_at
            ]
            return min(after) - killed_at if after else None

        while any(back_live_s(f) is None for f in followers):
            assert time.monotonic() - killed_at < CONVERGE_LIMIT_S, (
                f"a client never got live data:\n{stack.logs()}"
            )
            time.sleep(0.1)
        time.sleep(3)  # alerts keep flowing on the new primary
    finally:
        stop_writing.set()
        if writer.is_alive():
            writer.join(5)

    expected = set(inserted)
    deadline = time.monotonic() + 15
    while any(not expected <= set(f.alerts) for f in followers) and time.monotonic() < deadline:
        time.sleep(0.2)
    listed = open_alert_ids(stack, token)
    for follower in followers:
        follower.stop()

    clients = []
    for index, follower in enumerate(followers):
        by_message = expected & set(follower.alerts)
        missing = expected - by_message - listed
        downs = [s for _, s in follower.statuses if s["redis"] == "down"]
        in_sequence = {aid for aid in by_message if follower.alerts[aid][1]}
        clients.append(
            {
                "back_live_s": round(back_live_s(follower) or 0, 2),
                "alerts_live": len(in_sequence - follower.replayed),
                "alerts_replayed": len(follower.replayed & expected),
                "alerts_while_resyncing": len(by_message - in_sequence),
                "alerts_from_list": len(expected - by_message),
                "resubscribes": [reason for _, reason in follower.resubscribes],
                "recovered": follower.recoveries,
                "snapshots": follower.snapshots,
                "reconnects": follower.reconnects,
                "status_redis_down": len(downs),
                "reused_seqs": follower.reused_seqs,
            }
        )
        assert not missing, f"client {index} never saw {len(missing)} alerts:\n{stack.logs()}"
        if downs:
            assert follower.statuses[-1][1]["redis"] == "ok", "redis reported down and never ok again"
        assert not follower.resyncing, f"client {index} did not converge"
        # The promoted replica began a new epoch, and the client resynced into it.
        assert follower.epoch != epochs_before[index], f"client {index} kept epoch {follower.epoch}"
        assert follower.epochs[-1] == follower.epoch
    failover_results.record(
        "redis_sentinel_primary_kill",
        {"promoted_s": round(promoted_s, 2), "alerts": len(expected), "clients": clients},
    )
    for name, proc in stack.processes.items():
        assert proc.alive(), f"{name} exited:\n{proc.log_tail()}"
        assert proc.pid == pids[name], f"{name} was restarted"

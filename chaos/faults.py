"""The fault rows of the matrix (docs/RELIABILITY.md). Each takes the stack and the load, does
its harm, repairs what a supervisor would repair, and returns when the fault has ended: the
moment "back on live data" is measured from, and notes (findings the row checks on the way).
"""

from __future__ import annotations

import json
import random
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from chaos.checks import POISON_KIND
from chaos.load import Load
from chaos.stack import WATCHER_NAMES, WEB_NAMES, ChaosStack

REDIS_FREEZE_S = 10.0
MONGO_STOP_S = 30.0


@dataclass
class FaultResult:
    """When the fault ended (time.monotonic()) and what the row found on the way; `failures`
    fail the row."""

    ended_at: float
    notes: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def kill_web(stack: ChaosStack, load: Load) -> FaultResult:
    """Row 1: SIGKILL one web process; a supervisor starts it again at once."""
    stack.kill(WEB_NAMES[0])
    killed_at = time.monotonic()
    time.sleep(1.0)
    stack.restart(WEB_NAMES[0])
    return FaultResult(killed_at, [f"{WEB_NAMES[0]} killed and started again after 1 s"])


def kill_worker_then_beat(stack: ChaosStack, load: Load) -> FaultResult:
    """Row 2: SIGKILL the Celery worker (while it runs tier tasks), then beat; both restarted."""
    stack.kill("worker")
    time.sleep(2.0)
    stack.restart("worker")
    stack.stack.wait_for_log("worker", "ready")
    stack.kill("beat")
    time.sleep(2.0)
    stack.restart("beat")
    ended = time.monotonic()
    return FaultResult(ended, ["worker killed and restarted, then beat"])


def _active_watcher(stack: ChaosStack) -> str:
    holder = stack.stack.redis().get("dash:watch:lease") or ""
    for name in WATCHER_NAMES:
        proc = stack.stack.processes[name]
        # The lease owner names the host and the pid of the manage.py process (sh -c exec'd it).
        if str(proc.pid) in holder:
            return name
    raise AssertionError(f"no watcher of ours holds the lease ({holder!r})")


def kill_active_watcher(stack: ChaosStack, load: Load) -> FaultResult:
    """Row 3: SIGKILL the watcher holding the lease; the standby must take it over."""
    active = _active_watcher(stack)
    stack.kill(active)
    killed_at = time.monotonic()
    result = FaultResult(killed_at)
    deadline = killed_at + 15
    while time.monotonic() < deadline:
        holder = stack.stack.redis().get("dash:watch:lease") or ""
        if holder and str(stack.stack.processes[active].pid) not in holder:
            result.notes.append(f"standby took the lease {time.monotonic() - killed_at:.1f} s after the kill")
            break
        time.sleep(0.2)
    else:
        result.failures.append("no standby took the lease within 15 s")
    stack.restart(active)
    return result


def restart_redis_empty(stack: ChaosStack, load: Load) -> FaultResult:
    """Row 4: Redis stopped and started empty on the same port."""
    epochs = {s.epoch for c in load.clients for s in c.scopes.values()}
    stack.start_redis_empty()
    result = FaultResult(time.monotonic(), [f"epochs before: {sorted(e or '' for e in epochs)}"])
    try:
        load.wait_until(
            lambda: all(
                c.synced() and all(s.epoch not in epochs for s in c.scopes.values()) for c in load.clients
            ),
            90,
            "every client on a new epoch",
        )
    except AssertionError as exc:
        result.failures.append(str(exc))
    return result


def freeze_redis(stack: ChaosStack, load: Load) -> FaultResult:
    """Row 5: SIGSTOP Redis for REDIS_FREEZE_S, then SIGCONT."""
    stack.redis_proc.signal(signal.SIGSTOP)
    time.sleep(REDIS_FREEZE_S)
    stack.redis_proc.signal(signal.SIGCONT)
    return FaultResult(time.monotonic(), [f"Redis frozen {REDIS_FREEZE_S:.0f} s"])


def _ack_over_http(stack: ChaosStack, alert_id: str) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(  # noqa: S310 (the stack's own http:// URL)
        f"{stack.http_url()}/api/alerts/{alert_id}/ack/",
        data=b"{}",
        headers={
            "Authorization": f"Bearer {stack.tokens['chaos_admin']}",
            "Content-Type": "application/json",
        },
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as response:  # noqa: S310 (http://127.0.0.1)
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")
    except OSError as exc:
        return 0, {"error": exc.__class__.__name__}


def stop_mongo(stack: ChaosStack, load: Load) -> FaultResult:
    """Row 6: the MongoDB wire server stopped for MONGO_STOP_S; an acknowledgement made meanwhile
    must fail with a clear answer (503 `unavailable`) and leave nothing recorded."""
    db = stack.stack.mongo()
    open_alert = db.alerts.find_one({"acknowledged_at": None, "kind": {"$ne": POISON_KIND}})
    assert open_alert is not None, "the seeded hospital has open alerts"
    stack.stop_mongo()
    stopped = time.monotonic()
    result = FaultResult(stopped)
    time.sleep(8.0)
    status, body = _ack_over_http(stack, str(open_alert["_id"]))
    result.notes.append(f"ack while MongoDB was down: HTTP {status} {body}")
    if status != 503 or body.get("reason") != "unavailable":
        result.failures.append(f"ack during the outage answered {status} {body}")
    told = sum(1 for c in load.clients if c.sources_down)
    result.notes.append(f"{told} of {len(load.clients)} clients told a source is down")
    time.sleep(max(0.0, MONGO_STOP_S - (time.monotonic() - stopped)))
    stack.start_mongo()
    result.ended_at = time.monotonic()
    again = stack.stack.mongo().alerts.find_one({"_id": open_alert["_id"]})
    if again is None or again.get("acknowledged_at") is not None:
        result.failures.append("the acknowledgement refused during the outage was recorded")
    return result


def kill_half_the_clients(stack: ChaosStack, load: Load) -> FaultResult:
    """Row 9: half the clients' connections cut at once; they reconnect with the same `since`."""
    chosen = random.Random(9).sample(load.clients, len(load.clients) // 2)
    for client in chosen:
        client.drop()
    return FaultResult(time.monotonic(), [f"{len(chosen)} connections cut"])


def poison_documents(stack: ChaosStack, load: Load) -> FaultResult:
    """Row 12: one invalid document in each collection during the load (a wrong type, an
    out-of-range date; nx-27017 refuses to store a non-finite number, docs/MONGODB_COMPATIBILITY.md).
    The service keeps serving, names each in its log, and disconnects no client."""
    db = stack.stack.mongo()
    now = datetime.now(UTC)
    far = datetime(9999, 12, 31, 12, tzinfo=UTC)
    poison = {
        "patients": {"department": "ER", "status": "admitted", "is_emergency": "yes", "admitted_at": now},
        "rooms": {"department": "ER", "status": "occupied", "beds": "four", "occupied_beds": 1},
        "appointments": {"department": "ER", "scheduled_at": far, "status": "scheduled"},
        "staff": {"department": "ER", "role": "nurse", "on_duty": 1, "last_active_at": "now"},
        "billing": {
            "department": "ER",
            "amount": "12,50",
            "status": "paid",
            "paid_at": now,
            "issued_at": now,
        },
        "alerts": {
            "department": "ER",
            "severity": "critical",
            "kind": POISON_KIND,
            "message": 42,
            "created_at": far,
            "acknowledged_at": None,
            "acknowledged_by": None,
        },
    }
    ids = {name: str(db[name].insert_one(doc).inserted_id) for name, doc in poison.items()}
    disconnects_before = sum(len(c.disconnects) for c in load.clients)
    time.sleep(15.0)
    result = FaultResult(time.monotonic())
    logs = "\n".join(line for lines in stack.log_lines().values() for line in lines)
    unnamed = [name for name, doc_id in ids.items() if doc_id not in logs]
    result.notes.append(f"named in the log: {len(ids) - len(unnamed)} of {len(ids)}")
    if unnamed:
        result.failures.append(f"not named in any log: {unnamed}")
    disconnects = sum(len(c.disconnects) for c in load.clients) - disconnects_before
    if disconnects:
        result.failures.append(f"{disconnects} client disconnects after the poison documents")
    return result


# row → (name, fault)
ROWS: dict[int, tuple[str, Callable[[ChaosStack, Load], FaultResult]]] = {
    1: ("SIGKILL one web process", kill_web),
    2: ("SIGKILL worker, then beat", kill_worker_then_beat),
    3: ("SIGKILL the active watcher", kill_active_watcher),
    4: ("restart Redis empty", restart_redis_empty),
    5: ("freeze Redis 10 s", freeze_redis),
    6: ("stop MongoDB 30 s", stop_mongo),
    9: ("kill 50 % of clients", kill_half_the_clients),
    12: ("poison documents", poison_documents),
}
NOT_BUILT = {
    7: "MongoDB storage read-only or full",
    8: "a process's clock 5 minutes ahead",
    10: "ack race: two tabs and HTTP",
    11: "partition between a web process and Redis",
}

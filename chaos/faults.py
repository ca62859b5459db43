"""The fault rows of the matrix (docs/RELIABILITY.md). Each takes the stack and the load, does
its harm, repairs what a supervisor would repair, and returns when the fault has ended: the
moment "back on live data" is measured from, and notes (findings the row checks on the way).
"""

from __future__ import annotations

import http.client
import json
import random
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bson import ObjectId
from pymongo.database import Database
from pymongo.errors import PyMongoError
from websockets.exceptions import WebSocketException
from websockets.sync.client import connect

from chaos.checks import POISON_KIND
from chaos.load import Load
from chaos.stack import PARTITIONED_WEB, PASSWORD, USERS, WATCHER_NAMES, WEB_NAMES, ChaosStack
from dashboard.protocol.messages import iso
from devstack.debian_packages import ensure_command
from devstack.hospital_model import new_alert

REDIS_FREEZE_S = 10.0
MONGO_STOP_S = 30.0
MONGO_READ_ONLY_S = 30.0
# Where row 7 probes whether MongoDB takes writes.
PROBE_COLLECTION = "chaos_write_probe"
# Row 8: how far ahead the processes' wall clock runs, and for how long.
CLOCK_AHEAD_S = 300
CLOCK_AHEAD_FOR_S = 40.0
ACK_RACES = 5
# How long an acknowledgement's three answers and its `alert_acknowledged` messages may take.
ACK_ANSWER_S = 20.0
# After a tab's first `alert_acknowledged`, how long it listens for a second one.
ACK_LISTEN_MORE_S = 2.0
PARTITION_S = 15.0
# How long after the heal every client may take to be told its sources are ok again.
STATUS_OK_WITHIN_S = 60.0


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


def _ack_over_ws(stack: ChaosStack, alert_id: str) -> dict[str, object]:
    """The `ack_result` of one `ack_alert` sent by the admin on a connection of its own."""
    request_id = f"chaos-{random.randrange(10**9)}"
    with connect(
        stack.ws_urls[0],
        additional_headers={"Authorization": f"Bearer {stack.tokens['chaos_admin']}"},
        open_timeout=20,
        max_size=2**22,
    ) as socket:
        socket.send(json.dumps({"type": "ack_alert", "alert_id": alert_id, "request_id": request_id}))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            message = json.loads(socket.recv(timeout=max(0.1, deadline - time.monotonic())))
            if message.get("request_id") == request_id:
                return dict(message)
    return {"type": "none", "error": "no answer within 20 s"}


def _write_refused(db: Database) -> str | None:
    """The error of a probe write to a scratch collection, or None when it was written."""
    try:
        db[PROBE_COLLECTION].insert_one({"probe": True, "at": datetime.now(UTC)})
    except PyMongoError as exc:
        return f"{exc.__class__.__name__}: {exc}"[:300]
    return None


def read_only_mongo_storage(stack: ChaosStack, load: Load) -> FaultResult:
    """Row 7: the storage under the MongoDB wire server refuses writes for MONGO_READ_ONLY_S.

    The fault is the kernel's: `chattr +i` on the server's data directory, database files and
    write-ahead logs (ChaosStack.mongo_storage_read_only), so every write fails inside the
    server as it would on a file system remounted read-only, and the server answers each write
    with its error (nx-27017: `WriteError` code 8, "disk I/O error"); reads go on. Remounting
    the directory read-only is not possible while the server holds its files open for writing
    (EBUSY), and ext4's forced read-only state (an error with `errors=remount-ro`) cannot be
    undone without unmounting, so the row uses the immutable flag. Meanwhile an
    acknowledgement over HTTP must answer 503 `unavailable`, one over the WebSocket
    `ack_result` `ok: false, reason: "unavailable"`, neither may be recorded, and snapshots
    and alert lists must still be served.
    """
    db = stack.stack.mongo()
    open_alert = db.alerts.find_one({"acknowledged_at": None, "kind": {"$ne": POISON_KIND}})
    assert open_alert is not None, "the seeded hospital has open alerts"
    alert_id = str(open_alert["_id"])
    result = FaultResult(time.monotonic())
    stack.mongo_storage_read_only()
    started = time.monotonic()
    try:
        refused = _write_refused(db)
        if refused is None:
            result.failures.append("a write succeeded on the read-only storage: the fault did not take")
        result.notes.append(f"a probe write on the read-only storage: {refused}")
        time.sleep(3.0)
        status, body = _ack_over_http(stack, alert_id)
        result.notes.append(f"ack over HTTP: {status} {body}")
        if status != 503 or body.get("reason") != "unavailable":
            result.failures.append(f"ack over HTTP on read-only storage answered {status} {body}")
        answer = _ack_over_ws(stack, alert_id)
        result.notes.append(f"ack over the WebSocket: {answer}")
        if answer.get("ok") is not False or answer.get("reason") != "unavailable":
            result.failures.append(f"ack over the WebSocket on read-only storage answered {answer}")
        for path in ("/api/snapshot/?scope=hospital", "/api/alerts/?scope=hospital&state=open"):
            read_status, _read = stack.stack.get_json(path, stack.tokens["chaos_admin"])
            result.notes.append(f"GET {path} on read-only storage: {read_status}")
            if read_status != 200:
                result.failures.append(f"GET {path} answered {read_status} while MongoDB could be read")
        told = sum(1 for c in load.clients if c.sources_down)
        result.notes.append(f"{told} of {len(load.clients)} clients told a source is down")
        time.sleep(max(0.0, MONGO_READ_ONLY_S - (time.monotonic() - started)))
    finally:
        stack.mongo_storage_writable()
    result.ended_at = time.monotonic()
    again = db.alerts.find_one({"_id": open_alert["_id"]})
    if again is None or again.get("acknowledged_at") is not None or again.get("acknowledged_by") is not None:
        result.failures.append(f"an acknowledgement refused on read-only storage was recorded: {again}")
    refused = _write_refused(db)
    if refused is not None:
        result.failures.append(f"writes still refused after the storage was made writable: {refused}")
    db[PROBE_COLLECTION].drop()
    return result


def _clock_ahead_env(stack: ChaosStack) -> dict[str, str]:
    """The environment that starts a process with its wall clock CLOCK_AHEAD_S ahead.

    chaos/clock_ahead.c, compiled here and preloaded, shifts CLOCK_REALTIME (`time.time()`,
    `datetime.now()`) and leaves the monotonic clock, and so every timeout and timed wait,
    alone. Debian's libfaketime (0.9.10) cannot run these processes: under it Python 3.11
    hangs in every timed wait when the monotonic clock is faked (`threading.Event.wait`,
    wolfcw/libfaketime#390) and fails every `time.sleep` with EINVAL when it is not
    (FAKETIME_DONT_FAKE_MONOTONIC, wolfcw/libfaketime#426).
    """
    compiler = ensure_command(Path("/usr/bin/gcc"), "gcc")
    library = stack.root / "libclockahead.so"
    source = Path(__file__).with_name("clock_ahead.c")
    subprocess.run(
        [str(compiler), "-shared", "-fPIC", "-O2", "-o", str(library), str(source), "-ldl"], check=True
    )
    return {"LD_PRELOAD": str(library), "CHAOS_CLOCK_OFFSET_S": str(CLOCK_AHEAD_S)}


def _swap_watchers(stack: ChaosStack, env: dict[str, str] | None) -> str:
    """Restart both watchers with `env` (the stack's own when None), standby first, so the lease
    passes to a restarted one; returns the name of the watcher that holds it then."""
    active = _active_watcher(stack)
    standby = next(name for name in WATCHER_NAMES if name != active)
    stack.restart(standby, env)
    # A graceful stop releases the lease at once: the restarted standby takes it.
    stack.stack.processes[active].stop()
    deadline = time.monotonic() + 30
    while _lease_holder_pid(stack) != stack.stack.processes[standby].pid:
        assert time.monotonic() < deadline, f"{standby} did not take the lease within 30 s"
        time.sleep(0.2)
    stack.restart(active, env)
    return standby


def _lease_holder_pid(stack: ChaosStack) -> int | None:
    holder = stack.stack.redis().get("dash:watch:lease") or ""
    for proc in stack.stack.processes.values():
        if str(proc.pid) in holder:
            return proc.pid
    return None


def _token_at(base_url: str, username: str) -> str:
    """A fresh access JWT for `username` issued by the web process at `base_url`."""
    request = urllib.request.Request(  # noqa: S310 (the stack's own http:// URL)
        f"{base_url}/api/auth/token/",
        data=json.dumps({"username": username, "password": PASSWORD}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=20) as response:  # noqa: S310 (http://127.0.0.1)
        return str(json.loads(response.read())["access"])


def _get_at(base_url: str, path: str, token: str) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(  # noqa: S310 (the stack's own http:// URL)
        f"{base_url}{path}", headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as response:  # noqa: S310 (http://127.0.0.1)
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def _probe_alert(created_at: datetime, department: str) -> dict[str, object]:
    return {
        "department": department,
        "severity": "critical",
        "kind": "chaos_clock",
        "message": "row 8: escalation probe",
        "created_at": created_at,
        "acknowledged_at": None,
        "acknowledged_by": None,
    }


def clock_ahead(stack: ChaosStack, load: Load) -> FaultResult:
    """Row 8: the watchers and web-2 run with their wall clocks CLOCK_AHEAD_S ahead for
    CLOCK_AHEAD_FOR_S.

    The watchers escalate alerts and publish the critical tier within a second of a change;
    web-2 checks tokens and marks snapshots stale. The fault is the time those processes read
    from the C library (_clock_ahead_env), the monotonic clock left alone; the other
    processes and MongoDB keep the machine's clock. While they run ahead, two alerts are
    written as now (escalation is due ALERT_ESCALATE_AFTER_S later) and one already due; no
    client may receive an escalation before its alert is due, and the due one must escalate
    (or the check saw no escalation round). Tokens: one issued by web-1 (right clock) must be
    accepted by web-2 (ahead); what web-1 says of one issued by web-2, and whether web-2 marks
    fresh snapshots stale, are noted. Then every process runs on the right clock again.
    """
    env = _clock_ahead_env(stack)
    escalate_after = timedelta(seconds=int(stack.stack.env["ALERT_ESCALATE_AFTER_S"]))
    result = FaultResult(time.monotonic())
    stack.restart(WEB_NAMES[1], env)
    stack.stack.wait_for_web(name=WEB_NAMES[1], port=stack.stack.port_of(WEB_NAMES[1]))
    skewed_watcher = _swap_watchers(stack, env)
    started = time.monotonic()
    result.notes.append(f"{skewed_watcher} holds the lease; it and web-2 run {CLOCK_AHEAD_S} s ahead")
    db = stack.stack.mongo()
    now = datetime.now(UTC)
    fresh = [db.alerts.insert_one(_probe_alert(now, code)).inserted_id for code in ("ER", "ICU")]
    due = db.alerts.insert_one(_probe_alert(now - escalate_after - timedelta(seconds=10), "ER")).inserted_id

    web_1, web_2 = stack.http_url(WEB_NAMES[0]), stack.http_url(WEB_NAMES[1])
    status, _body = _get_at(web_2, "/api/snapshot/?scope=hospital", _token_at(web_1, "chaos_admin"))
    result.notes.append(f"a token of web-1 (right clock) at web-2 (ahead): HTTP {status}")
    if status != 200:
        result.failures.append(f"web-2 (ahead) refused a valid token of web-1: HTTP {status}")
    status, body = _get_at(web_1, "/api/snapshot/?scope=hospital", _token_at(web_2, "chaos_admin"))
    result.notes.append(f"a token of web-2 (ahead) at web-1 (right clock): HTTP {status} {body}")
    for name, url in ((WEB_NAMES[0], web_1), (WEB_NAMES[1], web_2)):
        status, body = _get_at(url, "/api/snapshot/?scope=hospital", stack.tokens["chaos_admin"])
        stale, age = body.get("stale"), body.get("age_s")
        result.notes.append(f"snapshot at {name}: HTTP {status} stale={stale} age_s={age}")

    time.sleep(max(0.0, CLOCK_AHEAD_FOR_S - (time.monotonic() - started)))
    escalated_at: dict[str, float] = {}
    for client in load.clients:
        for alert_id, at in client.escalations.items():
            escalated_at[alert_id] = min(at, escalated_at.get(alert_id, at))
    early = []
    for alert_id, at in sorted(escalated_at.items()):
        key = ObjectId(alert_id) if ObjectId.is_valid(alert_id) else alert_id  # threshold alerts: strings
        doc = db.alerts.find_one({"_id": key}, {"created_at": 1}) or {}
        created = doc.get("created_at")
        if isinstance(created, datetime):
            due_at = created.replace(tzinfo=UTC) + escalate_after
            if at < due_at.timestamp() - 1.0:
                early.append(f"{alert_id} escalated {due_at.timestamp() - at:.0f} s early")
    result.notes.append(f"escalations received: {len(escalated_at)}; early: {len(early)}")
    if early:
        result.failures.append(f"alerts escalated early: {early[:5]}")
    if str(due) not in escalated_at:
        result.failures.append("the alert already due was not escalated: no escalation round was seen")
    result.notes.append(f"probe alerts {[str(i) for i in fresh]} fresh, {due} due")
    stack.restart(WEB_NAMES[1])
    stack.stack.wait_for_web(name=WEB_NAMES[1], port=stack.stack.port_of(WEB_NAMES[1]))
    _swap_watchers(stack, None)
    result.ended_at = time.monotonic()
    return result


def _department_user(department: str) -> str:
    return next(name for name, (role, codes) in USERS.items() if role == "department" and department in codes)


@dataclass
class AckAnswer:
    """What one of the racing acknowledgements got back: `ok`, and the `by`/`at` it was told
    (over HTTP the answer's own; in a tab, each `alert_acknowledged` of the alert it received
    on `scope`); `error` when it got no answer at all."""

    who: str
    ok: bool = False
    told: list[tuple[str, str]] = field(default_factory=list)
    error: str = ""


def _tab(
    url: str, token: str, scope: str, alert_id: str, barrier: threading.Barrier, answer: AckAnswer
) -> None:
    """A dashboard tab: connects, waits for `scope`'s snapshot, then (with the others) sends
    `ack_alert` and listens for its `ack_result` and the alert's `alert_acknowledged`."""
    request_id = f"race-{answer.who}"
    try:
        with connect(url, additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=15) as socket:
            while True:
                message = json.loads(socket.recv(ACK_ANSWER_S))
                if message["type"] == "snapshot" and message["scope"] == scope:
                    break
            barrier.wait(ACK_ANSWER_S)
            socket.send(json.dumps({"type": "ack_alert", "alert_id": alert_id, "request_id": request_id}))
            result: dict[str, Any] | None = None
            deadline = time.monotonic() + ACK_ANSWER_S
            while time.monotonic() < deadline:
                try:
                    message = json.loads(socket.recv(max(0.01, deadline - time.monotonic())))
                except TimeoutError:
                    break
                if message["type"] == "ack_result" and message["request_id"] == request_id:
                    result = message
                elif (
                    message["type"] == "alert_acknowledged"
                    and message["alert_id"] == alert_id
                    and message["scope"] == scope
                ):
                    answer.told.append((message["by"], message["at"]))
                    deadline = min(deadline, time.monotonic() + ACK_LISTEN_MORE_S)
            answer.ok = bool(result and result["ok"])
            if result is None:
                answer.error = "no ack_result"
            elif not result["ok"]:
                answer.error = f"ack_result {result}"
    except (OSError, TimeoutError, threading.BrokenBarrierError, WebSocketException, KeyError) as exc:
        answer.error = answer.error or f"{exc.__class__.__name__}: {exc}"
        barrier.abort()


def _http_ack(port: int, token: str, alert_id: str, barrier: threading.Barrier, answer: AckAnswer) -> None:
    """`POST /api/alerts/<id>/ack/` on a connection opened before the barrier, sent at it."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=ACK_ANSWER_S)
    try:
        conn.connect()
        barrier.wait(ACK_ANSWER_S)
        conn.request(
            "POST",
            f"/api/alerts/{alert_id}/ack/",
            body=b"{}",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        response = conn.getresponse()
        body = json.loads(response.read() or b"{}")
        answer.ok = response.status == 200 and body.get("ok") is True
        if answer.ok:
            answer.told.append((body["by"], body["at"]))
        else:
            answer.error = f"HTTP {response.status} {body}"
    except (OSError, TimeoutError, threading.BrokenBarrierError, ValueError, KeyError) as exc:
        answer.error = f"{exc.__class__.__name__}: {exc}"
        barrier.abort()
    finally:
        conn.close()


def _race(stack: ChaosStack, alert: dict[str, Any], turn: int) -> list[AckAnswer]:
    """Two tabs (the department's user on one web process, a second admin on the other) and
    `chaos_admin` over HTTP acknowledge `alert` at one barrier."""
    alert_id, department = str(alert["_id"]), str(alert["department"])
    first_web, second_web = WEB_NAMES[turn % 2], WEB_NAMES[(turn + 1) % 2]
    barrier = threading.Barrier(3)
    department_user = _department_user(department)
    answers = [
        AckAnswer(f"tab {department_user} on {first_web}"),
        AckAnswer(f"tab chaos_admin_2 on {second_web}"),
        AckAnswer(f"HTTP chaos_admin on {first_web}"),
    ]
    urls = dict(zip(WEB_NAMES, stack.ws_urls, strict=True))
    threads = [
        threading.Thread(
            target=_tab,
            args=(
                urls[first_web],
                stack.tokens[department_user],
                f"dept:{department}",
                alert_id,
                barrier,
                answers[0],
            ),
        ),
        threading.Thread(
            target=_tab,
            args=(urls[second_web], stack.tokens["chaos_admin_2"], "hospital", alert_id, barrier, answers[1]),
        ),
        threading.Thread(
            target=_http_ack,
            args=(stack.stack.port_of(first_web), stack.tokens["chaos_admin"], alert_id, barrier, answers[2]),
        ),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(3 * ACK_ANSWER_S)
    return answers


def _clients_told(load: Load, alert_id: str, department: str) -> dict[int, list[list[tuple[str, str]]]]:
    """Client index → per scope it follows that covers `department`, the `alert_acknowledged`
    (by, at) it applied for the alert."""
    told = {}
    for client in load.clients:
        scopes = [scope for scope in client.scopes if scope in ("hospital", f"dept:{department}")]
        if scopes:
            told[client.index] = [client.acknowledged.get((scope, alert_id), []) for scope in scopes]
    return told


def _judge_race(
    stack: ChaosStack, load: Load, alert: dict[str, Any], answers: list[AckAnswer], notes: list[str]
) -> list[str]:
    """The failures of one race: MongoDB's acknowledgement against the three answers and against
    what the load's clients applied (adds what MongoDB recorded to `notes`)."""
    alert_id, department = str(alert["_id"]), str(alert["department"])
    stored = stack.stack.mongo().alerts.find_one({"_id": alert["_id"]}) or {}
    at = stored.get("acknowledged_at")
    recorded = (str(stored.get("acknowledged_by")), iso(at) if isinstance(at, datetime) else "none")
    notes.append(f"{alert_id} ({department}): recorded {recorded}")
    failures = []
    for answer in answers:
        if answer.error or not answer.ok:
            failures.append(f"{alert_id}: {answer.who} answered {answer.error or 'ok: false'}")
        elif answer.told != [recorded]:
            failures.append(f"{alert_id}: {answer.who} was told {answer.told}, MongoDB has {recorded}")
    try:
        load.wait_until(
            lambda: all(all(per_scope) for per_scope in _clients_told(load, alert_id, department).values()),
            ACK_ANSWER_S,
            f"every client told {alert_id} was acknowledged",
        )
    except AssertionError as exc:
        failures.append(str(exc))
    time.sleep(ACK_LISTEN_MORE_S)  # a second `alert_acknowledged` would come about now
    wrong = {
        index: told
        for index, told in _clients_told(load, alert_id, department).items()
        if any(per_scope != [recorded] for per_scope in told)
    }
    if wrong:
        sample = sorted(wrong.items())[:3]
        failures.append(f"{alert_id}: {len(wrong)} clients applied other than one {recorded}: {sample}")
    return failures


def ack_race(stack: ChaosStack, load: Load) -> FaultResult:
    """Row 10: ACK_RACES times, one new alert acknowledged at the same moment from two tabs (on
    both web processes) and over HTTP. One acknowledgement is recorded, all three answers are
    ok and tell its `by`/`at` (an already-acknowledged alert answers `ok: true` and keeps the
    first, contract §4), and every load client that sees the department applies exactly one
    `alert_acknowledged` with them on each scope it follows."""
    # Alerts of their own: the seeded hospital has few open ones in the departments the
    # department users see, and the simulator writes about one a minute.
    departments = sorted({code for role, codes in USERS.values() if role == "department" for code in codes})
    rng = random.Random(10)
    candidates = [
        new_alert(
            rng,
            created_at=datetime.now(UTC),
            severity="warning",
            department=departments[turn % len(departments)],
        )
        for turn in range(ACK_RACES)
    ]
    stack.stack.mongo().alerts.insert_many(candidates)
    time.sleep(ACK_LISTEN_MORE_S)  # each reaches the clients as an `alert` first
    started = time.monotonic()
    result = FaultResult(started)
    for turn, alert in enumerate(candidates):
        result.failures += _judge_race(stack, load, alert, _race(stack, alert, turn), result.notes)
    result.ended_at = time.monotonic()
    result.notes.append(f"{ACK_RACES} races in {result.ended_at - started:.1f} s")
    return result


def partition_web_from_redis(stack: ChaosStack, load: Load) -> FaultResult:
    """Row 11: the path between PARTITIONED_WEB and Redis blackholed for PARTITION_S
    (chaos/partition.py), then healed. Every client connected to it throughout is told by a
    `status` that a source is down while it lasts, and every client is told all is ok again
    within STATUS_OK_WITHIN_S of the heal."""
    url = dict(zip(WEB_NAMES, stack.ws_urls, strict=True))[PARTITIONED_WEB]
    behind = [c for c in load.clients if c.url == url]
    stack.partition.cut()
    cut_at = time.monotonic()
    time.sleep(PARTITION_S)
    stayed = [c for c in behind if c.url == url and not any(at > cut_at for at in c.disconnects)]
    stack.partition.heal()
    result = FaultResult(time.monotonic(), [f"{PARTITIONED_WEB} cut from Redis {PARTITION_S:.0f} s"])
    told_after = [
        min((at for at, sources in c.statuses if at > cut_at and sources.get("redis") != "ok"), default=None)
        for c in stayed
    ]
    told = sorted(at - cut_at for at in told_after if at is not None)
    result.notes.append(
        f"{len(behind)} clients on {PARTITIONED_WEB}, {len(stayed)} stayed connected through the cut, "
        f"{len(told)} told Redis was down"
        + (f" {told[0]:.1f} to {told[-1]:.1f} s after the cut" if told else "")
    )
    if len(told) < len(stayed):
        result.failures.append(
            f"{len(stayed) - len(told)} clients of {PARTITIONED_WEB} never told Redis was down"
        )
    elsewhere = sum(
        1
        for c in load.clients
        if c not in behind and any(at > cut_at and s.get("redis") != "ok" for at, s in c.statuses)
    )
    result.notes.append(f"{elsewhere} clients of other web processes told Redis was down")
    try:
        seconds = load.wait_until(
            lambda: not any(c.sources_down for c in load.clients),
            STATUS_OK_WITHIN_S,
            "every client told all is ok",
        )
        result.notes.append(f"every client told all is ok {seconds:.1f} s after the heal")
    except AssertionError as exc:
        result.failures.append(str(exc))
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
    7: ("MongoDB storage read-only 30 s", read_only_mongo_storage),
    8: ("watchers and web-2 clock 5 min ahead", clock_ahead),
    9: ("kill 50 % of clients", kill_half_the_clients),
    10: ("ack race: two tabs and HTTP", ack_race),
    11: ("partition web-2 from Redis 15 s", partition_web_from_redis),
    12: ("poison documents", poison_documents),
}

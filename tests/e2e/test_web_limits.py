"""The web process's limits over real sockets: clients that stop reading, frames that are too big.

Real web process (`python -m hospital_dash.web`) on each server it supports, real Redis channel
layer, real sockets. The slow client's receive buffer is made tiny so the server's send buffer
fills quickly.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from devstack.procfile import ROOT
from hospital_dash.web import SERVERS
from tests.e2e.wsclient import DashboardClient
from tests.support.live_stack import LiveStack

pytestmark = pytest.mark.e2e

PASSWORD = "a-long-test-password-4"
PAD_BYTES = 32_000

PUBLISHER = """
import sys, time, django
django.setup()
from dashboard.stream import publish
from dashboard.protocol.scopes import Scope
from tests.support.alerts import sample_alert
updates, alerts, pad = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
for index in range(updates):
    data = {"computed_at": "2030-01-01T00:00:00.000Z", "n": index, "pad": "x" * pad}
    publish.publish_tier(Scope("ER"), "critical", data)
for index in range(alerts):
    publish.publish_alert(Scope("ER"), sample_alert(f"burst-{sys.argv[4]}-{index}"))
print("published", flush=True)
"""


def publish(stack: LiveStack, updates: int, alerts: int, label: str, pad: int = PAD_BYTES) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PUBLISHER, str(updates), str(alerts), str(pad), label],
        cwd=ROOT,
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def web_pid(stack: LiveStack) -> int:
    return stack.processes["web"].pid


def metric(stack: LiveStack, name: str) -> float:
    with urllib.request.urlopen(f"{stack.http_url}/metrics", timeout=5) as response:
        for line in response.read().decode().splitlines():
            if line.startswith(f"{name} "):
                return float(line.split()[1])
    raise AssertionError(f"{name} not exposed")


@contextmanager
def stalled_client(stack: LiveStack, token: str) -> Iterator[ClientConnection]:
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.connect(("127.0.0.1", stack.web_port))
    with connect(stack.ws_url, sock=raw, additional_headers={"Authorization": f"Bearer {token}"}) as client:
        assert json.loads(client.recv(10))["type"] == "hello"
        assert json.loads(client.recv(10))["type"] == "snapshot"
        yield client


def read_all(client: ClientConnection, quiet_s: float = 2.0) -> tuple[list[dict[str, Any]], int | None]:
    """Everything the client can still read, and the close code if the server closed it."""
    got: list[dict[str, Any]] = []
    while True:
        try:
            got.append(json.loads(client.recv(quiet_s)))
        except TimeoutError:
            return got, None
        except Exception:
            return got, client.close_code


def send_until_closed(client: ClientConnection, message: str | list[str]) -> None:
    """Send `message`; a server that closes before the last fragment is written ends the send.

    The close code stays on `client` for `read_all`.
    """
    try:
        client.send(message)
    except ConnectionClosed:
        return


def reading(client: DashboardClient, action: Callable[[], None]) -> list[dict[str, Any]]:
    """Run `action` while another thread keeps reading `client`; what it read."""
    got: list[dict[str, Any]] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            got.extend(client.drain(0.5))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        action()
        time.sleep(2.0)
    finally:
        done.set()
        reader.join()
    return got


@pytest.fixture(scope="module")
def with_users(live_stack: LiveStack) -> LiveStack:
    live_stack.create_user("fast", PASSWORD, "department", "ER")
    live_stack.create_user("slow", PASSWORD, "department", "ER")
    return live_stack


@pytest.fixture(scope="module", params=SERVERS)
def stack(request: pytest.FixtureRequest, with_users: LiveStack) -> Iterator[LiveStack]:
    with_users.start("web", env={"WEB_SERVER": request.param})
    with_users.wait_for_web()
    yield with_users
    with_users.processes.pop("web").stop()


def test_a_replay_bigger_than_the_send_buffer_arrives_whole(stack: LiveStack) -> None:
    """A replay is written in one go, far past the send buffer's 64 KiB mark, to a reading client.

    Before BURST_GRACE_S, all but the first few updates of it waited in the outbox and were
    coalesced into the last one (deterministically on daphne, whose buffer counts a whole reactor
    turn): the client saw a gap, resubscribed, and was sent the same replay again.
    """
    token = stack.access_token("fast", PASSWORD)
    first = DashboardClient(stack.ws_url, token=token)
    assert first.recv(10)["type"] == "hello"
    snapshot = first.recv(10)
    first.close()
    since = {"epoch": snapshot["epoch"], "seq": snapshot["seq"]}
    publish(stack, 60, 0, "replay", pad=16_000)  # about 1 MB of updates

    client = DashboardClient(stack.ws_url, token=token)
    assert client.recv(10)["type"] == "hello"
    assert client.recv(10)["type"] == "snapshot"
    coalesced_before = metric(stack, "dash_ws_coalesced_total")
    client.send({"type": "subscribe", "scope": "dept:ER", "since": since})
    subscribed = client.wait_for(lambda m: m["type"] == "subscribed", 10)
    assert subscribed["recovered"] is True
    replayed = [m["seq"] for m in client.drain(3.0) if m.get("type") == "update"]
    client.close()
    assert replayed == list(range(since["seq"] + 1, since["seq"] + 61))
    assert metric(stack, "dash_ws_coalesced_total") == coalesced_before


def test_a_stalled_client_costs_bounded_memory_and_is_closed_with_1013(stack: LiveStack) -> None:
    healthy = DashboardClient(stack.ws_url, token=stack.access_token("fast", PASSWORD))
    assert healthy.recv(10)["type"] == "hello"
    last_seq = healthy.recv(10)["seq"]
    # The counters sum over every web process this module's stack has run (multiprocess mode).
    coalesced_before = metric(stack, "dash_ws_coalesced_total")
    closed_slow_before = metric(stack, "dash_ws_closed_slow_total")
    with stalled_client(stack, stack.access_token("slow", PASSWORD)) as slow:
        rss_before = rss_kib(web_pid(stack))

        # 1. 400 updates of 32 KB (12.8 MB) and 10 alerts while the slow client reads nothing.
        healthy_seqs = [
            m["seq"] for m in reading(healthy, lambda: publish(stack, 400, 10, "one")) if "seq" in m
        ]
        expected = list(range(last_seq + 1, last_seq + 411))
        assert healthy_seqs == expected, "the healthy client missed messages"
        last_seq = healthy_seqs[-1]
        rss_stalled = rss_kib(web_pid(stack))
        assert rss_stalled - rss_before < 8 * 1024, (
            f"web RSS grew {rss_stalled - rss_before} KiB for a stalled client"
        )
        assert metric(stack, "dash_ws_coalesced_total") > coalesced_before

        # The slow client resumes: every alert arrives, updates were coalesced into seq gaps.
        seen, code = read_all(slow)
        assert code is None
        alerts = [m["alert"]["id"] for m in seen if m["type"] == "alert"]
        assert alerts == [f"burst-one-{index}" for index in range(10)]
        seqs = [m["seq"] for m in seen if "seq" in m]
        assert seqs == sorted(seqs), "out of order"
        assert seqs[-1] == last_seq, "the latest message did not arrive"
        assert len(seqs) < 410, "nothing was coalesced"

        # 2. Stalled again, it falls too far behind (more than 256 alerts waiting): closed with 1013.
        second = reading(healthy, lambda: publish(stack, 300, 300, "two"))
        assert len([m for m in second if m["type"] == "alert"]) == 300
        seen, code = read_all(slow, quiet_s=5.0)
        assert code == 1013, f"closed with {code} after {len(seen)} messages\n{stack.logs()}"
        assert metric(stack, "dash_ws_closed_slow_total") == closed_slow_before + 1
    healthy.close()


def test_frames_over_4_kib_close_with_1009_and_memory_stays_flat(stack: LiveStack) -> None:
    token = stack.access_token("fast", PASSWORD)
    rss_before = rss_kib(web_pid(stack))
    for round_number in range(20):
        with connect(stack.ws_url, additional_headers={"Authorization": f"Bearer {token}"}) as client:
            client.recv(10)
            client.recv(10)
            if round_number % 2:
                send_until_closed(client, "x" * 900_000)  # one frame of 900 KB
            else:
                # 8 KiB in four 2 KiB fragments; uvicorn may close after the second one.
                send_until_closed(client, ["y" * 2048 for _ in range(4)])
            seen, code = read_all(client, quiet_s=5.0)
            assert code == 1009, f"round {round_number}: closed with {code} after {seen}"
    rss_after = rss_kib(web_pid(stack))
    assert rss_after - rss_before < 16 * 1024, f"web RSS grew {rss_after - rss_before} KiB"


def test_no_token_or_ticket_reaches_the_web_log(stack: LiveStack) -> None:
    token = stack.access_token("fast", PASSWORD)
    status, body = stack.post_json("/api/ws-ticket/", {}, token=token)
    assert status == 200
    ticket = body["ticket"]
    with connect(f"{stack.ws_url}?ticket={ticket}") as client:
        assert json.loads(client.recv(10))["type"] == "hello"
    with connect(stack.ws_url, additional_headers={"Authorization": f"Bearer {token}"}) as client:
        assert json.loads(client.recv(10))["type"] == "hello"
    stack.get_json("/api/snapshot/?scope=dept:ER", token)
    time.sleep(1)
    log = stack.processes["web"].log_path.read_text()
    assert "WSCONNECT" in log or "ws/dashboard" in log, "the log shows no connection at all"
    assert ticket not in log
    assert token not in log
    assert token.split(".")[2] not in log

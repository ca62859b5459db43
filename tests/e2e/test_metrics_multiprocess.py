"""/metrics in multiprocess mode: two web processes of one stack share PROMETHEUS_MULTIPROC_DIR,
and either one's /metrics shows the open connections of both, by server and summed, and each
process's memory, CPU and descriptors by pid. A web process killed with SIGKILL leaves the live
figures at the next scrape while the counters it wrote stay in the sums."""

from __future__ import annotations

import signal
import time

import pytest

from devstack.services import free_port
from tests.e2e.wsclient import DashboardClient
from tests.support import metrics_text
from tests.support.live_stack import LiveStack

pytestmark = pytest.mark.e2e

PASSWORD = "a-long-test-password-1"


@pytest.fixture(scope="module")
def two_webs(live_stack: LiveStack) -> tuple[LiveStack, list[str]]:
    live_stack.create_user("metrics-admin", PASSWORD, "admin")
    live_stack.create_user("metrics-viewer", PASSWORD, "viewer")
    webs = live_stack.start_instances("web", 2)
    for name in webs:
        live_stack.wait_for_web(name=name, port=live_stack.port_of(name))
    # The stack's HTTP helpers (tokens) go to the first web process.
    live_stack.web_port = live_stack.port_of(webs[0])
    return live_stack, webs


def test_either_web_process_shows_the_open_connections_of_both(two_webs) -> None:
    stack, (first, second) = two_webs
    ports = {name: stack.port_of(name) for name in (first, second)}
    admin = stack.access_token("metrics-admin", PASSWORD)
    viewer = stack.access_token("metrics-viewer", PASSWORD)
    clients = [
        DashboardClient(f"ws://127.0.0.1:{ports[first]}/ws/dashboard/", token=admin),
        DashboardClient(f"ws://127.0.0.1:{ports[first]}/ws/dashboard/", token=viewer),
        DashboardClient(f"ws://127.0.0.1:{ports[second]}/ws/dashboard/", token=admin),
    ]
    try:
        for client in clients:
            client.wait_for(lambda message: message["type"] == "hello", 10)
        for name in (first, second):
            text = metrics_text.scrape(ports[name])
            assert metrics_text.open_connections(text) == 3, text
            assert metrics_text.open_connections(text, ports[first]) == 2
            assert metrics_text.open_connections(text, ports[second]) == 1
            roles = {
                labels["role"]: value
                for labels, value in metrics_text.samples(text, "dash_ws_connections")
                if labels["server"].endswith(f":{ports[first]}")
            }
            assert roles == {"admin": 1, "viewer": 1}
            hellos = metrics_text.samples(text, "dash_ws_messages_sent_total")
            assert {"type": "hello"} in [labels for labels, _ in hellos]
            assert sum(value for labels, value in hellos if labels["type"] == "hello") >= 3
            handshakes = metrics_text.samples(text, "dash_ws_handshake_seconds_count")
            assert handshakes
            assert handshakes[0][1] >= 3
            memory = metrics_text.samples(text, "dash_process_resident_memory_bytes")
            web_pids = {
                labels["pid"] for labels, value in memory if labels["role"] == "web" and value > 10_000_000
            }
            assert len(web_pids) >= 2, memory
    finally:
        for client in clients:
            client.close()
    # Closed connections leave the live sum.
    deadline = time.monotonic() + 10
    while metrics_text.open_connections(metrics_text.scrape(ports[second])) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert metrics_text.open_connections(metrics_text.scrape(ports[second])) == 0


def test_a_web_process_shows_what_celery_children_counted(two_webs) -> None:
    stack, (first, _second) = two_webs
    stack.start("worker", "beat")
    stack.wait_for_log("worker", "ready")
    deadline = time.monotonic() + 30
    while True:
        text = metrics_text.scrape(stack.port_of(first))
        succeeded = sum(
            value
            for labels, value in metrics_text.samples(text, "dash_celery_tasks_total")
            if labels["outcome"] == "success"
        )
        computed = sum(value for _, value in metrics_text.samples(text, "dash_tier_compute_seconds_count"))
        if (succeeded and computed) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert succeeded > 0, text
    assert computed > 0, text
    roles = {labels["role"] for labels, _ in metrics_text.samples(text, "dash_process_resident_memory_bytes")}
    assert {"web", "worker", "beat"} <= roles, roles


def test_a_web_process_killed_with_sigkill_leaves_the_live_figures_counters_stay(two_webs) -> None:
    stack, (first, _second) = two_webs
    port = stack.port_of(first)
    stack.start("web", as_name="web-killed", env={"PORT": str(free_port())})
    killed_port = stack.port_of("web-killed")
    stack.wait_for_web(name="web-killed", port=killed_port)
    killed_pid = str(stack.processes["web-killed"].pid)
    admin = stack.access_token("metrics-admin", PASSWORD)
    survivor = DashboardClient(f"ws://127.0.0.1:{port}/ws/dashboard/", token=admin)
    doomed = [DashboardClient(f"ws://127.0.0.1:{killed_port}/ws/dashboard/", token=admin) for _ in range(2)]
    try:
        for client in (survivor, *doomed):
            client.wait_for(lambda message: message["type"] == "hello", 10)
        before = metrics_text.scrape(port)
        assert metrics_text.open_connections(before, killed_port) == 2, before
        assert metrics_text.open_connections(before) == 3
        pids = {
            labels["pid"] for labels, _ in metrics_text.samples(before, "dash_process_resident_memory_bytes")
        }
        assert killed_pid in pids
        sent_before = sum(v for _, v in metrics_text.samples(before, "dash_ws_messages_sent_total"))

        stack.processes["web-killed"].signal(signal.SIGKILL)
        deadline = time.monotonic() + 10
        while stack.processes["web-killed"].alive():
            assert time.monotonic() < deadline, "web-killed outlived SIGKILL"
            time.sleep(0.05)
        after = metrics_text.scrape(port)
    finally:
        for client in (survivor, *doomed):
            client.close()
    assert metrics_text.open_connections(after, killed_port) == 0, after
    assert metrics_text.open_connections(after) == 1
    pids = {labels["pid"] for labels, _ in metrics_text.samples(after, "dash_process_resident_memory_bytes")}
    assert killed_pid not in pids
    # Counters keep what the dead process counted: they never go down.
    assert sum(v for _, v in metrics_text.samples(after, "dash_ws_messages_sent_total")) >= sent_before

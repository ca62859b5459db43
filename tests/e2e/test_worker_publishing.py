"""A real Celery worker running hundreds of tier tasks publishes through one loop and one pool.

`async_to_sync(group_send)` per message in a worker makes an event loop and a Redis pool each
time (channels_redis#332, #266). Ours keeps one per process (dashboard/stream/layer_bridge.py): the
client, through real daphne, gets every update and Redis's connection count stays flat.
"""

from __future__ import annotations

import time

import pytest

from dashboard.protocol.scopes import HOSPITAL_SCOPE
from dashboard.sources import redis_store
from tests.e2e.wsclient import DashboardClient
from tests.support.live_stack import LiveStack

pytestmark = pytest.mark.e2e

PASSWORD = "a-long-test-password-5"
TASKS = 300


def test_a_worker_running_300_tier_tasks_delivers_them_all_with_flat_connections(
    live_stack: LiveStack,
) -> None:
    live_stack.create_user("ada", PASSWORD, "admin")
    live_stack.start("web", "worker")
    live_stack.wait_for_web()
    live_stack.wait_for_log("worker", "ready")
    client = DashboardClient(live_stack.ws_url, token=live_stack.access_token("ada", PASSWORD))
    assert client.recv(10)["type"] == "hello"
    start_seq = client.recv(10)["seq"]

    queued = live_stack.manage(
        "shell",
        "-c",
        f"from dashboard.tasks import run_tier\nfor _ in range({TASKS}): run_tier.delay('critical')",
    )
    assert queued.returncode == 0, queued.stderr
    # Connections once the worker is warm (its first task opens its pool), then at the end.
    seq_key = redis_store.seq_key(HOSPITAL_SCOPE)
    deadline = time.monotonic() + 60
    while int(live_stack.redis().get(seq_key) or 0) < start_seq + 20 and time.monotonic() < deadline:
        time.sleep(0.1)
    warm_clients = len(live_stack.redis().client_list())
    updates = []
    deadline = time.monotonic() + 120
    while len(updates) < TASKS and time.monotonic() < deadline:
        try:
            message = client.recv(5)
        except TimeoutError:
            continue
        if message["type"] == "update" and message["scope"] == "hospital":
            updates.append(message["seq"])
    client.close()
    assert len(updates) == TASKS, f"{len(updates)} of {TASKS} updates arrived"
    assert updates == sorted(updates), "updates out of order"
    assert len(live_stack.redis().client_list()) <= warm_clients + 2, (
        "the worker kept opening Redis connections"
    )
    worker_log = live_stack.processes["worker"].log_path.read_text()
    assert "Event loop is closed" not in worker_log
    assert "Traceback" not in worker_log

"""/readyz answers within 1 s while Redis and MongoDB hang (stopped with SIGSTOP: they accept
connections and never answer), with both `down`, and 200 again once they go on.

The test session's Redis and MongoDB are shared by every test, so this one starts its own
of each and points a web process at them.
"""

from __future__ import annotations

import json
import signal
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from devstack.services import ManagedProcess, start_mongo, start_redis
from tests.support.live_stack import LiveStack

pytestmark = pytest.mark.e2e

ANSWER_WITHIN_S = 1.0
RECOVER_WITHIN_S = 15.0


def readyz(stack: LiveStack) -> tuple[int, dict[str, Any], float]:
    """Status, body and the seconds the answer took."""
    started = time.monotonic()
    try:
        with urllib.request.urlopen(f"{stack.http_url}/readyz", timeout=5) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    return status, json.loads(raw), time.monotonic() - started


def test_readyz_answers_within_1_s_while_redis_and_mongo_hang(test_tmp: Path) -> None:
    root = test_tmp / f"hung-{time.monotonic_ns()}"
    redis_proc, redis_url = start_redis(root / "redis")
    mongo_proc: ManagedProcess | None = None
    stack: LiveStack | None = None
    try:
        mongo_proc, mongo_url = start_mongo(root / "mongo")
        stack = LiveStack(root=root / "stack", redis_url=redis_url, mongo_url=mongo_url, database_url=None)
        stack.start("web")
        stack.wait_for_web()
        status, body, _ = readyz(stack)
        assert status == 200, body
        assert body["checks"]["redis"]["state"] == "ok"
        assert body["checks"]["mongo"]["latency_ms"] >= 0
        sources = (redis_proc, mongo_proc)
        for proc in sources:
            proc.signal(signal.SIGSTOP)
        try:
            for _ in range(3):
                status, body, took = readyz(stack)
                assert status == 503, body
                assert took < ANSWER_WITHIN_S, took
                assert body["sources"] == {"redis": "down", "mongo": "down", "channel_layer": "down"}
                for name in ("redis", "mongo"):
                    check = body["checks"][name]
                    assert check["last_error"] == "timed out after 700 ms", check
                    assert check["last_error_at"]
                assert body["watcher"] == {"lag_s": None, "report_age_s": None}
        finally:
            for proc in sources:
                proc.signal(signal.SIGCONT)
        deadline = time.monotonic() + RECOVER_WITHIN_S
        while (status := readyz(stack)[0]) != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        status, body, _ = readyz(stack)
        assert status == 200, body
        # The last error stays, for whoever looks after the outage.
        assert body["checks"]["mongo"]["last_error"] == "timed out after 700 ms"
    finally:
        if stack is not None:
            stack.stop()
        if mongo_proc is not None:
            mongo_proc.stop()
        redis_proc.stop()

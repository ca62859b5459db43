"""The client address on both real servers: X-Forwarded-For counts only from TRUSTED_PROXIES.

Each web process runs with METRICS_ALLOWED_IPS=10.0.0.1, so whether /metrics answers says which
address the service took for the client; the access log shows the same address for an API read
and for a WebSocket connection.
"""

from __future__ import annotations

import itertools
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from hospital_dash.web import SERVERS
from tests.e2e.wsclient import DashboardClient
from tests.support.live_stack import LiveStack

pytestmark = pytest.mark.e2e

PASSWORD = "pw-proxied-123456"
USER = "proxied"
# A fresh forwarded client for each login-throttle check: attempts stay in the stack's database.
CLIENTS = (f"198.51.100.{n}" for n in itertools.count(100))


@pytest.fixture(scope="module")
def with_user(live_stack: LiveStack) -> LiveStack:
    live_stack.create_user(USER, PASSWORD, "department", "ER")
    return live_stack


def start_web(stack: LiveStack, server: str, trusted_proxies: str) -> Iterator[LiveStack]:
    stack.start(
        "web",
        env={"WEB_SERVER": server, "METRICS_ALLOWED_IPS": "10.0.0.1", "TRUSTED_PROXIES": trusted_proxies},
    )
    stack.wait_for_web()
    yield stack
    stack.processes.pop("web").stop()


@pytest.fixture(params=SERVERS)
def untrusted(request: pytest.FixtureRequest, with_user: LiveStack) -> Iterator[LiveStack]:
    """The web process with the default TRUSTED_PROXIES (none)."""
    yield from start_web(with_user, request.param, "")


@pytest.fixture(params=SERVERS)
def behind_proxy(request: pytest.FixtureRequest, with_user: LiveStack) -> Iterator[LiveStack]:
    """The web process trusting 127.0.0.1, where the tests' requests come from, as a proxy."""
    yield from start_web(with_user, request.param, "127.0.0.1")


def metrics_status(stack: LiveStack, forwarded_for: str) -> int:
    request = urllib.request.Request(f"{stack.http_url}/metrics", headers={"X-Forwarded-For": forwarded_for})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def api_read_address(stack: LiveStack, token: str, forwarded_for: str) -> str:
    """The client address the access log recorded for one API read sent with `forwarded_for`."""
    request = urllib.request.Request(
        f"{stack.http_url}/api/alerts/?scope=dept:ER",
        headers={"Authorization": f"Bearer {token}", "X-Forwarded-For": forwarded_for},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    return last_address(stack, "api_read")


def connect_address(stack: LiveStack, token: str, forwarded_for: str) -> str:
    """The client address the access log recorded for one WebSocket connection."""
    client = DashboardClient(stack.ws_url, token=token, headers={"X-Forwarded-For": forwarded_for})
    assert client.recv(10)["type"] == "hello"
    client.close()
    time.sleep(2.0)  # WebSocket entries are saved in bulk about once a second
    return last_address(stack, "connect")


def login(stack: LiveStack, username: str, password: str, forwarded_for: str) -> tuple[int, str | None]:
    """(status, Retry-After) of POST /api/auth/token/ sent through the trusted proxy."""
    request = urllib.request.Request(
        f"{stack.http_url}/api/auth/token/",
        data=json.dumps({"username": username, "password": password}).encode(),
        headers={"Content-Type": "application/json", "X-Forwarded-For": forwarded_for},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status), response.headers.get("Retry-After")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Retry-After")


def last_address(stack: LiveStack, action: str) -> str:
    code = (
        "from dashboard.models import AccessLog; "
        f"print(AccessLog.objects.filter(username={USER!r}, action={action!r}).first().client_address)"
    )
    result = stack.manage("shell", "--no-imports", "-c", code)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_a_forwarded_for_from_an_untrusted_peer_changes_nothing(untrusted: LiveStack) -> None:
    assert metrics_status(untrusted, "10.0.0.1") == 403
    token = untrusted.access_token(USER, PASSWORD)
    assert api_read_address(untrusted, token, "203.0.113.9") == "127.0.0.1"
    assert connect_address(untrusted, token, "203.0.113.9") == "127.0.0.1"


def test_behind_a_trusted_proxy_the_rightmost_untrusted_address_is_the_client(
    behind_proxy: LiveStack,
) -> None:
    assert metrics_status(behind_proxy, "10.0.0.1") == 200
    # A client claiming 10.0.0.1 through the proxy: the proxy appends the real address.
    assert metrics_status(behind_proxy, "10.0.0.1, 198.51.100.7") == 403
    # Trusted hops (127.0.0.1) on the right are skipped; the leftmost entry is never taken.
    assert metrics_status(behind_proxy, "198.51.100.7, 10.0.0.1, 127.0.0.1") == 200
    token = behind_proxy.access_token(USER, PASSWORD)
    assert api_read_address(behind_proxy, token, "203.0.113.9, 198.51.100.7") == "198.51.100.7"
    assert connect_address(behind_proxy, token, "203.0.113.9, 198.51.100.8") == "198.51.100.8"
    # The login throttle counts the same address: one forwarded client's five failures (on five
    # usernames) lock that client out, right password or not; another client is not affected.
    guesser, other = next(CLIENTS), next(CLIENTS)
    assert [login(behind_proxy, f"guess-{guesser}-{n}", "wrong", guesser)[0] for n in range(5)] == [
        401
    ] * 4 + [429]
    assert login(behind_proxy, USER, PASSWORD, guesser) == (429, "900")
    assert login(behind_proxy, USER, PASSWORD, other)[0] == 200

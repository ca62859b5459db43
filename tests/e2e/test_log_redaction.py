"""Every log line of every process is JSON with its role, and none holds a credential or a
patient's value.

Real web (on each server it supports), Celery worker and beat and the watcher run with
LOG_FORMAT=json and LOG_LEVEL=DEBUG. The test logs in through the login form, takes and
refreshes tokens, connects by ticket, by Bearer token and by session cookie, reauthenticates
over a socket, tries a wrong password and bad tokens, and changes patient documents (one of
them invalid, so it is skipped and logged by `_id`). Then it reads every line each process
wrote (stdout and stderr, kept per process by LiveStack) and looks for every secret it used
and the patient values it seeded.
"""

from __future__ import annotations

import http.cookiejar
import json
import re
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from hospital_dash.web import SERVERS
from tests.e2e.wsclient import DashboardClient
from tests.support.live_stack import LiveStack

pytestmark = pytest.mark.e2e

PASSWORD = "pw-log-redaction-" + uuid.uuid4().hex
WRONG_PASSWORD = "wrong-pw-" + uuid.uuid4().hex
ROLE_OF = {"worker": "worker", "beat": "beat", "watcher": "watcher"}
# Unique values put into patient documents; none may appear in any log line.
SEEDED_MARKERS: list[str] = []


def patient(marker: str, **fields: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "department": "ER",
        "status": "admitted",
        "is_emergency": True,
        "admitted_at": now - timedelta(hours=1),
        "discharged_at": None,
        "name": f"Patient {marker}",
        "mrn": f"MRN-{marker}",
        **fields,
    }


@pytest.fixture(scope="module")
def stack(live_stack: LiveStack) -> Iterator[LiveStack]:
    live_stack.env.update({"LOG_FORMAT": "json", "LOG_LEVEL": "DEBUG"})
    marker = uuid.uuid4().hex
    SEEDED_MARKERS.append(marker)
    live_stack.mongo().patients.insert_one(patient(marker))
    live_stack.create_user("logs_admin", PASSWORD, "admin")
    live_stack.start("worker", "beat", "watcher")
    live_stack.wait_for_log("watcher", "6 of 6 change streams open")
    live_stack.wait_for_log("worker", "ready")
    return live_stack


class Browser:
    """A cookie-keeping HTTP client that logs in through the login form."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    def cookie(self, name: str) -> str:
        return next(cookie.value for cookie in self.cookies if cookie.name == name) or ""

    def log_in(self, username: str, password: str) -> int:
        with self.opener.open(f"{self.base_url}/accounts/login/", timeout=10) as page:
            form = page.read().decode()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form)
        assert token is not None
        body = urllib.parse.urlencode(
            {"username": username, "password": password, "csrfmiddlewaretoken": token.group(1)}
        ).encode()
        request = urllib.request.Request(f"{self.base_url}/accounts/login/", data=body, method="POST")
        with self.opener.open(request, timeout=10) as response:
            return int(response.status)


def post(stack: LiveStack, path: str, body: dict[str, Any], **headers: str) -> tuple[int, dict, Any]:
    """(status, JSON body, response headers: case-insensitive)."""
    request = urllib.request.Request(
        f"{stack.http_url}{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **headers},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read()), response.headers
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}"), exc.headers


def closed_code(client: DashboardClient) -> int | None:
    try:
        while True:
            client.connection.recv(timeout=10)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None


def drive(stack: LiveStack) -> dict[str, str]:
    """Every way in, with credentials; returns each secret used, by what it is."""
    secrets = {"password": PASSWORD, "wrong password": WRONG_PASSWORD}

    browser = Browser(stack.http_url)
    assert browser.log_in("logs_admin", WRONG_PASSWORD) == 200  # the form again, with its error
    assert browser.log_in("logs_admin", PASSWORD) == 200  # redirected to the dashboard page
    secrets["session cookie"] = browser.cookie("sessionid")
    secrets["csrf cookie"] = browser.cookie("csrftoken")

    status, tokens, _ = post(stack, "/api/auth/token/", {"username": "logs_admin", "password": PASSWORD})
    assert status == 200, tokens
    secrets["access token"], secrets["refresh token"] = tokens["access"], tokens["refresh"]
    status, refreshed, _ = post(stack, "/api/auth/token/refresh/", {"refresh": tokens["refresh"]})
    assert status == 200, refreshed
    secrets["refreshed access token"] = refreshed["access"]
    secrets["rotated refresh token"] = refreshed["refresh"]
    # A refused request is logged by Django (401): under the request id the proxy gave it.
    status, wrong, headers = post(
        stack,
        "/api/auth/token/",
        {"username": "logs_admin", "password": WRONG_PASSWORD},
        **{"X-Request-ID": "e2e-log-1"},
    )
    assert status == 401, wrong
    assert headers.get("X-Request-ID") == "e2e-log-1"

    status, issued, _ = post(stack, "/api/ws-ticket/", {}, Authorization=f"Bearer {tokens['access']}")
    assert status == 200, issued
    secrets["ticket"] = issued["ticket"]
    by_ticket = DashboardClient(f"{stack.ws_url}?ticket={urllib.parse.quote(issued['ticket'])}")
    assert by_ticket.recv(10)["type"] == "hello"

    by_token = DashboardClient(stack.ws_url, token=tokens["access"])
    assert by_token.recv(10)["type"] == "hello"
    by_token.send({"type": "reauth", "token": refreshed["access"]})
    by_token.send({"type": "ping", "request_id": 1})
    by_token.wait_for(lambda message: message["type"] == "pong", 10)

    origin = {"Origin": stack.http_url, "Cookie": f"sessionid={secrets['session cookie']}"}
    by_session = DashboardClient(stack.ws_url, headers=origin)
    assert by_session.recv(10)["type"] == "hello"

    # Bad tokens: a forged signature over the real claims, and a token of the wrong user on reauth.
    forged = tokens["access"][:-6] + ("AAAAAA" if not tokens["access"].endswith("AAAAAA") else "BBBBBB")
    secrets["forged token"] = forged
    assert closed_code(DashboardClient(stack.ws_url, token=forged)) == 4401, stack.logs()
    status, _, _ = post(stack, "/api/ws-ticket/", {}, Authorization=f"Bearer {forged}")
    assert status == 401
    by_session.send({"type": "reauth", "token": forged})
    assert closed_code(by_session) == 4401

    # Patients change while the sockets are open: one valid, one the readers must skip.
    for fields in ({}, {"status": "not-a-status"}):
        marker = uuid.uuid4().hex
        SEEDED_MARKERS.append(marker)
        stack.mongo().patients.insert_one(patient(marker, **fields))
    by_token.wait_for(lambda message: message["type"] == "update", 15)
    time.sleep(6)  # a critical tier run of beat and the worker reads them too
    for client in (by_ticket, by_token):
        client.close()
    time.sleep(2)  # their consumers log the close
    return secrets


@pytest.mark.parametrize("server", SERVERS)
def test_every_line_is_json_with_its_role_and_carries_no_secret(stack: LiveStack, server: str) -> None:
    name = f"web-{server}"
    stack.start("web", as_name=name, env={"WEB_SERVER": server})
    web = stack.processes[name]
    try:
        stack.wait_for_web(name=name)
        secrets = drive(stack)
    finally:
        stack.processes.pop(name).stop()
    for marker in SEEDED_MARKERS:
        secrets[f"patient value {marker}"] = marker
    assert all(len(value) >= 16 for value in secrets.values()), secrets

    logs = {name: web.log_path, **{key: stack.processes[key].log_path for key in ROLE_OF}}
    consumer_lines = 0
    for process, path in logs.items():
        role = "web" if process.startswith("web") else ROLE_OF[process]
        lines = [line for line in path.read_text().splitlines() if line.strip()]
        assert lines, f"{process} logged nothing"
        for number, line in enumerate(lines, 1):
            where = f"{process} line {number}: {line[:300]}"
            for what, value in secrets.items():
                assert value not in line, f"{what} in {where}"
            record = json.loads(line)
            assert record["role"] == role, where
            assert {"timestamp", "level", "logger", "message"} <= set(record), where
            if record["logger"] == "dashboard.realtime.consumer":
                consumer_lines += 1
                assert record.get("connection_id"), where
                # Every line of a connection names its user, but a handshake refused for want of
                # valid credentials has none.
                if not record["message"].startswith("handshake refused with 4401 (credentials: none valid)"):
                    assert record.get("user_id"), where
    assert consumer_lines >= 6, "each connection opened and closed: two DEBUG lines each"
    web_lines = [json.loads(line) for line in web.log_path.read_text().splitlines() if line.strip()]
    assert any(line.get("request_id") == "e2e-log-1" for line in web_lines), "the proxy's request id"

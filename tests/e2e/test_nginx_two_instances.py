"""Two web processes behind Debian's nginx, configured from deploy/nginx's template.

Real nginx terminates TLS (a self-signed certificate made here) and balances WebSockets with
least_conn across two web processes; two Celery workers, beat and two watchers (one standing
by) share the test Redis and MongoDB. Clients connect over wss through nginx and follow the
hospital scope. One web process is killed with SIGKILL: its clients reconnect through nginx
to the other, resubscribe with `since`, and every alert inserted before, during and after
the kill reaches every client, in seq order without a gap.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.scope_follower import ScopeFollower
from tests.support import failover_results, metrics_text
from tests.support.live_stack import LiveStack
from tests.support.nginx import Certificate, Nginx, configure_nginx, self_signed_certificate

pytestmark = pytest.mark.e2e

PASSWORD = "a-long-test-password-1"
USERS = 6
CLIENTS_PER_USER = 2
ALERT_EVERY_S = 0.25
CATCH_UP_TIMEOUT_S = 30.0


@pytest.fixture(scope="module")
def proxied(live_stack: LiveStack) -> Iterator[tuple[LiveStack, Nginx, Certificate]]:
    for index in range(USERS):
        live_stack.create_user(f"admin{index}", PASSWORD, "admin")
    # Production's HTTPS behaviour: the scheme comes from nginx's X-Forwarded-Proto.
    live_stack.env["SECURE_SSL_REDIRECT"] = "true"
    # nginx on 127.0.0.1 is the one proxy whose X-Forwarded-For and -Proto the web processes believe.
    live_stack.env["TRUSTED_PROXIES"] = "127.0.0.1"
    webs = live_stack.start_instances("web", 2)
    for name in webs:
        live_stack.wait_for_web(name=name, port=live_stack.port_of(name))
    live_stack.start_instances("worker", 2)
    live_stack.start("watcher", as_name="watcher-1")
    live_stack.wait_for_log("watcher-1", "6 of 6 change streams open")
    live_stack.start("watcher", as_name="watcher-2")  # stands by: the lease is held
    live_stack.start("beat")
    certificate = self_signed_certificate(live_stack.root / "tls")
    nginx = configure_nginx(
        live_stack.root / "nginx", certificate, [live_stack.port_of(name) for name in webs]
    )
    nginx.start()
    try:
        yield live_stack, nginx, certificate
    finally:
        nginx.stop()


def https_json(nginx: Nginx, certificate: Certificate, path: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        f"https://127.0.0.1:{nginx.https_port}{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10, context=certificate.client_context()) as response:
        return dict(json.loads(response.read()))


def open_connections(stack: LiveStack, name: str) -> int:
    """Open connections of one web process, scraped directly over plain HTTP (every web
    process's /metrics shows them all, by server)."""
    port = stack.port_of(name)
    return metrics_text.open_connections(metrics_text.scrape(port), port)


def insert_alert(stack: LiveStack, label: str) -> str:
    doc = {
        "department": "ER",
        "severity": "critical",
        "kind": "code_blue",
        "message": f"failover test {label}",
        "created_at": datetime.now(UTC),
        "acknowledged_at": None,
        "acknowledged_by": None,
    }
    return str(stack.mongo().alerts.insert_one(doc).inserted_id)


async def until(condition: Any, timeout_s: float, what: str) -> float:
    """Wait until condition() holds; the moment it did (time.monotonic())."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s} s: {what}")
        await asyncio.sleep(0.02)
    return time.monotonic()


async def insert_alerts(stack: LiveStack, labels: list[str], inserted: list[tuple[str, float]]) -> None:
    for label in labels:
        alert_id = await asyncio.to_thread(insert_alert, stack, label)
        inserted.append((alert_id, time.monotonic()))
        await asyncio.sleep(ALERT_EVERY_S)


async def failover(
    stack: LiveStack, nginx: Nginx, certificate: Certificate
) -> tuple[list[ScopeFollower], list[tuple[str, float]], float, float]:
    """Clients through nginx; alerts before, during and after web-1 is killed.

    Returns the clients, the alerts inserted (id, when), the moment of the kill and the moment
    every client had reconnected where needed and applied every alert inserted before the kill.
    """
    tokens = [
        https_json(nginx, certificate, "/api/auth/token/", {"username": f"admin{i}", "password": PASSWORD})
        for i in range(USERS)
    ]
    url = f"wss://127.0.0.1:{nginx.https_port}/ws/dashboard/"
    tls = certificate.client_context()
    followers = [
        ScopeFollower(f"client-{i}", url, tokens[i % USERS]["access"], tls)
        for i in range(USERS * CLIENTS_PER_USER)
    ]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(follower.run(stop)) for follower in followers]
    inserted: list[tuple[str, float]] = []

    def have_all(before: float = float("inf")) -> bool:
        wanted = {alert_id for alert_id, at in inserted if at < before}
        return all(f.synced and wanted <= f.alerts.keys() for f in followers)

    try:
        await until(lambda: all(f.synced for f in followers), 30, "every client has its snapshot")
        spread = [open_connections(stack, name) for name in ("web-1", "web-2")]
        assert min(spread) >= 1, f"nginx did not spread the clients: {spread}"

        await insert_alerts(stack, [f"before-{i}" for i in range(5)], inserted)
        await until(have_all, 15, "every client has the alerts inserted before the kill")

        during = asyncio.create_task(insert_alerts(stack, [f"during-{i}" for i in range(16)], inserted))
        await asyncio.sleep(4 * ALERT_EVERY_S)
        killed_at = time.monotonic()
        stack.processes["web-1"].signal(signal.SIGKILL)

        def caught_up() -> bool:
            moved = [f for f in followers if f.disconnects and f.disconnects[-1] > killed_at]
            recovered = all(f.recoveries and f.recoveries[-1] > killed_at for f in moved)
            return bool(moved) and recovered and have_all(before=killed_at)

        caught_up_at = await until(caught_up, CATCH_UP_TIMEOUT_S, "the killed process's clients caught up")
        await during
        await insert_alerts(stack, [f"after-{i}" for i in range(5)], inserted)
        await until(have_all, CATCH_UP_TIMEOUT_S, "every client has every alert")
        on_survivor = open_connections(stack, "web-2")
        assert on_survivor == len(followers), f"web-2 holds {on_survivor} of {len(followers)} clients"
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    return followers, inserted, killed_at, caught_up_at


def test_clients_through_nginx_lose_nothing_when_a_web_process_is_killed(
    proxied: tuple[LiveStack, Nginx, Certificate], record_property: Any
) -> None:
    stack, nginx, certificate = proxied
    followers, inserted, killed_at, caught_up_at = asyncio.run(failover(stack, nginx, certificate))

    assert not [f"{f.name}: {e}" for f in followers for e in f.errors], stack.logs()
    everything = {alert_id for alert_id, _ in inserted}
    assert len(everything) == 26
    assert all(f.alerts.keys() == everything for f in followers)
    moved = [f for f in followers if f.disconnects]
    assert 0 < len(moved) < len(followers), "only the killed process's clients reconnect"
    assert all(len(f.recoveries) == len(f.disconnects) for f in followers)

    seconds = caught_up_at - killed_at
    record_property("failover_s", round(seconds, 3))
    replayed = [f.replayed for f in moved]
    assert all(f.replayed == 0 for f in followers if not f.disconnects)
    failover_results.record(
        "nginx_web_instance_kill",
        {
            "clients": len(followers),
            "clients_moved": len(moved),
            "caught_up_s": round(seconds, 2),
            "alerts": len(everything),
            "messages_replayed_per_moved_client": replayed,
            "messages_replayed_total": sum(replayed),
        },
    )


def test_metrics_through_nginx_answers_the_allowlist(proxied: tuple[LiveStack, Nginx, Certificate]) -> None:
    _, nginx, certificate = proxied
    url = f"https://127.0.0.1:{nginx.https_port}/metrics"
    with urllib.request.urlopen(url, timeout=10, context=certificate.client_context()) as response:
        assert response.status == 200
        assert "dash_redis_up 1" in response.read().decode()


def test_nginx_ran_from_the_tests_own_directory(proxied: tuple[LiveStack, Nginx, Certificate]) -> None:
    stack, nginx, _ = proxied
    assert nginx.prefix.is_relative_to(stack.root)
    assert (nginx.prefix / "nginx.pid").read_text().strip() == str(nginx.process.pid if nginx.process else "")
    assert Path(nginx.prefix / "logs" / "access.log").exists()

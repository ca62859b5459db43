"""The consumer's duties over time: token and session expiry, access changes, limits, recovery.

Through the real auth stack, the real Redis channel layer and the per-process ticker.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.test import Client
from rest_framework_simplejwt.tokens import AccessToken

from dashboard.access.users import upsert_dashboard_user
from dashboard.models import AccessLog
from dashboard.protocol.scopes import Scope
from dashboard.realtime import auth_lifetime, consumer
from dashboard.sources import health
from dashboard.stream import publish, tier_cache
from tests.support.alerts import sample_alert
from tests.support.ws import (
    TIERS,
    bearer,
    closed_with,
    closed_with_within,
    next_of_type,
    open_socket,
    session_cookie,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


def short_lived(user: Any, seconds: int) -> str:
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=timedelta(seconds=seconds))
    return str(token)


async def connected(headers: list[tuple[bytes, bytes]]) -> Any:
    socket, ok, _ = await open_socket(headers)
    assert ok
    assert (await socket.recv())["type"] == "hello"
    return socket


async def test_an_expired_jwt_closes_with_4408(ws_users) -> None:
    socket = await connected([(b"authorization", f"Bearer {short_lived(ws_users['er'], 2)}".encode())])
    assert (await socket.recv())["type"] == "snapshot"
    assert await closed_with_within(socket, 6) == 4408


async def test_reauth_with_a_fresh_token_keeps_the_connection(ws_users) -> None:
    socket = await connected([(b"authorization", f"Bearer {short_lived(ws_users['er'], 2)}".encode())])
    await socket.recv()
    await socket.send({"type": "reauth", "token": short_lived(ws_users["er"], 60)})
    await asyncio.sleep(4)
    await socket.send({"type": "ping", "request_id": "after-expiry"})
    assert await next_of_type(socket, "pong") == {"type": "pong", "request_id": "after-expiry"}
    await socket.communicator.disconnect()


def issued_ahead(user: Any, seconds: int) -> str:
    """An access token from a host whose clock is `seconds` ahead (JWT_LEEWAY_S is 5 by default)."""
    token = AccessToken.for_user(user)
    token["iat"] = int(time.time()) + seconds
    return str(token)


async def test_tokens_from_a_clock_2_s_ahead_open_and_reauth_one_beyond_the_leeway_closes_4401(
    ws_users,
) -> None:
    socket = await connected([(b"authorization", f"Bearer {issued_ahead(ws_users['er'], 2)}".encode())])
    await socket.recv()
    await socket.send({"type": "reauth", "token": issued_ahead(ws_users["er"], 2)})
    await socket.send({"type": "ping", "request_id": "after-reauth"})
    assert await next_of_type(socket, "pong") == {"type": "pong", "request_id": "after-reauth"}
    await socket.send({"type": "reauth", "token": issued_ahead(ws_users["er"], 30)})
    assert await closed_with_within(socket, 5) == 4401


async def test_reauth_with_another_users_token_closes_with_4401(ws_users) -> None:
    socket = await connected(bearer(ws_users["er"]))
    await socket.recv()
    await socket.send({"type": "reauth", "token": str(AccessToken.for_user(ws_users["icu"]))})
    assert await closed_with(socket) == 4401


async def test_logout_closes_the_sessions_sockets_with_4401(ws_users) -> None:
    cookie = await session_cookie(ws_users["viewer"])
    socket = await connected([(b"cookie", cookie), (b"host", b"localhost"), (b"origin", b"http://localhost")])
    await socket.recv()
    client = Client()
    client.cookies["sessionid"] = cookie.decode().split("=", 1)[1]
    response = await sync_to_async(client.post)("/accounts/logout/")
    assert response.status_code == 302
    assert await closed_with_within(socket, 5) == 4401


async def test_an_expired_session_closes_with_4401_at_the_next_check(ws_users, monkeypatch) -> None:
    monkeypatch.setattr(auth_lifetime, "SESSION_CHECK_EVERY_S", 1.0)
    cookie = await session_cookie(ws_users["viewer"])
    socket = await connected([(b"cookie", cookie), (b"host", b"localhost"), (b"origin", b"http://localhost")])
    await socket.recv()
    from django.contrib.sessions.models import Session

    await sync_to_async(Session.objects.all().delete)()
    assert await closed_with_within(socket, 5) == 4401


async def test_lost_departments_unsubscribe_within_5_s_and_deactivation_closes_with_4403(ws_users) -> None:
    socket = await connected(bearer(ws_users["er"]))
    await socket.recv()
    await sync_to_async(upsert_dashboard_user)(
        username="erin", role="department", departments=["ICU"], password=None
    )
    message = await next_of_type(socket, "unsubscribed", timeout_s=5)
    assert message == {"type": "unsubscribed", "scope": "dept:ER", "reason": "forbidden"}
    await sync_to_async(publish.publish_tier)(Scope("ER"), "critical", TIERS["critical"])
    assert await socket.communicator.receive_nothing(timeout=0.5)
    ws_users["er"].is_active = False
    await sync_to_async(ws_users["er"].save)()
    assert await closed_with_within(socket, 5) == 4403


async def test_more_connections_than_allowed_close_with_4429(ws_users, settings) -> None:
    settings.MAX_CONNECTIONS_PER_USER = 2
    first = await connected(bearer(ws_users["er"]))
    second = await connected(bearer(ws_users["er"]))
    third, _, _ = await open_socket(bearer(ws_users["er"]))
    assert await closed_with(third) == 4429
    await first.communicator.disconnect()
    await second.communicator.disconnect()


async def test_a_flood_gets_rate_limited_then_4429(ws_users) -> None:
    socket = await connected(bearer(ws_users["er"]))
    await socket.recv()
    for index in range(200):
        await socket.send({"type": "ping", "request_id": index})
    kinds = []
    while True:
        output = await socket.communicator.receive_output(5)
        if output["type"] == "websocket.close":
            assert output["code"] == 4429
            break
        kinds.append(json.loads(output["text"]).get("code", "pong"))
    assert kinds.count("rate_limited") == 1
    assert kinds.index("rate_limited") == 40


async def test_since_replays_150_missed_messages_in_order(ws_users) -> None:
    socket = await connected(bearer(ws_users["er"]))
    snapshot = await socket.recv()
    await socket.send({"type": "unsubscribe", "scope": "dept:ER"})
    await socket.recv()

    def publish_150() -> None:
        for index in range(150):
            publish.publish_alert(Scope("ER"), sample_alert(f"a{index}"))

    await sync_to_async(publish_150)()
    since = {"epoch": snapshot["epoch"], "seq": snapshot["seq"]}
    await socket.send({"type": "subscribe", "scope": "dept:ER", "since": since})
    assert await socket.recv() == {"type": "subscribed", "scope": "dept:ER", "recovered": True}
    replayed = [await socket.recv() for _ in range(150)]
    assert [m["alert"]["id"] for m in replayed] == [f"a{index}" for index in range(150)]
    assert [m["seq"] for m in replayed] == list(range(snapshot["seq"] + 1, snapshot["seq"] + 151))
    await socket.communicator.disconnect()


async def test_redis_restarting_empty_starts_a_new_epoch_and_a_fresh_snapshot(ws_users, redis_client) -> None:
    socket = await connected(bearer(ws_users["er"]))
    snapshot = await socket.recv()
    await sync_to_async(redis_client.flushdb)()
    await sync_to_async(tier_cache.store_tier)(Scope("ER"), "critical", TIERS["critical"])
    since = {"epoch": snapshot["epoch"], "seq": snapshot["seq"]}
    await socket.send({"type": "subscribe", "scope": "dept:ER", "since": since})
    assert await socket.recv() == {"type": "subscribed", "scope": "dept:ER", "recovered": False}
    fresh = await socket.recv()
    assert fresh["type"] == "snapshot"
    assert fresh["epoch"] != snapshot["epoch"]
    await socket.communicator.disconnect()


async def test_a_quiet_scope_gets_a_heartbeat(ws_users, monkeypatch) -> None:
    monkeypatch.setattr(consumer, "HEARTBEAT_AFTER_S", 1.0)
    socket = await connected(bearer(ws_users["er"]))
    snapshot = await socket.recv()
    heartbeat = await next_of_type(socket, "heartbeat", timeout_s=4)
    assert heartbeat == {
        "type": "heartbeat",
        "scope": "dept:ER",
        "epoch": snapshot["epoch"],
        "seq": snapshot["seq"],
    }
    await socket.communicator.disconnect()


async def test_the_access_log_records_the_connections_life(ws_users) -> None:
    socket = await connected(bearer(ws_users["viewer"]))
    await socket.recv()
    await socket.send({"type": "subscribe", "scope": "dept:ICU"})
    await next_of_type(socket, "snapshot")
    await socket.send({"type": "unsubscribe", "scope": "dept:ICU"})
    await next_of_type(socket, "unsubscribed")
    await socket.communicator.disconnect()

    def entries() -> list[tuple[str, str]]:
        return list(AccessLog.objects.filter(username="vic").order_by("id").values_list("action", "scope"))

    expected = [
        ("connect", ""),
        ("subscribe", "hospital"),
        ("subscribe", "dept:ICU"),
        ("unsubscribe", "dept:ICU"),
        ("disconnect", ""),
    ]
    for _ in range(50):
        if await sync_to_async(entries)() == expected:
            break
        await asyncio.sleep(0.1)
    assert await sync_to_async(entries)() == expected


async def test_status_tells_when_a_source_goes_down_and_comes_back(ws_users, monkeypatch) -> None:
    states = {"redis": "ok", "mongo": "ok"}
    monkeypatch.setattr(health, "check", lambda: dict(states))
    monkeypatch.setattr(health, "SOURCE_CHECK_EVERY_S", 0.5)
    try:
        socket = await connected(bearer(ws_users["er"]))
        await socket.recv()
        states["mongo"] = "down"
        down = await next_of_type(socket, "status", timeout_s=4)
        assert down == {"type": "status", "sources": {"redis": "ok", "mongo": "down"}}
        late = await connected(bearer(ws_users["icu"]))
        assert (await late.recv())["type"] == "status", "a new connection is told at once"
        states["mongo"] = "ok"
        back = await next_of_type(socket, "status", timeout_s=4)
        assert back == {"type": "status", "sources": {"redis": "ok", "mongo": "ok"}}
        await socket.communicator.disconnect()
        await late.communicator.disconnect()
    finally:
        health.record({"redis": "ok", "mongo": "ok"})

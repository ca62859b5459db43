"""No client input and no outage ends a connection with 1011, and every exit gives its place back.

Through the real auth stack, the real Redis channel layer and the per-process ticker; outages
of MongoDB are injected by pointing the service at a port nobody listens on.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.test import Client

from dashboard.access import permissions
from dashboard.models import AccessLog, DashboardProfile, Department
from dashboard.protocol.scopes import Scope
from dashboard.realtime import consumer, ticker
from dashboard.sources import redis_store
from dashboard.stream import layer_bridge, publish
from tests.support.alerts import sample_alert
from tests.support.outages import unreachable_mongo
from tests.support.ws import (
    bearer,
    closed_with,
    closed_with_within,
    next_of_type,
    open_socket,
    session_cookie,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def connected(headers: list[tuple[bytes, bytes]]) -> Any:
    socket, ok, _ = await open_socket(headers)
    assert ok
    assert (await socket.recv())["type"] == "hello"
    assert (await socket.recv())["type"] == "snapshot"
    return socket


async def leases_of(user: Any) -> int:
    return int(await sync_to_async(redis_store.client().zcard)(redis_store.connection_leases_key(user.pk)))


async def test_a_lone_surrogate_is_a_bad_request_and_the_connection_stays_open(ws_users) -> None:
    socket = await connected(bearer(ws_users["er"]))
    for hostile in (
        '{"type":"ping","request_id":"\\ud800"}',
        '{"type":"subscribe","scope":"dept:ER","\\udfff":1}',
        '{"type":"ack_alert","alert_id":"a\\ud83d","request_id":"r"}',
        '{"type":"reauth","token":"\\ud800"}',
    ):
        await socket.send(hostile)
        error = await socket.recv()
        assert (error["type"], error["code"]) == ("error", "bad_request")
        assert "request_id" not in error
    await socket.send({"type": "ping", "request_id": "still-here"})
    assert await socket.recv() == {"type": "pong", "request_id": "still-here"}
    await socket.communicator.disconnect()


async def test_ack_while_mongodb_is_down_says_unavailable_and_keeps_the_connection(
    ws_users, monkeypatch
) -> None:
    unreachable_mongo(monkeypatch)
    socket = await connected(bearer(ws_users["er"]))
    await socket.send({"type": "ack_alert", "alert_id": "65f000000000000000000001", "request_id": "a1"})
    answer = await socket.recv(10)
    assert answer == {"type": "ack_result", "request_id": "a1", "ok": False, "reason": "unavailable"}
    await socket.send({"type": "ping", "request_id": "after"})
    assert await socket.recv() == {"type": "pong", "request_id": "after"}
    await socket.communicator.disconnect()


async def test_a_failing_handler_is_answered_and_the_connection_stays_open(ws_users, monkeypatch) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(permissions, "access_scope", broken)
    socket = await connected(bearer(ws_users["viewer"]))
    await socket.send({"type": "subscribe", "scope": "dept:ICU", "request_id": "s1"})
    error = await socket.recv()
    assert (error["type"], error["code"]) == ("error", "bad_request")
    await socket.send({"type": "ping", "request_id": "p"})
    assert await socket.recv() == {"type": "pong", "request_id": "p"}
    await socket.communicator.disconnect()


async def test_a_handshake_that_fails_half_way_closes_1013_and_gives_its_place_back(
    ws_users, monkeypatch
) -> None:
    async def redis_down(*_args: Any, **_kwargs: Any) -> None:
        raise ConnectionError("Redis went away")

    monkeypatch.setattr(consumer.hub.Hub, "join", redis_down)
    socket, ok, _ = await open_socket(bearer(ws_users["er"]))
    assert ok
    # The connection holds its place when it joins its user's group, before `hello`; that fails.
    assert await closed_with(socket) == 1013
    assert await leases_of(ws_users["er"]) == 0

    def actions() -> list[str]:
        return list(AccessLog.objects.filter(username="erin").order_by("id").values_list("action", flat=True))

    for _ in range(50):
        if await sync_to_async(actions)() == ["connect", "disconnect"]:
            break
        await asyncio.sleep(0.1)
    assert await sync_to_async(actions)() == ["connect", "disconnect"]


async def test_a_closed_connection_gives_its_place_back(ws_users) -> None:
    socket = await connected(bearer(ws_users["er"]))
    assert await leases_of(ws_users["er"]) == 1
    await socket.communicator.disconnect()
    assert await leases_of(ws_users["er"]) == 0


async def test_a_role_changed_by_a_bulk_update_reaches_the_open_connection_within_5_s(ws_users) -> None:
    socket = await connected(bearer(ws_users["viewer"]))
    await socket.send({"type": "subscribe", "scope": "dept:ICU"})
    await next_of_type(socket, "snapshot")
    # No model signal: as if another process wrote the database.
    await sync_to_async(DashboardProfile.objects.filter(user=ws_users["viewer"]).update)(role="department")
    profile = await sync_to_async(DashboardProfile.objects.get)(user=ws_users["viewer"])
    icu = await sync_to_async(Department.objects.get)(code="ICU")
    await sync_to_async(profile.departments.through.objects.create)(dashboardprofile=profile, department=icu)
    lost = await next_of_type(socket, "unsubscribed", timeout_s=5)
    assert lost == {"type": "unsubscribed", "scope": "hospital", "reason": "forbidden"}
    await socket.communicator.disconnect()


async def test_a_deactivation_by_a_bulk_update_closes_with_4403_within_5_s(ws_users) -> None:
    socket = await connected(bearer(ws_users["er"]))
    await sync_to_async(get_user_model().objects.filter(pk=ws_users["er"].pk).update)(is_active=False)
    assert await closed_with_within(socket, 5) == 4403


async def test_a_password_change_closes_the_session_socket_within_5_s(ws_users) -> None:
    cookie = await session_cookie(ws_users["viewer"])
    socket = await connected([(b"cookie", cookie), (b"host", b"localhost"), (b"origin", b"http://localhost")])
    new_hash = make_password("a-brand-new-password-1")
    await sync_to_async(get_user_model().objects.filter(pk=ws_users["viewer"].pk).update)(password=new_hash)
    assert await closed_with_within(socket, 5) == 4401


async def test_a_session_logged_out_in_another_browser_closes_the_socket(ws_users) -> None:
    cookie = await session_cookie(ws_users["viewer"])
    socket = await connected([(b"cookie", cookie), (b"host", b"localhost"), (b"origin", b"http://localhost")])
    client = Client()
    client.cookies["sessionid"] = cookie.decode().split("=", 1)[1]
    assert (await sync_to_async(client.post)("/accounts/logout/")).status_code == 302
    assert await closed_with_within(socket, 5) == 4401


async def test_a_heartbeat_carries_the_scopes_last_published_seq_so_a_lost_push_shows(
    ws_users, monkeypatch
) -> None:
    monkeypatch.setattr(consumer, "HEARTBEAT_AFTER_S", 1.0)
    socket = await connected(bearer(ws_users["er"]))
    snapshot_seq = (await sync_to_async(publish.position)(Scope("ER"))).seq
    monkeypatch.setattr(layer_bridge, "group_send", lambda *_args: None)  # the push is lost on its way
    await sync_to_async(publish.publish_alert)(Scope("ER"), sample_alert("lost"))
    heartbeat = await next_of_type(socket, "heartbeat", timeout_s=4)
    assert heartbeat["seq"] == snapshot_seq + 1
    await socket.communicator.disconnect()


async def test_the_ticker_outlives_a_failing_tick(ws_users, monkeypatch) -> None:
    calls = 0

    async def flaky(now: float) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("one bad tick")

    monkeypatch.setattr(ticker, "_check_sources", flaky)
    monkeypatch.setattr(consumer, "HEARTBEAT_AFTER_S", 1.0)
    socket = await connected(bearer(ws_users["er"]))
    assert (await next_of_type(socket, "heartbeat", timeout_s=5))["type"] == "heartbeat"
    assert calls >= 2
    await socket.communicator.disconnect()


async def test_a_new_epoch_reaches_a_quiet_scope_within_a_tick_and_once(ws_users, redis_client) -> None:
    # Redis restarted empty (or failed over) and nothing was published since: without this the
    # client would show its numbers, unmarked, until the scope's next push or 10 s heartbeat.
    socket = await connected(bearer(ws_users["er"]))
    before = (await sync_to_async(publish.position)(Scope("ER"))).epoch
    redis_client.delete(redis_store.EPOCH_KEY, redis_store.EPOCH_MASTER_KEY)
    heartbeat = await next_of_type(socket, "heartbeat", timeout_s=3)  # heartbeats are 10 s apart
    assert heartbeat["scope"] == "dept:ER"
    assert heartbeat["epoch"] not in ("", before)
    assert await socket.communicator.receive_nothing(timeout=2.5), "told again: once is enough"
    await socket.communicator.disconnect()


async def test_a_redis_that_does_not_answer_does_not_stall_the_ticker(ws_users, monkeypatch) -> None:
    # A frozen Redis answers nothing until its socket timeout (5 s): the positions read must not
    # hold back the tick's other duties (the source check that tells clients Redis is down).
    reads, checks = [], []

    def frozen_positions(scopes: Any) -> dict[Scope, Any]:
        reads.append(time.monotonic())
        time.sleep(3)
        return {}

    async def source_check(now: float) -> None:
        checks.append(now)

    socket = await connected(bearer(ws_users["er"]))
    monkeypatch.setattr(publish, "positions", frozen_positions)
    monkeypatch.setattr(ticker, "_check_sources", source_check)
    await asyncio.sleep(3.6)
    assert len(checks) >= 3, f"{len(checks)} ticks in 3.6 s: the tick waited for Redis"
    assert len(reads) <= 2, "a read was started again while the last one had not answered"
    await socket.communicator.disconnect()


async def test_a_redis_read_that_does_not_answer_brings_the_source_check_forward(
    ws_users, monkeypatch
) -> None:
    # Sources are checked every 5 s; a frozen Redis was told to clients up to 5.7 s late (fault
    # matrix row 5), and its return as late. A tick whose Redis read does not answer, and every
    # tick while a source is down, checks at once.
    from dashboard.sources import health

    answers = {"redis": "down", "mongo": "ok"}
    checks: list[float] = []

    def frozen_positions(scopes: Any) -> dict[Scope, Any]:
        time.sleep(3)
        return {}

    def check() -> dict[str, str]:
        checks.append(time.monotonic())
        return dict(answers)

    socket = await connected(bearer(ws_users["er"]))
    monkeypatch.setattr(ticker, "_next_source_check", time.monotonic() + 60)  # none due by the clock
    monkeypatch.setattr(health, "check", check)
    monkeypatch.setattr(publish, "positions", frozen_positions)
    frozen_at = time.monotonic()
    status = await next_of_type(socket, "status", timeout_s=4)
    assert status["sources"] == {"redis": "down", "mongo": "ok"}
    assert checks
    assert checks[0] - frozen_at < 2.5, "the check waited for its 5 s turn"

    monkeypatch.undo()
    monkeypatch.setattr(ticker, "_next_source_check", time.monotonic() + 60)
    monkeypatch.setattr(health, "check", check)
    answers["redis"] = "ok"
    back_at = time.monotonic()
    status = await next_of_type(socket, "status", timeout_s=4)
    assert status["sources"] == {"redis": "ok", "mongo": "ok"}
    assert checks[-1] - back_at < 2.5, "Redis's return waited for the 5 s turn"
    await socket.communicator.disconnect()

"""Connections subscribing at once share their replay read, and none loses a push to the sharing."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
from asgiref.sync import sync_to_async

from dashboard.protocol.scopes import Scope
from dashboard.stream import publish
from tests.support.alerts import sample_alert
from tests.support.ws import Socket, bearer, open_socket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def unsubscribed_sockets(user: Any, count: int) -> tuple[list[Socket], dict[str, Any]]:
    """`count` connections of `user` that had the snapshot of dept:ER (returned) and left it."""
    sockets = [(await open_socket(bearer(user)))[0] for _ in range(count)]
    snapshot: dict[str, Any] = {}
    for socket in sockets:
        await socket.recv()
        snapshot = await socket.recv()
        await socket.send({"type": "unsubscribe", "scope": "dept:ER"})
        assert (await socket.recv())["type"] == "unsubscribed"
    return sockets, snapshot


async def subscribe_since(sockets: list[Socket], snapshot: dict[str, Any]) -> None:
    since = {"epoch": snapshot["epoch"], "seq": snapshot["seq"]}
    for socket in sockets:
        await socket.send({"type": "subscribe", "scope": "dept:ER", "since": since})


async def alerts_after_subscribing(socket: Socket, count: int) -> list[tuple[str, int]]:
    assert await socket.recv() == {"type": "subscribed", "scope": "dept:ER", "recovered": True}
    received = [await socket.recv(2) for _ in range(count)]
    return [(message["alert"]["id"], message["seq"]) for message in received]


async def test_many_connections_subscribing_at_once_share_replays(ws_users, settings, monkeypatch) -> None:
    settings.MAX_CONNECTIONS_PER_USER = 30
    sockets, snapshot = await unsubscribed_sockets(ws_users["er"], 20)
    for alert_id in ("a1", "a2"):
        await sync_to_async(publish.publish_alert)(Scope("ER"), sample_alert(alert_id))
    real_replay, calls = publish.replay, []

    def slow_replay(scope: Scope, **kwargs: Any) -> Any:
        calls.append(scope)
        time.sleep(0.2)  # the other connections ask meanwhile
        return real_replay(scope, **kwargs)

    monkeypatch.setattr(publish, "replay", slow_replay)
    await subscribe_since(sockets, snapshot)
    expected = [("a1", snapshot["seq"] + 1), ("a2", snapshot["seq"] + 2)]
    for socket in sockets:
        assert await alerts_after_subscribing(socket, 2) == expected
    assert 1 <= len(calls) < len(sockets) / 2
    for socket in sockets:
        await socket.communicator.disconnect()


async def test_a_push_published_during_a_read_reaches_those_who_asked_after_it(ws_users, monkeypatch) -> None:
    # The first connection's replay reads its position, then an alert is published; the others
    # join the group after that (so they do not hold it) and ask while that replay is in flight.
    # Were they given it, they would never get the alert; the next read carries it.
    sockets, snapshot = await unsubscribed_sockets(ws_users["er"], 8)
    first, *others = sockets
    await sync_to_async(publish.publish_alert)(Scope("ER"), sample_alert("a1"))
    real_replay, calls = publish.replay, []
    first_read, others_asked = threading.Event(), threading.Event()

    def replay_then_publish(scope: Scope, **kwargs: Any) -> Any:
        calls.append(scope)
        missed = real_replay(scope, **kwargs)
        if len(calls) == 1:
            publish.publish_alert(Scope("ER"), sample_alert("in-between"))
            first_read.set()
            assert others_asked.wait(5)
        return missed

    monkeypatch.setattr(publish, "replay", replay_then_publish)
    await subscribe_since([first], snapshot)
    assert await asyncio.to_thread(first_read.wait, 5)
    await subscribe_since(others, snapshot)
    await asyncio.sleep(0.3)  # they join and ask, while the first replay is still in flight
    others_asked.set()
    expected = [("a1", snapshot["seq"] + 1), ("in-between", snapshot["seq"] + 2)]
    for socket in sockets:
        assert await alerts_after_subscribing(socket, 2) == expected
    assert len(calls) == 2
    for socket in sockets:
        await socket.communicator.disconnect()

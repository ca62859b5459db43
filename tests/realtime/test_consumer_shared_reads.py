"""Connections subscribing at once share their replay or snapshot read (the snapshot's text made
once), and none loses a push to the sharing."""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from typing import Any

import pytest
from asgiref.sync import sync_to_async

from dashboard.access.permissions import Access
from dashboard.protocol import messages
from dashboard.protocol.scopes import Scope
from dashboard.realtime import consumer as consumer_module
from dashboard.realtime.connection_ids import new_connection_id
from dashboard.realtime.consumer import DashboardConsumer
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


def counted_snapshot_encodes(monkeypatch) -> list[Any]:
    """The snapshot messages `messages.encode` is called with from now on."""
    real_encode, encoded = messages.encode, []

    def encode(message: Any) -> str:
        if message["type"] == "snapshot":
            encoded.append(message)
        return real_encode(message)

    monkeypatch.setattr(messages, "encode", encode)
    return encoded


async def test_many_connections_subscribing_at_once_get_one_snapshot_text(
    ws_users, settings, monkeypatch
) -> None:
    settings.MAX_CONNECTIONS_PER_USER = 30
    sockets, _ = await unsubscribed_sockets(ws_users["er"], 20)
    real_snapshot, calls = consumer_module.snapshot_message, []

    def slow_snapshot(scope: Scope, **kwargs: Any) -> Any:
        calls.append(scope)
        time.sleep(0.2)  # the other connections ask meanwhile
        return real_snapshot(scope, **kwargs)

    real_send, texts = DashboardConsumer.send, []

    async def send(self: DashboardConsumer, text_data: str | None = None, **kwargs: Any) -> None:
        if text_data is not None and text_data.startswith('{"type":"snapshot"'):
            texts.append(text_data)
        await real_send(self, text_data, **kwargs)

    monkeypatch.setattr(consumer_module, "snapshot_message", slow_snapshot)
    monkeypatch.setattr(DashboardConsumer, "send", send)
    encoded = counted_snapshot_encodes(monkeypatch)
    for socket in sockets:
        await socket.send({"type": "subscribe", "scope": "dept:ER"})
    for socket in sockets:
        assert (await socket.recv())["type"] == "subscribed"
        assert (await socket.recv())["type"] == "snapshot"
    assert 1 <= len(calls) < len(sockets) / 2
    # One encoding and one str object per read, whichever connections it served.
    assert len(texts) == len(sockets)
    assert len({id(text) for text in texts}) == len(encoded) == len(calls)
    for socket in sockets:
        await socket.communicator.disconnect()


SNAPSHOT = messages.snapshot(
    Scope("ER"), epoch="e1", seq=8, stale=False, data={"critical": {"patients": 3}}, age_s=0.5
)


def direct_consumer() -> tuple[DashboardConsumer, list[str]]:
    """A consumer without a socket, and the texts it sends."""
    consumer = DashboardConsumer()
    consumer.subscriptions = {}
    consumer.access = Access(user_id=1, username="erin", role="department", departments=frozenset({"ER"}))
    sent: list[str] = []

    async def send(text_data: str) -> None:
        sent.append(text_data)

    consumer.send = send  # type: ignore[method-assign]
    return consumer, sent


async def send_snapshots_at_once(
    monkeypatch, snapshot: dict[str, Any], count: int, held: dict[int, list[dict[str, Any]]] | None = None
) -> tuple[list[list[str]], list[BaseException | None]]:
    """What `count` consumers of dept:ER asking at once for `snapshot` send, and what each raises.

    Consumer i holds the pushes `held[i]` while it asks.
    """
    monkeypatch.setattr(consumer_module, "snapshot_message", lambda scope, *, with_revenue: snapshot)
    connections = [direct_consumer() for _ in range(count)]
    for index, (consumer, _) in enumerate(connections):
        await consumer._join(Scope("ER"))
        consumer.subscriptions[Scope("ER")].held = list((held or {}).get(index, []))
    results = await asyncio.gather(
        *(consumer._send_snapshot(Scope("ER")) for consumer, _ in connections), return_exceptions=True
    )
    for consumer, _ in connections:
        await consumer._leave(Scope("ER"))
    return [sent for _, sent in connections], list(results)


async def test_connections_sharing_a_snapshot_send_one_text_object_encoded_once(
    redis_client, monkeypatch
) -> None:
    encoded = counted_snapshot_encodes(monkeypatch)
    sent, failures = await send_snapshots_at_once(monkeypatch, SNAPSHOT, 20)
    assert failures == [None] * 20
    texts = [text for texts in sent for text in texts]
    assert len(texts) == 20
    assert all(text is texts[0] for text in texts)
    assert json.loads(texts[0]) == SNAPSHOT
    assert encoded == [SNAPSHOT]


async def test_a_connection_holding_an_alert_gets_its_own_copy_with_a_lower_seq(
    redis_client, monkeypatch
) -> None:
    encoded = counted_snapshot_encodes(monkeypatch)
    alert = {"scope": "dept:ER", "epoch": "e1", "seq": 6, "kind": "alert", "text": "alert 6"}
    (holder_sent, other_sent), failures = await send_snapshots_at_once(
        monkeypatch, SNAPSHOT, 2, held={0: [alert]}
    )
    assert failures == [None, None]
    assert [json.loads(holder_sent[0]), holder_sent[1]] == [{**SNAPSHOT, "seq": 5}, "alert 6"]
    assert [json.loads(text) for text in other_sent] == [SNAPSHOT]
    assert SNAPSHOT["seq"] == 8  # the shared snapshot is not changed
    assert [message["seq"] for message in encoded] == [8, 5]  # the shared read, then the copy


async def test_a_snapshot_that_cannot_be_encoded_fails_each_sharing_connection_alone(
    redis_client, monkeypatch
) -> None:
    # As when each connection encoded the snapshot itself: each one's handler fails with a
    # ValueError of its own (answered by its dispatch), and none sends anything.
    unencodable = {**SNAPSHOT, "data": {"critical": {"ratio": float("nan")}}}
    sent, failures = await send_snapshots_at_once(monkeypatch, unencodable, 3)
    assert all(isinstance(failure, ValueError) for failure in failures)
    assert len({id(failure) for failure in failures}) == 3
    assert sent == [[], [], []]


def id_made_by_a_forked_child() -> str:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.write(write, new_connection_id().encode())
        os._exit(0)
    os.waitpid(pid, 0)
    os.close(write)
    made = os.read(read, 100).decode()
    os.close(read)
    return made


async def test_connection_ids_are_unique_and_prefixed_per_process() -> None:
    ids = [new_connection_id() for _ in range(1000)]
    assert len(set(ids)) == 1000
    prefix = ids[0].split("-")[0]
    assert len(prefix) == 16
    assert all(id_.startswith(f"{prefix}-") for id_ in ids)
    other_prefix = id_made_by_a_forked_child().split("-")[0]  # a forked child makes its own
    assert len(other_prefix) == 16
    assert other_prefix != prefix

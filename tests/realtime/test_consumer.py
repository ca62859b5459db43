"""The consumer through the real auth stack and the real Redis channel layer."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from dashboard.access import tickets
from dashboard.access.permissions import Access
from dashboard.protocol.scopes import Scope
from dashboard.realtime.consumer import DashboardConsumer
from dashboard.realtime.handshake_auth import DashboardAuthStack
from dashboard.stream import publish
from tests.support.alerts import sample_alert
from tests.support.ws import TIERS, bearer, closed_with, open_socket, session_cookie

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def test_jwt_client_gets_hello_then_snapshot_of_default_scope(ws_users) -> None:
    socket, connected, _ = await open_socket(bearer(ws_users["er"]))
    assert connected
    hello = await socket.recv()
    assert hello["type"] == "hello"
    assert hello["user"] == {"username": "erin", "role": "department", "departments": ["ER"]}
    assert hello["scopes"] == ["dept:ER"]
    assert hello["subscribed"] == ["dept:ER"]
    snapshot = await socket.recv()
    assert snapshot["type"] == "snapshot"
    assert snapshot["scope"] == "dept:ER"
    assert "revenue" not in json.dumps(snapshot)
    await socket.communicator.disconnect()


async def test_admin_snapshot_has_revenue_viewer_snapshot_does_not(ws_users) -> None:
    admin, _, _ = await open_socket(bearer(ws_users["admin"]))
    await admin.recv()
    assert (await admin.recv())["data"]["standard"]["revenue"] == {"today": 5.0}
    viewer, _, _ = await open_socket(bearer(ws_users["viewer"]))
    hello = await viewer.recv()
    assert hello["subscribed"] == ["hospital"]
    assert {"hospital", "dept:ER", "dept:ICU"} <= set(hello["scopes"])
    assert "revenue" not in json.dumps(await viewer.recv())
    await admin.communicator.disconnect()
    await viewer.communicator.disconnect()


async def test_department_user_may_not_subscribe_to_another_department_or_the_hospital(ws_users) -> None:
    socket, _, _ = await open_socket(bearer(ws_users["er"]))
    await socket.recv()
    await socket.recv()
    for scope in ("dept:ICU", "hospital"):
        await socket.send({"type": "subscribe", "scope": scope, "request_id": "r1"})
        error = await socket.recv()
        assert (error["type"], error["code"], error["request_id"]) == ("error", "forbidden", "r1")
    await socket.communicator.disconnect()


async def test_a_department_user_cannot_tell_a_missing_department_from_a_forbidden_one(ws_users) -> None:
    socket, _, _ = await open_socket(bearer(ws_users["er"]))
    await socket.recv()
    await socket.recv()
    answers = []
    for code in ("ICU", "NOPE"):
        await socket.send({"type": "subscribe", "scope": f"dept:{code}", "request_id": "r"})
        error = await socket.recv()
        answers.append({**error, "message": error["message"].replace(code, "<code>")})
    assert answers[0] == answers[1]
    assert answers[0]["code"] == "forbidden"
    await socket.communicator.disconnect()


async def test_an_admin_is_told_a_department_does_not_exist(ws_users) -> None:
    socket, _, _ = await open_socket(bearer(ws_users["admin"]))
    await socket.recv()
    await socket.recv()
    await socket.send({"type": "subscribe", "scope": "dept:NOPE", "request_id": "r2"})
    error = await socket.recv()
    assert (error["type"], error["code"], error["request_id"]) == ("error", "unknown_scope", "r2")
    await socket.communicator.disconnect()


async def test_subscribe_unsubscribe_and_ping(ws_users) -> None:
    socket, _, _ = await open_socket(bearer(ws_users["viewer"]))
    await socket.recv()
    await socket.recv()
    await socket.send({"type": "subscribe", "scope": "dept:ICU"})
    assert await socket.recv() == {"type": "subscribed", "scope": "dept:ICU", "recovered": False}
    assert (await socket.recv())["type"] == "snapshot"
    await socket.send({"type": "unsubscribe", "scope": "dept:ICU"})
    assert await socket.recv() == {"type": "unsubscribed", "scope": "dept:ICU", "reason": "requested"}
    await socket.send({"type": "ping", "request_id": 42})
    assert await socket.recv() == {"type": "pong", "request_id": 42}
    await socket.communicator.disconnect()


async def test_subscribe_with_since_replays_what_was_missed(ws_users) -> None:
    socket, _, _ = await open_socket(bearer(ws_users["er"]))
    await socket.recv()
    snapshot = await socket.recv()
    await socket.send({"type": "unsubscribe", "scope": "dept:ER"})
    await socket.recv()
    await sync_to_async(publish.publish_alert)(Scope("ER"), sample_alert("a1"))
    await sync_to_async(publish.publish_alert)(Scope("ER"), sample_alert("a2"))
    await socket.send(
        {
            "type": "subscribe",
            "scope": "dept:ER",
            "since": {"epoch": snapshot["epoch"], "seq": snapshot["seq"]},
        }
    )
    assert await socket.recv() == {"type": "subscribed", "scope": "dept:ER", "recovered": True}
    replayed = [await socket.recv(), await socket.recv()]
    assert [m["alert"]["id"] for m in replayed] == ["a1", "a2"]
    assert [m["seq"] for m in replayed] == [snapshot["seq"] + 1, snapshot["seq"] + 2]
    await socket.communicator.disconnect()


async def test_published_updates_reach_subscribers_of_the_scope_only(ws_users) -> None:
    er, _, _ = await open_socket(bearer(ws_users["er"]))
    icu, _, _ = await open_socket(bearer(ws_users["icu"]))
    for socket in (er, icu):
        await socket.recv()
        await socket.recv()
    await sync_to_async(publish.publish_tier)(Scope("ER"), "critical", TIERS["critical"])
    update = await er.recv()
    assert (update["type"], update["scope"], update["tier"]) == ("update", "dept:ER", "critical")
    assert await icu.communicator.receive_nothing(timeout=0.5)
    await er.communicator.disconnect()
    await icu.communicator.disconnect()


async def test_binary_frames_and_garbage_get_errors_and_the_connection_stays_open(ws_users) -> None:
    socket, _, _ = await open_socket(bearer(ws_users["er"]))
    await socket.recv()
    await socket.recv()
    await socket.communicator.send_to(bytes_data=b"\x00\x01")
    assert (await socket.recv())["code"] == "bad_request"
    await socket.send("{not json")
    assert (await socket.recv())["code"] == "bad_request"
    await socket.send({"type": "dashboard.push", "text": "forged"})
    assert (await socket.recv())["code"] == "unknown_type"
    await socket.send({"type": "ping"})
    assert (await socket.recv())["code"] == "bad_request"
    await socket.send({"type": "ping", "request_id": 7})
    assert (await socket.recv()) == {"type": "pong", "request_id": 7}
    await socket.communicator.disconnect()


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("[" * 2000 + "]" * 2000, "bad_request"),
        ('{"type": "ping", "request_id": ' + "9" * 3000 + "}", "bad_request"),
        ('{"type": "ping", "request_id": 1e999999}', "bad_request"),
        ('{"request_id": "x"}', "bad_request"),
        ('"ping"', "bad_request"),
        ('{"type": "websocket_receive"}', "unknown_type"),
        ('{"type": "dashboard_push", "text": "forged"}', "unknown_type"),
        ('{"type": "dashboard.access_changed"}', "unknown_type"),
        ('{"type": "disconnect"}', "unknown_type"),
        ('{"type": "_subscribe", "scope": "hospital"}', "unknown_type"),
        ('{"type": "subscribe", "scope": ["dept:ER"]}', "bad_request"),
        ('{"type": "subscribe", "scope": "dept:er; DROP"}', "bad_request"),
        ('{"type": "subscribe", "scope": "dept:ER", "since": {"epoch": 1, "seq": "0"}}', "bad_request"),
        ('{"type": "ack_alert", "alert_id": {"$ne": null}, "request_id": "r1"}', "bad_request"),
        ('{"type": "ack_alert", "alert_id": "nope", "request_id": "r2"}', "not_found"),
        ('{"type": "ping", "request_id": true}', "bad_request"),
    ],
)
async def test_hostile_messages_get_the_contracts_error_and_the_connection_survives(
    ws_users, frame: str, code: str
) -> None:
    socket, _, _ = await open_socket(bearer(ws_users["er"]))
    await socket.recv()
    await socket.recv()
    await socket.send(frame)
    error = await socket.recv()
    assert error["type"] == "error"
    assert error["code"] == code, error
    await socket.send({"type": "ping", "request_id": "still-here"})
    assert (await socket.recv()) == {"type": "pong", "request_id": "still-here"}
    await socket.communicator.disconnect()


async def test_a_frame_over_4_kib_closes_with_1009(ws_users) -> None:
    socket, _, _ = await open_socket(bearer(ws_users["er"]))
    await socket.recv()
    await socket.recv()
    await socket.send({"type": "ping", "request_id": "x" * 4100})
    assert await closed_with(socket) == 1009


async def test_exactly_4_kib_is_still_parsed(ws_users) -> None:
    socket, _, _ = await open_socket(bearer(ws_users["er"]))
    await socket.recv()
    await socket.recv()
    frame = '{"type": "ping", "pad": "' + "x" * (4096 - 27) + '"}'
    assert len(frame) == 4096
    await socket.send(frame)
    assert (await socket.recv())["type"] in ("pong", "error")
    await socket.communicator.disconnect()


async def test_no_credentials_close_with_4401(ws_users) -> None:
    socket, connected, _ = await open_socket()
    assert connected
    assert await closed_with(socket) == 4401


def _forge_none_alg(user: Any) -> str:
    token = AccessToken.for_user(user)
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    payload = base64.urlsafe_b64encode(json.dumps(token.payload).encode()).rstrip(b"=").decode()
    return f"{header}.{payload}."


def _hostile_tokens(user: Any) -> list[str]:
    good = str(AccessToken.for_user(user))
    expired = AccessToken.for_user(user)
    expired.set_exp(lifetime=-expired.lifetime - expired.lifetime)
    return [
        good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB"),
        _forge_none_alg(user),
        str(RefreshToken.for_user(user)),
        str(expired),
        "garbage",
    ]


async def test_forged_refresh_and_expired_tokens_close_with_4401(ws_users) -> None:
    forged = await sync_to_async(_hostile_tokens)(ws_users["admin"])
    for token in forged:
        socket, connected, _ = await open_socket([(b"authorization", f"Bearer {token}".encode())])
        assert connected
        assert await closed_with(socket) == 4401, token


async def test_user_without_a_dashboard_role_or_deactivated_closes_with_4403(ws_users) -> None:
    plain = await sync_to_async(get_user_model().objects.create_user)("plain", password="pw-plain-12345")
    socket, _, _ = await open_socket(bearer(plain))
    assert await closed_with(socket) == 4403
    icu_cookie = await session_cookie(ws_users["icu"])
    ws_users["er"].is_active = ws_users["icu"].is_active = False
    await sync_to_async(ws_users["er"].save)()
    await sync_to_async(ws_users["icu"].save)()
    socket, _, _ = await open_socket(bearer(ws_users["er"]))
    assert await closed_with(socket) == 4403
    socket, _, _ = await open_socket(
        [(b"cookie", icu_cookie), (b"host", b"localhost"), (b"origin", b"http://localhost")]
    )
    assert await closed_with(socket) == 4403


@pytest.mark.parametrize("query", ["ticket=", "xticket=1", "ticket=not-a-ticket"])
async def test_a_session_cookie_cannot_skip_the_origin_check_with_ticket_lookalikes(
    ws_users, query: str
) -> None:
    headers = [(b"cookie", await session_cookie(ws_users["admin"]))]
    socket, connected, _ = await open_socket(headers, path=f"/ws/dashboard/?{query}")
    # Refused at the handshake, or (a ticket that is not one) not authenticated at all.
    assert not connected or await closed_with(socket) == 4401


async def test_ticket_is_single_use(ws_users) -> None:
    ticket = await sync_to_async(tickets.issue)(ws_users["er"].pk)
    socket, _, _ = await open_socket(path=f"/ws/dashboard/?ticket={ticket}")
    assert (await socket.recv())["type"] == "hello"
    await socket.communicator.disconnect()
    again, _, _ = await open_socket(path=f"/ws/dashboard/?ticket={ticket}")
    assert await closed_with(again) == 4401


@pytest.mark.parametrize(
    "origin",
    [
        None,
        b"null",
        b"http://evil.example",
        b"http://evil.example:8000",
        b"http://localhost.evil.example",
        b"file://",
        b"http://localhost:8000",
        b"https://localhost",
    ],
)
async def test_session_cookie_with_missing_or_foreign_origin_is_refused(
    ws_users, origin: bytes | None
) -> None:
    headers = [(b"cookie", await session_cookie(ws_users["admin"])), (b"host", b"localhost")]
    if origin is not None:
        headers.append((b"origin", origin))
    _, connected, _ = await open_socket(headers)
    assert not connected


@pytest.mark.parametrize(
    ("host", "origin"),
    [
        (b"localhost", b"http://localhost"),
        (b"localhost:80", b"http://localhost"),
        (b"127.0.0.1:8123", b"http://127.0.0.1:8123"),
    ],
)
async def test_session_cookie_with_allowed_origin_connects(ws_users, host: bytes, origin: bytes) -> None:
    headers = [(b"cookie", await session_cookie(ws_users["admin"])), (b"host", host), (b"origin", origin)]
    socket, connected, _ = await open_socket(headers)
    assert connected
    assert (await socket.recv())["user"]["username"] == "ada"
    await socket.communicator.disconnect()


async def test_bearer_client_sending_a_foreign_origin_is_refused(ws_users) -> None:
    _, connected, _ = await open_socket([*bearer(ws_users["er"]), (b"origin", b"http://evil.example")])
    assert not connected


async def test_token_handshakes_skip_the_session_and_cookie_handshakes_use_it() -> None:
    seen: list[dict] = []

    async def inner(scope: dict, receive: object, send: object) -> None:
        seen.append(scope)

    stack = DashboardAuthStack(inner)
    cookie = (b"cookie", b"sessionid=not-a-session")
    await stack({"type": "websocket", "headers": [(b"authorization", b"Bearer forged"), cookie]}, None, None)
    await stack({"type": "websocket", "headers": [cookie], "query_string": b"ticket=abc"}, None, None)
    await stack({"type": "websocket", "headers": [cookie], "query_string": b""}, None, None)
    assert [("session" in scope, scope["dash_auth"].method) for scope in seen] == [
        (False, None),
        (False, "ticket"),
        (True, None),
    ]


async def test_pushes_during_a_snapshot_are_held_then_only_newer_ones_sent_in_order(redis_client) -> None:
    # The hub hands pushes over while the consumer may still be sending a snapshot or replay.
    consumer = DashboardConsumer()
    consumer.subscriptions = {}
    consumer.access = Access(user_id=1, username="ada", role="admin", departments=frozenset())
    sent: list[str] = []

    async def send(text_data: str) -> None:
        sent.append(text_data)

    consumer.send = send  # type: ignore[method-assign]
    scope = Scope("ER")
    await consumer._join(scope)
    for seq in (3, 5, 6):
        await consumer.dashboard_push(
            {"scope": "dept:ER", "epoch": "e1", "seq": seq, "text": f"update {seq}"}
        )
    assert sent == []
    state = consumer.subscriptions[scope]
    state.epoch, state.seq = "e1", 4  # the snapshot went out at seq 4
    await consumer._release(scope)
    assert sent == ["update 5", "update 6"]
    await consumer.dashboard_push({"scope": "dept:ER", "epoch": "e1", "seq": 7, "text": "update 7"})
    assert sent[-1] == "update 7"
    await consumer._leave(scope)


@pytest.mark.parametrize("path", ["connect", "subscribe without recovery"])
async def test_an_alert_published_while_a_snapshot_is_read_is_still_delivered(
    ws_users, monkeypatch, path: str
) -> None:
    # The connection joins the scope's group, then the snapshot reads its position: an alert
    # published in between is held and at or below that position, yet not in the snapshot.
    from dashboard.realtime import consumer as consumer_module

    real_snapshot = consumer_module.snapshot_message
    published: list[int] = []

    def alert_in_between(scope: Scope, *, with_revenue: bool) -> Any:
        if not published:
            published.append(publish.publish_alert(Scope("ER"), sample_alert("in-between")).seq)
            time.sleep(0.3)  # the hub hands the push to the connection, which holds it
        return real_snapshot(scope, with_revenue=with_revenue)

    if path == "connect":
        monkeypatch.setattr(consumer_module, "snapshot_message", alert_in_between)
    socket, _, _ = await open_socket(bearer(ws_users["er"]))
    await socket.recv()
    first = await socket.recv()
    if path != "connect":
        monkeypatch.setattr(consumer_module, "snapshot_message", alert_in_between)
        await socket.send(
            {"type": "subscribe", "scope": "dept:ER", "since": {"epoch": "other", "seq": first["seq"]}}
        )
        assert await socket.recv() == {"type": "subscribed", "scope": "dept:ER", "recovered": False}
    snapshot = await socket.recv() if path != "connect" else first
    assert snapshot["type"] == "snapshot"
    alert = await socket.recv()
    assert (alert["type"], alert["alert"]["id"]) == ("alert", "in-between")
    assert alert["seq"] == published[0] == snapshot["seq"] + 1
    await socket.communicator.disconnect()


async def test_a_snapshot_claims_only_what_it_carries() -> None:
    held = [
        {"epoch": "e1", "seq": 5, "kind": "update"},
        {"epoch": "e1", "seq": 6, "kind": "alert"},
        {"epoch": "e1", "seq": 7, "kind": "alert_acknowledged"},
        {"epoch": "e1", "seq": 8, "kind": "update"},
    ]
    assert consumer_covered(held, seq=8) == 5
    assert consumer_covered(held[:1], seq=8) == 8  # a snapshot's tiers replace updates
    assert consumer_covered(held, seq=5) == 5  # the alerts came after the position
    assert consumer_covered([{**e, "epoch": "e0"} for e in held], seq=8) == 8


def consumer_covered(held: list[dict[str, Any]], *, seq: int) -> int:
    from dashboard.realtime.consumer import covered_seq

    return covered_seq("e1", seq, held)

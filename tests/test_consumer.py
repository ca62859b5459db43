"""The consumer through the real auth stack and the real Redis channel layer."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from dashboard import publish
from dashboard.routing import websocket_urlpatterns
from dashboard.scopes import HOSPITAL_SCOPE, Scope
from dashboard.services import tickets
from dashboard.services.users import upsert_dashboard_user
from dashboard.ws_auth import DashboardAuthStack
from tests.e2e.wsclient import check_schema

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

APP = DashboardAuthStack(URLRouter(websocket_urlpatterns))
TIERS = {
    "critical": {"patients": {"emergency": 1}, "computed_at": "2030-01-01T00:00:00.000Z"},
    "standard": {
        "appointments": {"today": 1},
        "revenue": {"today": 5.0},
        "computed_at": "2030-01-01T00:00:00.000Z",
    },
    "historical": {
        "daily": [{"date": "2030-01-01", "admissions": 1, "revenue": 5.0}],
        "comparisons": {"revenue": {}},
        "computed_at": "2030-01-01T00:00:00.000Z",
    },
}


def cache_tiers(*scopes: Any) -> None:
    for scope in scopes:
        for tier, data in TIERS.items():
            publish.store_tier(scope, tier, data)


@pytest.fixture
def users(redis_client) -> dict[str, Any]:
    cache_tiers(HOSPITAL_SCOPE, Scope("ER"), Scope("ICU"))
    return {
        "admin": upsert_dashboard_user(
            username="ada", role="admin", departments=[], password="pw-ada-123456"
        )[0],
        "viewer": upsert_dashboard_user(
            username="vic", role="viewer", departments=[], password="pw-vic-123456"
        )[0],
        "er": upsert_dashboard_user(
            username="erin", role="department", departments=["ER"], password="pw-erin-12345"
        )[0],
        "icu": upsert_dashboard_user(
            username="ian", role="department", departments=["ICU"], password="pw-ian-123456"
        )[0],
    }


class Socket:
    def __init__(self, communicator: WebsocketCommunicator) -> None:
        self.communicator = communicator

    async def recv(self, wait_s: float = 5) -> dict[str, Any]:
        message = json.loads(await self.communicator.receive_from(wait_s))
        check_schema(message)
        return message

    async def send(self, body: dict[str, Any] | str) -> None:
        await self.communicator.send_to(text_data=body if isinstance(body, str) else json.dumps(body))


async def open_socket(
    headers: list[tuple[bytes, bytes]] | None = None, path: str = "/ws/dashboard/"
) -> tuple[Socket, bool, int | None]:
    communicator = WebsocketCommunicator(APP, path, headers=headers or [])
    connected, code = await communicator.connect(timeout=5)
    return Socket(communicator), connected, code


def bearer(user: Any) -> list[tuple[bytes, bytes]]:
    return [(b"authorization", f"Bearer {AccessToken.for_user(user)}".encode())]


async def closed_with(socket: Socket) -> int:
    output = await socket.communicator.receive_output(5)
    assert output["type"] == "websocket.close", output
    return int(output["code"])


async def test_jwt_client_gets_hello_then_snapshot_of_default_scope(users) -> None:
    socket, connected, _ = await open_socket(bearer(users["er"]))
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


async def test_admin_snapshot_has_revenue_viewer_snapshot_does_not(users) -> None:
    admin, _, _ = await open_socket(bearer(users["admin"]))
    await admin.recv()
    assert (await admin.recv())["data"]["standard"]["revenue"] == {"today": 5.0}
    viewer, _, _ = await open_socket(bearer(users["viewer"]))
    hello = await viewer.recv()
    assert hello["subscribed"] == ["hospital"]
    assert {"hospital", "dept:ER", "dept:ICU"} <= set(hello["scopes"])
    assert "revenue" not in json.dumps(await viewer.recv())
    await admin.communicator.disconnect()
    await viewer.communicator.disconnect()


async def test_department_user_may_not_subscribe_to_another_department_or_the_hospital(users) -> None:
    socket, _, _ = await open_socket(bearer(users["er"]))
    await socket.recv()
    await socket.recv()
    for scope in ("dept:ICU", "hospital"):
        await socket.send({"type": "subscribe", "scope": scope, "request_id": "r1"})
        error = await socket.recv()
        assert (error["type"], error["code"], error["request_id"]) == ("error", "forbidden", "r1")
    await socket.send({"type": "subscribe", "scope": "dept:NOPE"})
    assert (await socket.recv())["code"] == "unknown_scope"
    await socket.communicator.disconnect()


async def test_subscribe_unsubscribe_and_ping(users) -> None:
    socket, _, _ = await open_socket(bearer(users["viewer"]))
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


async def test_subscribe_with_since_replays_what_was_missed(users) -> None:
    socket, _, _ = await open_socket(bearer(users["er"]))
    await socket.recv()
    snapshot = await socket.recv()
    await socket.send({"type": "unsubscribe", "scope": "dept:ER"})
    await socket.recv()
    await sync_to_async(publish.publish_alert)(Scope("ER"), {"id": "a1"})
    await sync_to_async(publish.publish_alert)(Scope("ER"), {"id": "a2"})
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


async def test_published_updates_reach_subscribers_of_the_scope_only(users) -> None:
    er, _, _ = await open_socket(bearer(users["er"]))
    icu, _, _ = await open_socket(bearer(users["icu"]))
    for socket in (er, icu):
        await socket.recv()
        await socket.recv()
    await sync_to_async(publish.publish_tier)(Scope("ER"), "critical", TIERS["critical"])
    update = await er.recv()
    assert (update["type"], update["scope"], update["tier"]) == ("update", "dept:ER", "critical")
    assert await icu.communicator.receive_nothing(timeout=0.5)
    await er.communicator.disconnect()
    await icu.communicator.disconnect()


async def test_binary_frames_and_garbage_get_errors_and_the_connection_stays_open(users) -> None:
    socket, _, _ = await open_socket(bearer(users["er"]))
    await socket.recv()
    await socket.recv()
    await socket.communicator.send_to(bytes_data=b"\x00\x01")
    assert (await socket.recv())["code"] == "bad_request"
    await socket.send("{not json")
    assert (await socket.recv())["code"] == "bad_request"
    await socket.send({"type": "dashboard.push", "text": "forged"})
    assert (await socket.recv())["code"] == "unknown_type"
    await socket.send({"type": "ping"})
    assert (await socket.recv())["type"] == "pong"
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
    users, frame: str, code: str
) -> None:
    socket, _, _ = await open_socket(bearer(users["er"]))
    await socket.recv()
    await socket.recv()
    await socket.send(frame)
    error = await socket.recv()
    assert error["type"] == "error"
    assert error["code"] == code, error
    await socket.send({"type": "ping", "request_id": "still-here"})
    assert (await socket.recv()) == {"type": "pong", "request_id": "still-here"}
    await socket.communicator.disconnect()


async def test_a_frame_over_4_kib_closes_with_1009(users) -> None:
    socket, _, _ = await open_socket(bearer(users["er"]))
    await socket.recv()
    await socket.recv()
    await socket.send({"type": "ping", "request_id": "x" * 4100})
    assert await closed_with(socket) == 1009


async def test_exactly_4_kib_is_still_parsed(users) -> None:
    socket, _, _ = await open_socket(bearer(users["er"]))
    await socket.recv()
    await socket.recv()
    frame = '{"type": "ping", "pad": "' + "x" * (4096 - 27) + '"}'
    assert len(frame) == 4096
    await socket.send(frame)
    assert (await socket.recv())["type"] in ("pong", "error")
    await socket.communicator.disconnect()


async def test_no_credentials_close_with_4401(users) -> None:
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


async def test_forged_refresh_and_expired_tokens_close_with_4401(users) -> None:
    forged = await sync_to_async(_hostile_tokens)(users["admin"])
    for token in forged:
        socket, connected, _ = await open_socket([(b"authorization", f"Bearer {token}".encode())])
        assert connected
        assert await closed_with(socket) == 4401, token


async def test_user_without_a_dashboard_role_or_deactivated_closes_with_4403(users) -> None:
    plain = await sync_to_async(get_user_model().objects.create_user)("plain", password="pw-plain-12345")
    socket, _, _ = await open_socket(bearer(plain))
    assert await closed_with(socket) == 4403


async def test_ticket_is_single_use(users) -> None:
    ticket = await sync_to_async(tickets.issue)(users["er"].pk)
    socket, _, _ = await open_socket(path=f"/ws/dashboard/?ticket={ticket}")
    assert (await socket.recv())["type"] == "hello"
    await socket.communicator.disconnect()
    again, _, _ = await open_socket(path=f"/ws/dashboard/?ticket={ticket}")
    assert await closed_with(again) == 4401


async def _session_cookie(user: Any) -> bytes:
    from django.test import Client

    client = Client()
    await sync_to_async(client.force_login)(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


@pytest.mark.parametrize(
    "origin",
    [
        None,
        b"null",
        b"http://evil.example",
        b"http://evil.example:8000",
        b"http://localhost.evil.example",
        b"file://",
    ],
)
async def test_session_cookie_with_missing_or_foreign_origin_is_refused(users, origin: bytes | None) -> None:
    headers = [(b"cookie", await _session_cookie(users["admin"]))]
    if origin is not None:
        headers.append((b"origin", origin))
    _, connected, _ = await open_socket(headers)
    assert not connected


@pytest.mark.parametrize("origin", [b"http://localhost", b"http://127.0.0.1:8123", b"https://localhost:443"])
async def test_session_cookie_with_allowed_origin_connects(users, origin: bytes) -> None:
    headers = [(b"cookie", await _session_cookie(users["admin"])), (b"origin", origin)]
    socket, connected, _ = await open_socket(headers)
    assert connected
    assert (await socket.recv())["user"]["username"] == "ada"
    await socket.communicator.disconnect()


async def test_bearer_client_sending_a_foreign_origin_is_refused(users) -> None:
    _, connected, _ = await open_socket([*bearer(users["er"]), (b"origin", b"http://evil.example")])
    assert not connected

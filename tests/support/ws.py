"""WebSocket test support: the ASGI app, cached tiers, users per role, a socket wrapper."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.test import Client
from rest_framework_simplejwt.tokens import AccessToken

from dashboard.access.users import upsert_dashboard_user
from dashboard.protocol.scopes import HOSPITAL_SCOPE, Scope
from dashboard.realtime.handshake_auth import DashboardAuthStack
from dashboard.realtime.routing import websocket_urlpatterns
from dashboard.stream import tier_cache
from tests.support.schema import check_schema

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
            tier_cache.store_tier(scope, tier, data)


@pytest.fixture
def ws_users(redis_client) -> dict[str, Any]:
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


async def session_cookie(user: Any) -> bytes:
    client = Client()
    await sync_to_async(client.force_login)(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def next_of_type(socket: Any, kind: str, timeout_s: float = 5) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        message = await socket.recv(max(0.1, deadline - asyncio.get_running_loop().time()))
        if message["type"] == kind:
            return message


async def closed_with_within(socket: Any, timeout_s: float) -> int:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        output = await socket.communicator.receive_output(
            max(0.1, deadline - asyncio.get_running_loop().time())
        )
        if output["type"] == "websocket.close":
            return int(output["code"])

"""The ASGI application both servers run applies TRUSTED_PROXIES (default: none) before Django."""

from __future__ import annotations

import pytest
from asgiref.testing import ApplicationCommunicator

pytestmark = pytest.mark.asyncio


async def metrics_status(peer: str, headers: list[tuple[bytes, bytes]]) -> int:
    from hospital_dash.asgi import application

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/metrics",
        "raw_path": b"/metrics",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1"), *headers],
        "client": (peer, 50000),
        "server": ("127.0.0.1", 8000),
    }
    communicator = ApplicationCommunicator(application, scope)
    await communicator.send_input({"type": "http.request", "body": b"", "more_body": False})
    start = await communicator.receive_output(10)
    await communicator.wait(10)
    return int(start["status"])


async def test_with_no_trusted_proxies_x_forwarded_for_is_ignored(settings, redis_client) -> None:
    assert settings.TRUSTED_PROXIES == []
    settings.METRICS_ALLOWED_IPS = ["10.0.0.1"]
    assert await metrics_status("10.0.0.1", []) == 200
    assert await metrics_status("127.0.0.1", [(b"x-forwarded-for", b"10.0.0.1")]) == 403
    assert await metrics_status("127.0.0.1", [(b"x-forwarded-for", b"10.0.0.1, 10.0.0.1")]) == 403

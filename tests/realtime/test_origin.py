"""The WebSocket Origin rule (contract §4): scheme, host and port, of the handshake or listed."""

from __future__ import annotations

from typing import Any

import pytest

from dashboard.protocol.origins import Origin, parse_origin
from dashboard.realtime.handshake_auth import origin_allowed


def handshake(host: str | None, scheme: str = "ws") -> dict[str, Any]:
    headers = [] if host is None else [(b"host", host.encode())]
    return {"type": "websocket", "scheme": scheme, "headers": headers}


@pytest.mark.parametrize(
    ("text", "origin"),
    [
        ("http://localhost", Origin("http", "localhost", 80)),
        ("https://Dash.Example", Origin("https", "dash.example", 443)),
        ("https://dash.example:8443", Origin("https", "dash.example", 8443)),
        ("http://[::1]:8000", Origin("http", "::1", 8000)),
        ("null", None),
        ("file://", None),
        ("ws://dash.example", None),
        ("https://dash.example/", None),
        ("https://dash.example/path", None),
        ("https://user@dash.example", None),
        ("https://dash.example:99999", None),
        ("https://", None),
    ],
)
def test_parse_origin(text: str, origin: Origin | None) -> None:
    assert parse_origin(text) == origin


@pytest.mark.parametrize(
    ("origin", "host", "scheme"),
    [
        ("http://localhost", "localhost", "ws"),
        ("http://localhost:80", "localhost", "ws"),
        ("http://127.0.0.1:8123", "127.0.0.1:8123", "ws"),
        ("https://localhost", "localhost", "wss"),
        ("https://localhost:8443", "LOCALHOST:8443", "wss"),
    ],
)
def test_the_handshakes_own_origin_is_allowed(origin: str, host: str, scheme: str) -> None:
    assert origin_allowed(origin, handshake(host, scheme))


@pytest.mark.parametrize(
    ("origin", "host", "scheme"),
    [
        ("http://localhost:8000", "localhost", "ws"),  # another port of the same host
        ("http://localhost", "localhost:8000", "ws"),
        ("https://localhost", "localhost", "ws"),  # another scheme
        ("http://localhost", "localhost", "wss"),
        ("http://evil.example", "localhost", "ws"),  # another host
        ("http://evil.example", "evil.example", "ws"),  # its own, but not in ALLOWED_HOSTS
        ("http://localhost", None, "ws"),  # no Host to compare with
        ("null", "localhost", "ws"),
        (None, "localhost", "ws"),
    ],
)
def test_any_other_origin_is_refused(origin: str | None, host: str | None, scheme: str) -> None:
    assert not origin_allowed(origin, handshake(host, scheme))


def test_listed_origins_are_allowed_by_scheme_host_and_port(settings) -> None:
    settings.WS_ALLOWED_ORIGINS = ["https://wall.hospital.example"]
    scope = handshake("localhost")
    assert origin_allowed("https://wall.hospital.example", scope)
    assert origin_allowed("https://wall.hospital.example:443", scope)
    assert not origin_allowed("http://wall.hospital.example", scope)
    assert not origin_allowed("https://wall.hospital.example:8443", scope)
    assert not origin_allowed("https://other.hospital.example", scope)
    assert origin_allowed("http://localhost", scope)  # the handshake's own origin still is

"""Every server message a test receives is checked against the protocol's one schema of its type."""

from __future__ import annotations

from typing import Any

from dashboard.protocol.messages import SERVER_SCHEMAS


def check_schema(message: dict[str, Any]) -> None:
    kind = message.get("type")
    assert kind in SERVER_SCHEMAS, f"unlisted message type: {message}"
    for name, expected in SERVER_SCHEMAS[kind].items():
        assert name in message, f"{kind} lacks {name}: {message}"
        assert isinstance(message[name], expected), f"{kind}.{name} has the wrong type: {message}"
        if expected is int:
            assert not isinstance(message[name], bool)

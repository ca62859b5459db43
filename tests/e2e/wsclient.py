"""A real WebSocket client for the tests: reads messages, checks each against its schema."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from websockets.sync.client import ClientConnection, connect

from tests.support.schema import check_schema


class DashboardClient:
    def __init__(self, url: str, *, token: str | None = None, headers: dict[str, str] | None = None) -> None:
        all_headers = dict(headers or {})
        if token:
            all_headers["Authorization"] = f"Bearer {token}"
        self._context = connect(url, additional_headers=all_headers, open_timeout=10)
        self.connection: ClientConnection = self._context.__enter__()
        self.received: list[dict[str, Any]] = []

    def recv(self, timeout_s: float) -> dict[str, Any]:
        message = json.loads(self.connection.recv(timeout=timeout_s))
        check_schema(message)
        self.received.append(message)
        return message

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool], timeout_s: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"no matching message within {timeout_s} s; got {[m['type'] for m in self.received]}"
                )
            try:
                message = self.recv(remaining)
            except TimeoutError:
                continue
            if predicate(message):
                return message

    def drain(self, duration_s: float) -> list[dict[str, Any]]:
        """Every message that arrives within `duration_s`."""
        got = []
        deadline = time.monotonic() + duration_s
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                got.append(self.recv(remaining))
            except TimeoutError:
                break
        return got

    def send(self, message: dict[str, Any]) -> None:
        self.connection.send(json.dumps(message))

    def close(self) -> None:
        self._context.__exit__(None, None, None)

"""Calling the async channel layer from synchronous producers (Celery tasks, the watcher).

`async_to_sync(layer.group_send)` per message makes a new event loop and a new Redis
connection each time in a worker (channels_redis#332, #266). Instead each process keeps one
event loop on one daemon thread for its whole life, with one channel layer and one pool on it.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from channels.layers import get_channel_layer

SEND_TIMEOUT_S = 5.0

T = TypeVar("T")


class _LoopThread:
    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="layer-bridge", daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout_s: float) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout_s)


_lock = threading.Lock()
_bridge: _LoopThread | None = None


def _get_bridge() -> _LoopThread:
    global _bridge
    with _lock:
        if _bridge is None:
            _bridge = _LoopThread()
        return _bridge


def group_send(group: str, message: dict[str, Any]) -> None:
    """Send a message to a channel-layer group from synchronous code, reusing one loop."""
    layer = get_channel_layer()
    assert layer is not None, "CHANNEL_LAYERS is not configured"
    _get_bridge().run(layer.group_send(group, message), SEND_TIMEOUT_S)


def _reset_after_fork() -> None:
    # A forked child (a Celery pool process) has no copy of its parent's loop thread.
    global _bridge, _lock
    _bridge = None
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_reset_after_fork)

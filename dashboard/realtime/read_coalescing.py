"""One read for the many callers of a process asking for the same thing at once.

In a reconnect storm thousands of connections of one scope ask for the same snapshot or
replay within a few milliseconds; each read is a thread-pool hop, Redis round trips and
decoding. Callers with the same key share one read here, per event loop.

A caller shares only a read that starts after it asked: a connection joins its scope's group
before it asks, and its snapshot's or replay's position must be read after that join, or a
push published in between would be neither in the read nor held. So a caller arriving while
its key's read is in flight waits for the next read, which starts when the current one ends
and serves every caller that arrived meanwhile; a caller arriving when none is in flight
starts one at once (sharing it with whoever asks before it starts).

Every caller of a read gets the same object (they must not mutate it) or the same
exception. A cancelled caller (a client that left) cancels only its own wait, never the read.
"""

from __future__ import annotations

import asyncio
import functools
import weakref
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")


class Coalescer:
    """Concurrent reads with the same key share one call, started after each caller asked."""

    def __init__(self) -> None:
        # Per key: the read not yet started (new callers join it), and the read in flight.
        self._next: dict[Hashable, asyncio.Task[Any]] = {}
        self._current: dict[Hashable, asyncio.Task[Any]] = {}

    async def run(self, key: Hashable, read: Callable[[], Awaitable[T]]) -> T:
        """What `read()` returns or raises, from a call that starts after this one was made.

        `read` is called at most once per shared read, by the first caller's request;
        callers with the same `key` must pass equivalent reads. Raises what the read raised,
        or CancelledError when this caller is cancelled (the read goes on for the others).
        """
        task = self._next.get(key)
        if task is None or task.done():
            task = asyncio.get_running_loop().create_task(self._read(key, self._current.get(key), read))
            self._next[key] = task
            task.add_done_callback(functools.partial(self._forget, key))
        result: T = await asyncio.shield(task)
        return result

    async def _read(
        self, key: Hashable, previous: asyncio.Task[Any] | None, read: Callable[[], Awaitable[T]]
    ) -> T:
        if previous is not None and not previous.done():
            await asyncio.wait([previous])
        # From here on, whoever asks waits for the read after this one.
        self._current[key] = self._next.pop(key)
        return await read()

    def _forget(self, key: Hashable, task: asyncio.Task[Any]) -> None:
        for tasks in (self._next, self._current):
            if tasks.get(key) is task:
                del tasks[key]
        if not task.cancelled():
            task.exception()  # retrieved, so a read every caller left is not logged as unhandled


_coalescers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Coalescer] = weakref.WeakKeyDictionary()


def current() -> Coalescer:
    """This event loop's coalescer (one per web process; tests run a loop each)."""
    loop = asyncio.get_running_loop()
    coalescer = _coalescers.get(loop)
    if coalescer is None:
        coalescer = _coalescers[loop] = Coalescer()
    return coalescer

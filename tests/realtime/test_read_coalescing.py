"""The coalescer: callers asking at once share one read, and never one that started before they asked."""

from __future__ import annotations

import asyncio

import pytest

from dashboard.realtime.read_coalescing import Coalescer, current

pytestmark = pytest.mark.asyncio


class Counter:
    """A read whose result changes with every call: the number of the call (1, 2, ...)."""

    def __init__(self, *, blocked: bool = False) -> None:
        self.calls = 0
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        if not blocked:
            self.release.set()

    async def __call__(self) -> int:
        self.calls += 1
        call = self.calls
        self.started.set()
        await self.release.wait()
        return call


async def test_callers_asking_at_once_share_one_read() -> None:
    coalescer, read = Coalescer(), Counter()
    results = await asyncio.gather(*(coalescer.run("k", read) for _ in range(50)))
    assert results == [1] * 50
    assert read.calls == 1


async def test_a_caller_arriving_while_a_read_is_in_flight_gets_the_next_read() -> None:
    coalescer, read = Coalescer(), Counter(blocked=True)
    first = asyncio.create_task(coalescer.run("k", read))
    await read.started.wait()  # the first read is in flight
    later = [asyncio.create_task(coalescer.run("k", read)) for _ in range(10)]
    await asyncio.sleep(0.05)
    assert read.calls == 1  # the next read waits for the one in flight to end
    read.release.set()
    assert await first == 1
    assert await asyncio.gather(*later) == [2] * 10
    assert read.calls == 2
    assert await coalescer.run("k", read) == 3  # nothing in flight: a read of its own, at once


async def test_the_next_read_serves_everyone_who_asked_during_the_one_before() -> None:
    coalescer, read = Coalescer(), Counter(blocked=True)
    first = asyncio.create_task(coalescer.run("k", read))
    await read.started.wait()
    read.started.clear()
    second = asyncio.create_task(coalescer.run("k", read))
    await asyncio.sleep(0)
    read.release.set()
    read.release = asyncio.Event()  # the second read blocks in its turn
    await read.started.wait()
    third = asyncio.create_task(coalescer.run("k", read))  # the second read is in flight now
    await asyncio.sleep(0.05)
    read.release.set()
    assert (await first, await second, await third) == (1, 2, 3)


async def test_different_keys_do_not_share() -> None:
    coalescer, read = Coalescer(), Counter()
    results = await asyncio.gather(
        coalescer.run("a", read), coalescer.run("b", read), coalescer.run("a", read)
    )
    assert sorted(results) == [1, 1, 2]
    assert results[0] == results[2]
    assert read.calls == 2


async def test_an_exception_reaches_every_caller_of_that_read() -> None:
    coalescer = Coalescer()
    calls = 0

    async def failing() -> int:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        raise ValueError(f"read {calls} failed")

    results = await asyncio.gather(*(coalescer.run("k", failing) for _ in range(5)), return_exceptions=True)
    assert [str(result) for result in results] == ["read 1 failed"] * 5
    assert all(isinstance(result, ValueError) for result in results)
    assert await coalescer.run("k", Counter()) == 1  # a failed read is not remembered


async def test_a_cancelled_caller_does_not_cancel_the_read_for_the_others() -> None:
    coalescer, read = Coalescer(), Counter(blocked=True)
    leaving = asyncio.create_task(coalescer.run("k", read))
    staying = asyncio.create_task(coalescer.run("k", read))
    await read.started.wait()
    leaving.cancel()
    with pytest.raises(asyncio.CancelledError):
        await leaving
    read.release.set()
    assert await staying == 1
    assert read.calls == 1


async def test_a_read_every_caller_left_still_ends_and_the_next_caller_gets_a_new_one() -> None:
    coalescer, read = Coalescer(), Counter(blocked=True)
    leaving = asyncio.create_task(coalescer.run("k", read))
    await read.started.wait()
    leaving.cancel()
    waiting = asyncio.create_task(coalescer.run("k", read))
    read.release.set()
    assert await waiting == 2
    assert read.calls == 2


async def test_one_coalescer_per_event_loop() -> None:
    assert current() is current()

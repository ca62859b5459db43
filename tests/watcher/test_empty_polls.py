"""An empty change-stream poll that came back sooner than the floor waits out the rest.

nx-27017 ignores `maxAwaitTimeMS` and answers an empty poll at once; MongoDB holds it on the
server (docs/MONGODB_COMPATIBILITY.md, deviation 22). The stream readers are driven here by
fake streams and a fake clock, so the rule is checked without timing anything.
"""

from __future__ import annotations

import queue
import threading
import time
from typing import Any

import pytest

from dashboard.sources.mongo_compat import EMPTY_POLL_FLOOR_S, wait_out_early_empty_poll
from dashboard.watcher import streams
from dashboard.watcher.streams import StreamItem, StreamReader

SERVER_WAIT_S = streams.MAX_AWAIT_MS / 1000
POLLS = 5


class RecordingStop(threading.Event):
    """A stop event whose waits are recorded and return at once."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float | None] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout)
        return self.is_set()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class EmptyStream:
    """Answers each poll with nothing, after `takes_s` of the fake clock; sets `stop` after POLLS polls."""

    def __init__(self, clock: FakeClock, takes_s: float, stop: threading.Event) -> None:
        self.clock = clock
        self.takes_s = takes_s
        self.stop = stop
        self.polls = 0
        self.resume_token: dict[str, Any] | None = {"_data": "t"}

    def __enter__(self) -> EmptyStream:
        return self

    def __exit__(self, *_exc: object) -> None:
        return None

    def try_next(self) -> dict[str, Any] | None:
        self.clock.now += self.takes_s
        self.polls += 1
        if self.polls >= POLLS:
            self.stop.set()
        return None


class OneCollection:
    """A database whose every collection watches `stream`."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def __getitem__(self, name: str) -> Any:
        return self

    def watch(self, pipeline: list[dict[str, Any]], **options: Any) -> Any:
        return self.stream


def follow(stream: Any, stop: threading.Event) -> queue.Queue[StreamItem]:
    out: queue.Queue[StreamItem] = queue.Queue()
    reader = StreamReader(OneCollection(stream), "rooms", None, out, stop)  # type: ignore[arg-type]
    reader.start()
    reader.join(10)
    assert not reader.is_alive()
    return out


def test_the_floor_is_shorter_than_the_server_wait_so_mongodb_never_meets_it() -> None:
    assert 0 < EMPTY_POLL_FLOOR_S < SERVER_WAIT_S


def test_an_empty_poll_answered_at_once_waits_out_the_floor() -> None:
    stop = RecordingStop()
    wait_out_early_empty_poll(0.002, stop)
    assert stop.waits == [pytest.approx(EMPTY_POLL_FLOOR_S - 0.002)]


def test_an_empty_poll_the_server_held_waits_no_more() -> None:
    stop = RecordingStop()
    wait_out_early_empty_poll(SERVER_WAIT_S, stop)
    wait_out_early_empty_poll(EMPTY_POLL_FLOOR_S, stop)
    assert stop.waits == []


@pytest.mark.usefixtures("redis_client")
def test_a_reader_whose_polls_come_back_at_once_waits_between_them(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    monkeypatch.setattr(streams, "monotonic", clock)
    stop = RecordingStop()
    stream = EmptyStream(clock, takes_s=0.0, stop=stop)
    out = follow(stream, stop)
    assert stream.polls == POLLS
    assert stop.waits == [pytest.approx(EMPTY_POLL_FLOOR_S)] * POLLS
    # The resume token of an empty batch is still handed on, before the wait.
    assert out.get_nowait() == StreamItem("rooms", "token", None, {"_data": "t"})


@pytest.mark.usefixtures("redis_client")
def test_a_reader_whose_polls_the_server_held_asks_again_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    monkeypatch.setattr(streams, "monotonic", clock)
    stop = RecordingStop()
    stream = EmptyStream(clock, takes_s=SERVER_WAIT_S, stop=stop)
    follow(stream, stop)
    assert stream.polls == POLLS
    assert stop.waits == []


class InstantEmptyStream(EmptyStream):
    """Answers at once with nothing, as nx-27017 does, on the real clock, until stopped."""

    def try_next(self) -> dict[str, Any] | None:
        self.polls += 1
        return None


@pytest.mark.usefixtures("redis_client")
def test_a_reader_on_a_server_that_answers_at_once_does_not_spin_and_stops_promptly() -> None:
    stop = threading.Event()
    stream = InstantEmptyStream(FakeClock(), takes_s=0.0, stop=stop)
    out: queue.Queue[StreamItem] = queue.Queue()
    reader = StreamReader(OneCollection(stream), "rooms", None, out, stop)  # type: ignore[arg-type]
    started_at = time.monotonic()
    reader.start()
    time.sleep(0.5)
    stopped_at = time.monotonic()
    stop.set()
    reader.join(5)
    assert not reader.is_alive()
    assert time.monotonic() - stopped_at < EMPTY_POLL_FLOOR_S + 0.5
    # At most one poll per floor (plus the first): a tight loop would make thousands.
    assert 1 <= stream.polls <= (stopped_at - started_at) / EMPTY_POLL_FLOOR_S + 2

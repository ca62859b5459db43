"""Hostile frames through a real server: fragments, binary, invalid UTF-8, lone surrogates.

What the test communicator cannot send (fragmented messages, a text frame that is not
UTF-8) goes through daphne and uvicorn here. Every frame is answered with a message of the
protocol, or the connection is closed with a code the contract or the WebSocket protocol
gives it (never 1011), and every connection, however it ended, gives its place back.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from hospital_dash.web import SERVERS
from tests.support.live_stack import LiveStack
from tests.support.schema import check_schema

pytestmark = pytest.mark.e2e

PASSWORD = "a-long-test-password-5"
# 1007: a text frame that is not UTF-8 (RFC 6455); 1009: over 4 KiB; 4401: a bad reauth token.
ALLOWED_CLOSES = {1007, 1009, 4401}

MESSAGE = st.fixed_dictionaries(
    {"type": st.sampled_from(["ping", "subscribe", "unsubscribe", "ack_alert", "reauth", "nope"])},
    optional={
        "request_id": st.text(max_size=10) | st.integers(),
        "scope": st.sampled_from(["hospital", "dept:ER", "dept:ICU", "dept:NOPE"]) | st.text(max_size=10),
        "alert_id": st.text(max_size=10),
    },
).map(json.dumps)
SURROGATE = st.integers(0xD800, 0xDFFF).map(lambda point: f'{{"type":"ping","request_id":"\\u{point:04x}"}}')
# (kind, payload): a whole text message, a message in fragments, a binary frame, raw bytes as text.
FRAME = st.one_of(
    st.tuples(st.just("text"), MESSAGE | SURROGATE | st.text(min_size=1, max_size=50)),
    st.tuples(st.just("fragments"), (MESSAGE | SURROGATE).map(lambda text: [text[:3], text[3:7], text[7:]])),
    st.tuples(st.just("binary"), st.binary(min_size=1, max_size=64)),
    st.tuples(st.just("raw_text"), st.binary(min_size=1, max_size=32).filter(lambda raw: not _is_utf8(raw))),
)


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@pytest.fixture(scope="module", params=SERVERS)
def stack(request: pytest.FixtureRequest, live_stack: LiveStack) -> Iterator[LiveStack]:
    live_stack.create_user("hostile", PASSWORD, "department", "ER")
    live_stack.start("web", env={"WEB_SERVER": request.param})
    live_stack.wait_for_web()
    yield live_stack
    live_stack.processes.pop("web").stop()


def send(client: ClientConnection, kind: str, payload: object) -> None:
    if kind == "fragments":
        client.send([part for part in payload if part])  # type: ignore[union-attr]
    elif kind == "raw_text":
        client.send(payload, text=True)  # type: ignore[arg-type]
    else:
        client.send(payload)  # type: ignore[arg-type]


def answered_or_closed(client: ClientConnection) -> int | None:
    """Read until the fence's pong; the close code if the server closed instead."""
    try:
        client.send(json.dumps({"type": "ping", "request_id": "fence"}))
        while True:
            message = json.loads(client.recv(10))
            check_schema(message)
            if message == {"type": "pong", "request_id": "fence"}:
                return None
    except ConnectionClosed:
        code = client.close_code
        assert code in ALLOWED_CLOSES, f"closed with {code}"
        return code


def test_hostile_frames_get_a_protocol_answer_or_a_known_close_and_free_their_place(stack: LiveStack) -> None:
    token = stack.access_token("hostile", PASSWORD)
    # Leases that other modules' tests left to expire are not this test's.
    before = set(stack.redis().keys("dash:conns:*"))
    opened = 0

    @settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(st.lists(FRAME, min_size=1, max_size=6))
    def session(frames: list[tuple[str, object]]) -> None:
        nonlocal opened
        opened += 1
        with connect(
            stack.ws_url, additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=10
        ) as client:
            assert json.loads(client.recv(10))["type"] == "hello"
            for kind, payload in frames:
                with contextlib.suppress(ConnectionClosed):
                    send(client, kind, payload)
                if answered_or_closed(client) is not None:
                    return

    session()
    assert opened == 25
    deadline = time.monotonic() + 10
    while set(stack.redis().keys("dash:conns:*")) - before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert set(stack.redis().keys("dash:conns:*")) - before == set(), "closed connections kept their place"

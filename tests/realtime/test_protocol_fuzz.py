"""Fuzzing the WebSocket protocol: at least 10,000 random and mutated client messages.

A department user (ER) sends them (JSON of any shape, mutated JSON, lone surrogate escapes,
binary frames) through the real auth stack and the real Redis channel layer. The server must
never crash (no 1011), never send a message type the protocol does not list, always give a
closed connection's place back,
and never send ICU's or the hospital's numbers, or any revenue, to this user. The rate limit
is lifted here (tests/realtime/test_rate_limit.py and the consumer tests cover it) so every message is
parsed and handled.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dashboard.access.users import upsert_dashboard_user
from dashboard.protocol.scopes import HOSPITAL_SCOPE, Scope
from dashboard.realtime import consumer
from dashboard.realtime.rate_limit import Verdict
from dashboard.sources import redis_store
from dashboard.stream import tier_cache
from tests.support.schema import check_schema
from tests.support.ws import Socket, bearer, open_socket

pytestmark = pytest.mark.django_db(transaction=True)

MESSAGES_PER_EXAMPLE = 100
EXAMPLES = 100
FORBIDDEN_MARKERS = ("ICU-SECRET", "HOSPITAL-SECRET", "revenue")
# Closes a client may cause on purpose: a bad reauth token, a frame over 4 KiB.
EXPECTED_CLOSES = {4401, 1009}

TYPES = st.sampled_from(
    [
        "subscribe",
        "unsubscribe",
        "ping",
        "ack_alert",
        "reauth",
        "dashboard.push",
        "dashboard_push",
        "dashboard.access_changed",
        "websocket.receive",
        "websocket_disconnect",
        "_subscribe",
        "dispatch",
        "__init__",
        "hello",
        "snapshot",
    ]
) | st.text(max_size=12)
SCOPES = st.sampled_from(["hospital", "dept:ER", "dept:ICU", "dept:NOPE", "dept:", "", "DEPT:ER"]) | st.text(
    max_size=20
)
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=8,
)
SINCE = (
    st.fixed_dictionaries({"epoch": st.text(max_size=20) | VALUES, "seq": st.integers() | VALUES}) | VALUES
)
MESSAGE = st.fixed_dictionaries(
    {"type": TYPES},
    optional={
        "scope": SCOPES | VALUES,
        "since": SINCE,
        "request_id": VALUES,
        "alert_id": st.text(max_size=30) | st.just({"$ne": None}) | VALUES,
        "token": st.text(max_size=60) | VALUES,
    },
)


def _mutated(text: str) -> st.SearchStrategy[str]:
    cut = st.integers(0, len(text))
    return st.tuples(cut, cut, st.text(max_size=6)).map(lambda t: text[: t[0]] + t[2] + text[t[1] :])


def _with_lone_surrogate(message: dict[str, Any], field: str, code_point: int) -> str:
    """The message as JSON with `field` holding a lone surrogate escape (valid JSON, invalid Unicode)."""
    return json.dumps({**message, field: "SURROGATE"}).replace('"SURROGATE"', f'"x\\u{code_point:04x}"')


LONE_SURROGATES = st.builds(
    _with_lone_surrogate,
    MESSAGE,
    st.sampled_from(["request_id", "scope", "alert_id", "token", "type"]),
    st.integers(0xD800, 0xDFFF),
)

# An empty text frame cannot be sent (the WebSocket client and the test communicator refuse it).
FRAMES = st.one_of(
    MESSAGE.map(json.dumps),
    MESSAGE.map(json.dumps).flatmap(_mutated),
    LONE_SURROGATES,
    st.text(min_size=1, max_size=200),
    st.integers(1, 3000).map(lambda depth: "[" * depth + "]" * depth),
    st.binary(min_size=1, max_size=200),
).filter(bool)


class Unlimited:
    def take(self) -> Verdict:
        return Verdict.ACCEPT


@pytest.fixture
def er_user(redis_client) -> Any:
    secret = {"computed_at": "2030-01-01T00:00:00.000Z"}
    for scope, marker in (
        (Scope("ICU"), "ICU-SECRET"),
        (HOSPITAL_SCOPE, "HOSPITAL-SECRET"),
        (Scope("ER"), "ER-OWN"),
    ):
        tier_cache.store_tier(scope, "critical", {**secret, "marker": marker})
        for tier in ("standard", "historical"):
            tier_cache.store_tier(scope, tier, {**secret, "marker": marker, "revenue": {"today": 1.0}})
    upsert_dashboard_user(username="icu", role="department", departments=["ICU"], password=None)
    return upsert_dashboard_user(username="erin", role="department", departments=["ER"], password=None)[0]


def check_output(output: dict[str, Any], allowed_closes: set[int]) -> bool:
    """Check one thing the server sent; True when it closed the connection."""
    if output["type"] == "websocket.close":
        assert output["code"] in allowed_closes, output
        return True
    assert output["type"] == "websocket.send", output
    text = output["text"]
    for marker in FORBIDDEN_MARKERS:
        assert marker not in text, f"{marker} leaked to an ER user: {text[:300]}"
    check_schema(json.loads(text))
    return False


async def send_batch(user: Any, frames: list[str | bytes]) -> int:
    """Send the frames, re-opening after an expected close; returns how many were sent.

    Every connection, however it ended, must have given its place back.
    """
    socket: Socket | None = None
    sent = 0
    for frame in frames:
        if socket is None:
            socket, connected, _ = await open_socket(bearer(user))
            assert connected
        if isinstance(frame, bytes):
            await socket.communicator.send_to(bytes_data=frame)
        else:
            await socket.communicator.send_to(text_data=frame)
        sent += 1
        await socket.communicator.send_to(text_data=json.dumps({"type": "ping", "request_id": "fence"}))
        while True:
            output = await socket.communicator.receive_output(5)
            if check_output(output, EXPECTED_CLOSES):
                await socket.communicator.disconnect()  # as daphne tells the app after a close
                socket = None
                break
            if '"request_id":"fence"' in output["text"].replace(" ", "") and '"pong"' in output["text"]:
                break
    if socket is not None:
        await socket.communicator.disconnect()
    leases = redis_store.client().zcard(redis_store.connection_leases_key(user.pk))
    assert leases == 0, f"{leases} connections kept their place after closing"
    return sent


def test_ten_thousand_hostile_messages_never_crash_or_leak(er_user, monkeypatch) -> None:
    monkeypatch.setattr(consumer, "TokenBucket", Unlimited)
    total = 0

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
        ],
    )
    @given(st.lists(FRAMES, min_size=MESSAGES_PER_EXAMPLE, max_size=MESSAGES_PER_EXAMPLE))
    def batch(frames: list[str | bytes]) -> None:
        nonlocal total
        total += asyncio.run(send_batch(er_user, frames))

    batch()
    assert total >= 10_000, f"only {total} messages were sent"

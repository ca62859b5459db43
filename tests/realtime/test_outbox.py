"""The outbox of a client that is not reading: updates coalesce per scope and tier, nothing else does."""

from __future__ import annotations

import json
import time

from dashboard.realtime.outbox import Outbox, coalesce_key


def update(scope: str, tier: str, seq: int) -> str:
    return json.dumps({"type": "update", "scope": scope, "tier": tier, "seq": seq})


def alert(seq: int) -> str:
    return json.dumps({"type": "alert", "scope": "dept:ER", "seq": seq, "alert": {"id": f"a{seq}"}})


def drained(outbox: Outbox) -> list[int]:
    seqs = []
    while outbox:
        seqs.append(json.loads(outbox.pop())["seq"])
    return seqs


def test_only_updates_coalesce() -> None:
    assert coalesce_key(update("dept:ER", "critical", 1)) == ("dept:ER", "critical")
    assert coalesce_key(alert(1)) is None
    assert coalesce_key("not json") is None
    assert coalesce_key('["update"]') is None


def test_the_latest_update_per_scope_and_tier_is_kept_in_seq_order_and_alerts_all_stay() -> None:
    outbox = Outbox()
    for text in (
        update("dept:ER", "critical", 1),
        alert(2),
        update("dept:ER", "standard", 3),
        update("dept:ER", "critical", 4),
        alert(5),
        update("dept:ER", "critical", 6),
        update("hospital", "critical", 1),
    ):
        assert outbox.add(text)
    assert outbox.coalesced == 2
    assert drained(outbox) == [2, 3, 5, 6, 1]


def test_over_the_limit_add_says_so() -> None:
    outbox = Outbox(limit=3)
    assert all(outbox.add(alert(seq)) for seq in range(3))
    assert not outbox.add(alert(3))
    outbox.clear()
    assert len(outbox) == 0


def test_a_thousand_updates_of_one_tier_hold_one_message() -> None:
    outbox = Outbox(limit=3)
    assert all(outbox.add(update("dept:ER", "critical", seq)) for seq in range(1000))
    assert len(outbox) == 1
    assert drained(outbox) == [999]


def test_hold_keeps_messages_until_the_client_is_too_slow_then_empties_the_outbox() -> None:
    from dashboard.realtime.outbox import STALL_LIMIT_S
    from dashboard.telemetry.instruments import WS_CLOSED_SLOW

    before = WS_CLOSED_SLOW._value.get()
    outbox = Outbox(limit=2)
    now = time.monotonic()
    assert outbox.hold(alert(1), now, "client")
    assert outbox.hold(alert(2), now, "client")
    assert not outbox.hold(alert(3), now, "client")  # over the limit
    assert len(outbox) == 0
    stalled = Outbox()
    assert not stalled.hold(alert(1), now - STALL_LIMIT_S - 1, "client")  # blocked too long
    assert len(stalled) == 0
    assert WS_CLOSED_SLOW._value.get() == before + 2


def test_a_burst_passes_for_the_grace_then_messages_wait_and_order_is_kept() -> None:
    from dashboard.realtime.outbox import BURST_GRACE_S

    outbox = Outbox()
    now = time.monotonic()
    assert outbox.passes(None)  # the send buffer has room
    assert outbox.passes(now)  # full since this very moment: a burst being written
    assert not outbox.passes(now - BURST_GRACE_S - 0.01)  # full for longer: the client is not reading
    assert outbox.hold(alert(1), now - 1.0, "client")
    # Once something waits, everything after it waits too, whatever the buffer says.
    assert not outbox.passes(None)
    assert not outbox.passes(now)

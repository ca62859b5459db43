"""The one way out: seq order, visibility classes, replay history and epochs, on a real Redis."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from channels.layers import get_channel_layer

from dashboard.protocol.client_messages import Since
from dashboard.protocol.scopes import HOSPITAL_SCOPE, Scope
from dashboard.protocol.tiers import cache_ttl_s
from dashboard.sources import redis_store
from dashboard.stream import publish, tier_cache
from tests.support.alerts import sample_alert

STANDARD = {
    "appointments": {"today": 3, "completed": 1, "cancelled": 0, "no_show": 0, "completion_rate": 0.33},
    "revenue": {"today": 10.0, "week": 20.0, "month": 30.0},
    "computed_at": "2026-11-28T10:00:00.000Z",
}


async def _collect(group: str, count: int, publish_fn: Any) -> list[dict[str, Any]]:
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(group, channel)
    await asyncio.sleep(0.1)
    await asyncio.get_running_loop().run_in_executor(None, publish_fn)
    received = [await asyncio.wait_for(layer.receive(channel), 5) for _ in range(count)]
    await layer.group_discard(group, channel)
    return received


def test_seq_increases_per_scope_within_one_epoch(redis_client) -> None:
    first = publish.publish_tier(Scope("ER"), "standard", STANDARD)
    second = publish.publish_tier(Scope("ER"), "standard", STANDARD)
    other = publish.publish_tier(Scope("ICU"), "standard", STANDARD)
    assert (first.seq, second.seq, other.seq) == (1, 2, 1)
    assert first.epoch == second.epoch == other.epoch


def test_non_admin_group_never_receives_revenue(redis_client) -> None:
    basic = asyncio.run(
        _collect(
            HOSPITAL_SCOPE.group(with_revenue=False),
            1,
            lambda: publish.publish_tier(HOSPITAL_SCOPE, "standard", STANDARD),
        )
    )
    message = json.loads(basic[0]["text"])
    assert message["type"] == "update"
    assert "revenue" not in message["data"]
    assert "revenue" not in basic[0]["text"]


def test_admin_group_receives_revenue(redis_client) -> None:
    full = asyncio.run(
        _collect(
            HOSPITAL_SCOPE.group(with_revenue=True),
            1,
            lambda: publish.publish_tier(HOSPITAL_SCOPE, "standard", STANDARD),
        )
    )
    assert json.loads(full[0]["text"])["data"]["revenue"] == STANDARD["revenue"]


def test_replay_returns_every_missed_message_in_order(redis_client) -> None:
    scope = Scope("ER")
    start = publish.publish_tier(scope, "standard", STANDARD)
    for _ in range(5):
        publish.publish_alert(
            scope,
            {
                "id": "a",
                "department": "ER",
                "severity": "info",
                "kind": "k",
                "message": "m",
                "created_at": "x",
            },
        )
    missed = publish.replay(scope, with_revenue=False, since=Since(epoch=start.epoch, seq=start.seq))
    assert missed is not None
    assert [json.loads(text)["seq"] for text in missed] == [2, 3, 4, 5, 6]


def test_replay_when_up_to_date_is_empty(redis_client) -> None:
    pos = publish.publish_tier(Scope("ER"), "standard", STANDARD)
    assert publish.replay(Scope("ER"), with_revenue=True, since=Since(pos.epoch, pos.seq)) == []


def test_replay_refuses_another_epoch_or_a_trimmed_history(redis_client) -> None:
    scope = Scope("ER")
    pos = publish.publish_tier(scope, "standard", STANDARD)
    assert publish.replay(scope, with_revenue=False, since=Since("other-epoch", pos.seq)) is None
    for _ in range(publish.HISTORY_MAX_MESSAGES + 5):
        publish.publish_alert(scope, sample_alert("a"))
    assert publish.replay(scope, with_revenue=False, since=Since(pos.epoch, pos.seq)) is None


def test_history_is_bounded(redis_client) -> None:
    scope = Scope("ER")
    for _ in range(publish.HISTORY_MAX_MESSAGES + 20):
        publish.publish_alert(scope, sample_alert("a"))
    assert redis_client.zcard("dash:hist:dept.ER:basic") == publish.HISTORY_MAX_MESSAGES


def test_redis_restarting_empty_starts_a_new_epoch(redis_client) -> None:
    before = publish.publish_tier(Scope("ER"), "standard", STANDARD)
    redis_client.flushdb()
    after = publish.publish_tier(Scope("ER"), "standard", STANDARD)
    assert after.epoch != before.epoch
    assert after.seq == 1


def test_another_redis_master_starts_a_new_epoch_and_seqs_count_on(redis_client, caplog) -> None:
    before = publish.publish_tier(Scope("ER"), "standard", STANDARD)
    assert redis_client.get(redis_store.EPOCH_MASTER_KEY) == redis_client.info("server")["run_id"]
    # What a promoted replica holds: the epoch and the run id of the master it replicated.
    redis_client.set(redis_store.EPOCH_MASTER_KEY, "0" * 40)
    heartbeat = publish.positions([Scope("ER"), Scope("ICU")])
    after = publish.publish_tier(Scope("ER"), "standard", STANDARD)
    assert heartbeat[Scope("ER")].epoch == after.epoch != before.epoch
    assert (heartbeat[Scope("ER")].seq, heartbeat[Scope("ICU")].seq, after.seq) == (
        before.seq,
        0,
        before.seq + 1,
    )
    assert publish.replay(Scope("ER"), with_revenue=False, since=Since(before.epoch, before.seq)) is None
    assert [r.getMessage() for r in caplog.records if "Redis master" in r.getMessage()] == [
        f"started epoch {after.epoch}: the Redis master is not the one the last epoch began on"
    ]


def test_the_same_master_keeps_its_epoch(redis_client) -> None:
    first = publish.position(Scope("ER"))
    assert publish.publish_tier(Scope("ER"), "standard", STANDARD).epoch == first.epoch
    assert publish.positions([Scope("ICU")])[Scope("ICU")].epoch == first.epoch


@pytest.mark.parametrize("tier", ["critical", "standard", "historical"])
def test_tiers_are_cached_with_a_ttl_of_about_three_intervals(redis_client, tier: str) -> None:
    tier_cache.store_tier(HOSPITAL_SCOPE, tier, {"computed_at": "x"})
    ttl = redis_client.ttl(f"dash:tier:hospital:{tier}")
    assert 0 < ttl <= cache_ttl_s(tier)
    assert tier_cache.load_tiers(HOSPITAL_SCOPE, (tier,)) == {tier: {"computed_at": "x"}}


def test_a_tier_computed_before_the_last_published_one_is_dropped(redis_client) -> None:
    scope = Scope("ER")
    newer = {**STANDARD, "appointments": {**STANDARD["appointments"], "today": 4}}
    newer["computed_at"] = "2026-11-28T10:00:05.000Z"
    older = {**STANDARD, "computed_at": "2026-11-28T10:00:04.999Z"}

    async def publish_both() -> list[dict[str, Any]]:
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add(scope.group(with_revenue=True), channel)
        await asyncio.sleep(0.1)
        run = asyncio.get_running_loop().run_in_executor
        assert (await run(None, publish.publish_tier, scope, "standard", newer)) is not None
        assert (await run(None, publish.publish_tier, scope, "standard", older)) is None
        received = [await asyncio.wait_for(layer.receive(channel), 5)]
        with pytest.raises(TimeoutError):
            received.append(await asyncio.wait_for(layer.receive(channel), 1))
        return received

    received = asyncio.run(publish_both())
    assert [json.loads(event["text"])["data"]["computed_at"] for event in received] == [newer["computed_at"]]
    assert publish.position(scope).seq == 1
    assert tier_cache.load_tiers(scope, ("standard",))["standard"] == newer
    assert tier_cache.load_last_known(scope, "standard") == newer
    assert publish.replay(scope, with_revenue=True, since=Since(publish.position(scope).epoch, 0)) == [
        received[0]["text"]
    ]


def test_the_order_is_kept_per_scope_and_tier(redis_client) -> None:
    later = {**STANDARD, "computed_at": "2026-11-28T11:00:00.000Z"}
    assert publish.publish_tier(Scope("ER"), "standard", later) is not None
    assert publish.publish_tier(Scope("ER"), "critical", STANDARD) is not None
    assert publish.publish_tier(Scope("ICU"), "standard", STANDARD) is not None
    # The same computation published again (a retried run) is not older: it goes out.
    assert publish.publish_tier(Scope("ER"), "standard", later) is not None
    assert publish.position(Scope("ER")).seq == 3


@pytest.mark.parametrize("computed_at", [None, "yesterday", "2026-11-28T10:00:00"])
def test_a_tier_without_a_readable_computed_at_is_refused(redis_client, computed_at: str | None) -> None:
    with pytest.raises(ValueError, match="computed_at"):
        publish.publish_tier(Scope("ER"), "standard", {**STANDARD, "computed_at": computed_at})
    assert publish.position(Scope("ER")).seq == 0


def test_a_tier_stamped_by_a_clock_far_ahead_holds_back_the_right_ones_only_briefly(
    redis_client, monkeypatch, caplog
) -> None:
    # A producer whose clock runs 5 minutes ahead used to hold back every rightly stamped
    # tier for those 5 minutes (row 8 of the fault matrix).
    monkeypatch.setattr(publish, "CLOCK_AHEAD_ALLOWANCE_S", 0.5)
    scope = Scope("ER")
    now = datetime.now(UTC)
    ahead = {**STANDARD, "computed_at": (now + timedelta(minutes=5)).isoformat()}
    assert publish.publish_tier(scope, "standard", ahead) is not None
    assert "ahead of Redis's clock" in caplog.text
    time.sleep(1.0)
    right = {**STANDARD, "computed_at": datetime.now(UTC).isoformat()}
    assert publish.publish_tier(scope, "standard", right) is not None
    assert tier_cache.load_tiers(scope, ("standard",))["standard"] == right
    # Within the allowance the order still holds.
    older = {**STANDARD, "computed_at": (datetime.now(UTC) - timedelta(seconds=2)).isoformat()}
    assert publish.publish_tier(scope, "standard", older) is None

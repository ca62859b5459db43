"""The scope's publish lock: held for one publication, and not for long by a publisher that died.

On a real Redis, with the holder a real process that is SIGKILLed mid-publication.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from typing import Any

from dashboard.protocol.scopes import HOSPITAL_SCOPE
from dashboard.stream import publish, tier_cache

STANDARD = {
    "appointments": {"today": 3, "completed": 1, "cancelled": 0, "no_show": 0, "completion_rate": 0.33},
    "revenue": {"today": 10.0, "week": 20.0, "month": 30.0},
    "computed_at": "2026-11-28T10:00:00.000Z",
}

# A publisher that takes the hospital's publish lock and is killed before it lets go.
HOLD_THE_LOCK = """
import time
import django
django.setup()
from dashboard.protocol.scopes import HOSPITAL_SCOPE
from dashboard.stream import publish
with publish._scope_lock(HOSPITAL_SCOPE):
    print("held", flush=True)
    time.sleep(60)
"""


def test_a_publisher_killed_holding_the_lock_holds_the_scope_back_only_for_the_locks_lifetime(
    redis_client,
) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_THE_LOCK],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "hospital_dash.settings"},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        holder.kill()
        holder.wait(10)
        killed = time.monotonic()
        position = publish.publish_tier(HOSPITAL_SCOPE, "standard", STANDARD)
        waited = time.monotonic() - killed
    finally:
        holder.kill()
        holder.wait(10)
    assert position is not None
    assert waited <= publish.PUBLISH_LOCK_TIMEOUT_S + 0.5, f"waited {waited:.1f} s for a dead holder"


def test_a_publication_that_outlives_its_lock_is_done_and_logged(redis_client, monkeypatch, caplog) -> None:
    monkeypatch.setattr(publish, "PUBLISH_LOCK_TIMEOUT_S", 0.2)
    store = tier_cache.store_tier

    def slow_store(*args: Any) -> None:
        time.sleep(0.4)
        store(*args)

    monkeypatch.setattr(tier_cache, "store_tier", slow_store)
    with caplog.at_level(logging.WARNING, logger="dashboard.stream.publish"):
        position = publish.publish_tier(HOSPITAL_SCOPE, "standard", STANDARD)
    assert position is not None
    assert tier_cache.load_tiers(HOSPITAL_SCOPE, ["standard"])["standard"] == STANDARD
    assert "its publish lock had lapsed" in caplog.text

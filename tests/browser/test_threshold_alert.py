"""A threshold alert end to end: simulated occupancy crosses THRESHOLD_OCCUPANCY (0.9), the
watcher raises the alert, both tabs show it, one acknowledges it, the other sees it go."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from devstack.simulate import HospitalSimulator
from tests.support.live_stack import LiveStack

pytestmark = pytest.mark.e2e

DEPARTMENT = "ICU"


def occupancy(site: LiveStack, department: str) -> float:
    rooms = list(site.mongo().rooms.find({"department": department, "status": {"$ne": "maintenance"}}))
    return sum(room["occupied_beds"] for room in rooms) / sum(room["beds"] for room in rooms)


def threshold_alert(site: LiveStack, timeout_s: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = site.mongo().alerts.find_one({"kind": "threshold", "department": DEPARTMENT})
        if found is not None:
            return found
        time.sleep(0.1)
    raise AssertionError(f"no threshold alert for {DEPARTMENT} within {timeout_s} s\n{site.logs()}")


def test_simulated_occupancy_crossing_the_level_raises_one_alert_acknowledged_on_one_tab_gone_on_the_other(
    site: LiveStack, open_session
) -> None:
    assert occupancy(site, DEPARTMENT) <= 0.9
    assert site.mongo().alerts.find_one({"kind": "threshold"}) is None
    first = open_session("ada").page
    second = open_session("ada").page
    surge = HospitalSimulator(site.mongo(), rng=random.Random(11)).surge(datetime.now(UTC), DEPARTMENT)
    assert surge is not None
    assert occupancy(site, DEPARTMENT) > 0.9
    alert = threshold_alert(site)
    assert (alert["source"], alert["severity"], alert["check"]) == ("dashboard", "critical", "occupancy")
    selector = f'[data-alert-id="{alert["_id"]}"]'
    for page in (first, second):
        item = page.locator(selector)
        expect(item).to_be_visible(timeout=5_000)
        expect(item.locator(".alert-severity")).to_have_text("CRITICAL")
        expect(item).to_contain_text(f"Occupancy in {DEPARTMENT}")
    first.click(f"{selector} button.ack")
    expect(second.locator(selector)).to_have_count(0, timeout=3_000)
    expect(first.locator(selector)).to_have_count(0, timeout=3_000)
    stored = site.mongo().alerts.find_one({"_id": alert["_id"]})
    assert stored["acknowledged_by"] == "ada"
    # Still above the level: the same crossing raises nothing more.
    time.sleep(1.5)
    assert site.mongo().alerts.count_documents({"kind": "threshold", "department": DEPARTMENT}) == 1

"""The first end-to-end path: MongoDB change → watcher → Redis → channel layer → consumer.

Real daphne, Celery worker and beat, and the watcher run as separate processes from the
Procfile; the clients are real WebSocket clients with JWTs from the token endpoint.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.e2e.wsclient import DashboardClient
from tests.support.live_stack import LiveStack

pytestmark = pytest.mark.e2e

PASSWORD = "a-long-test-password-1"


def seed(stack: LiveStack) -> None:
    db = stack.mongo()
    now = datetime.now(UTC)
    db.patients.insert_many(
        [
            {
                "department": "ER",
                "status": "admitted",
                "is_emergency": True,
                "admitted_at": now - timedelta(hours=2),
                "discharged_at": None,
            },
            {
                "department": "ER",
                "status": "outpatient",
                "is_emergency": False,
                "admitted_at": now - timedelta(hours=1),
                "discharged_at": None,
            },
            {
                "department": "ICU",
                "status": "admitted",
                "is_emergency": False,
                "admitted_at": now - timedelta(days=2),
                "discharged_at": None,
            },
        ]
    )
    db.rooms.insert_many(
        [
            {"department": "ER", "status": "occupied", "beds": 2, "occupied_beds": 1},
            {"department": "ICU", "status": "available", "beds": 1, "occupied_beds": 0},
        ]
    )


@pytest.fixture(scope="module")
def running(live_stack: LiveStack) -> Iterator[LiveStack]:
    seed(live_stack)
    live_stack.create_user("er_nurse", PASSWORD, "department", "ER")
    live_stack.create_user("icu_nurse", PASSWORD, "department", "ICU")
    # Beat starts later, in the test, so the first update can only come from the watcher.
    live_stack.start("web", "worker", "watcher")
    live_stack.wait_for_web()
    live_stack.wait_for_log("watcher", "6 of 6 change streams open")
    live_stack.wait_for_log("worker", "ready")
    return live_stack


@pytest.fixture
def er_client(running: LiveStack) -> Iterator[DashboardClient]:
    client = DashboardClient(running.ws_url, token=running.access_token("er_nurse", PASSWORD))
    yield client
    client.close()


@pytest.fixture
def icu_client(running: LiveStack) -> Iterator[DashboardClient]:
    client = DashboardClient(running.ws_url, token=running.access_token("icu_nurse", PASSWORD))
    yield client
    client.close()


def connect_and_snapshot(client: DashboardClient, scope: str) -> dict:
    hello = client.recv(10)
    assert hello["type"] == "hello"
    assert hello["subscribed"] == [scope]
    snapshot = client.recv(10)
    assert snapshot["type"] == "snapshot"
    assert snapshot["scope"] == scope
    assert set(snapshot["data"]) == {"critical", "standard", "historical"}
    return snapshot


def test_department_user_gets_hello_then_a_snapshot_of_its_department(er_client: DashboardClient) -> None:
    hello = er_client.recv(10)
    assert hello["protocol"] == 1
    assert hello["user"] == {"username": "er_nurse", "role": "department", "departments": ["ER"]}
    assert hello["scopes"] == ["dept:ER"]
    snapshot = er_client.recv(10)
    assert snapshot["type"] == "snapshot"
    assert snapshot["scope"] == "dept:ER"
    assert snapshot["data"]["critical"]["patients"]["emergency"] >= 1
    assert "revenue" not in snapshot["data"]["standard"]


def test_watcher_delivers_within_one_second_then_beat_publishes_and_icu_sees_only_icu(
    running: LiveStack, er_client: DashboardClient, icu_client: DashboardClient
) -> None:
    snapshot = connect_and_snapshot(er_client, "dept:ER")
    connect_and_snapshot(icu_client, "dept:ICU")
    before = snapshot["data"]["critical"]["patients"]["emergency"]
    last_seq = snapshot["seq"]

    inserted_at = time.monotonic()
    running.mongo().patients.insert_one(
        {
            "department": "ER",
            "status": "admitted",
            "is_emergency": True,
            "admitted_at": datetime.now(UTC),
            "discharged_at": None,
        }
    )
    update = er_client.wait_for(
        lambda m: (
            m["type"] == "update"
            and m["tier"] == "critical"
            and m["data"]["patients"]["emergency"] == before + 1
        ),
        timeout_s=5,
    )
    latency_s = time.monotonic() - inserted_at
    assert latency_s < 1.0, f"update took {latency_s:.3f} s"
    assert update["scope"] == "dept:ER"
    assert update["seq"] > last_seq
    assert update["epoch"] == snapshot["epoch"]

    # With no further change, the next critical update can only come from a Celery beat run.
    running.start("beat")
    beat_update = er_client.wait_for(
        lambda m: m["type"] == "update" and m["tier"] == "critical", timeout_s=12
    )
    assert beat_update["seq"] > update["seq"]
    assert beat_update["data"]["computed_at"] > update["data"]["computed_at"]
    assert beat_update["data"]["patients"]["emergency"] == before + 1

    # The ICU client saw its own department's stream only.
    icu_messages = icu_client.received + icu_client.drain(1.0)
    assert any(m["type"] == "update" for m in icu_messages), "the ICU client got no update of its own"
    for message in icu_messages:
        assert message.get("scope", "dept:ICU") == "dept:ICU", message

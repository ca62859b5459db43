"""The watcher loses nothing: crashes between push and token save, failover, bad events.

Real daphne and watcher processes, real Redis and MongoDB wire server, a real WebSocket
client subscribed to the hospital scope counting the alerts it receives.
"""

from __future__ import annotations

import signal
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest

from dashboard.sources.redis_store import SKIPPED_DOCUMENTS_KEY, watcher_token_key
from dashboard.watcher.lease import LEASE_KEY
from tests.e2e.wsclient import DashboardClient
from tests.support.live_stack import LiveStack

pytestmark = pytest.mark.e2e

PASSWORD = "a-long-test-password-2"
TAKEOVER_LIMIT_S = 10.0


def new_alert(stack: LiveStack, label: str, department: str = "ER") -> str:
    result = stack.mongo().alerts.insert_one(
        {
            "department": department,
            "severity": "warning",
            "kind": "test",
            "message": label,
            "created_at": datetime.now(UTC),
            "acknowledged_at": None,
            "acknowledged_by": None,
        }
    )
    return str(result.inserted_id)


def alert_ids(messages: list[dict]) -> list[str]:
    return [m["alert"]["id"] for m in messages if m["type"] == "alert"]


@pytest.fixture(scope="module")
def web(live_stack: LiveStack) -> LiveStack:
    live_stack.mongo().patients.insert_one(
        {
            "department": "ER",
            "status": "admitted",
            "is_emergency": False,
            "admitted_at": datetime.now(UTC),
            "discharged_at": None,
        }
    )
    live_stack.create_user("ada", PASSWORD, "admin")
    live_stack.manage(
        "dashboard_user", "erin", "--role", "department", "--departments", "ER,ICU", stdin=PASSWORD + "\n"
    )
    live_stack.start("web")
    live_stack.wait_for_web()
    return live_stack


@pytest.fixture(autouse=True)
def _no_watcher_left_running(web: LiveStack) -> Iterator[None]:
    """A failed test must not leave its watcher holding the lease for the next one."""
    yield
    for name, proc in web.processes.items():
        if name.startswith("watcher"):
            proc.stop()


@pytest.fixture
def admin(web: LiveStack) -> Iterator[DashboardClient]:
    client = DashboardClient(web.ws_url, token=web.access_token("ada", PASSWORD))
    assert client.recv(10)["type"] == "hello"
    assert client.recv(10)["type"] == "snapshot"
    yield client
    client.close()


def collect_alerts(client: DashboardClient, expected: set[str], timeout_s: float) -> list[str]:
    """Alert ids received until every expected one arrived or the time is up."""
    got: list[str] = []
    deadline = time.monotonic() + timeout_s
    while not expected <= set(got) and (remaining := deadline - time.monotonic()) > 0:
        try:
            message = client.recv(remaining)
        except TimeoutError:
            break
        got += alert_ids([message])
    return got


def wait_for_saved_token(web: LiveStack, collection: str, timeout_s: float = 15) -> None:
    """Until the watcher has saved a resume position of `collection` (its first, at the latest once
    caught up after opening the stream): a crash after it is the case the test is about."""
    deadline = time.monotonic() + timeout_s
    while web.redis().get(watcher_token_key(collection)) is None:
        assert time.monotonic() < deadline, f"no resume token of {collection} saved\n{web.logs()}"
        time.sleep(0.05)


def test_sigkill_between_push_and_token_save_loses_nothing(web: LiveStack, admin: DashboardClient) -> None:
    web.start("watcher", as_name="watcher-held", env={"WATCH_FAULT_HOLD_TOKEN_SAVE_S": "30"})
    web.wait_for_log("watcher-held", "6 of 6 change streams open")
    # An alert inserted before the stream's first position is saved has nothing to resume from
    # (under load in CI the alert of the crash came first, and the restart began at its own start).
    wait_for_saved_token(web, "alerts")
    before = new_alert(web, "before the crash")
    assert collect_alerts(admin, {before}, 5) == [before], web.logs()
    web.wait_for_log("watcher-held", "holding the token save")
    web.processes["watcher-held"].signal(signal.SIGKILL)
    web.processes["watcher-held"].stop()

    during = new_alert(web, "while no watcher runs")
    time.sleep(6)  # the dead holder's lease expires
    web.start("watcher", as_name="watcher-restarted")
    web.wait_for_log("watcher-restarted", "6 of 6 change streams open")
    after = new_alert(web, "after the restart")
    received = [before, *collect_alerts(admin, {during, after}, 15)]
    assert sorted(received) == sorted([before, during, after]), "an alert was lost or sent twice"
    # The restarted watcher replayed the event pushed before the crash and dropped it as a duplicate.
    web.processes["watcher-restarted"].stop()


def test_standby_takes_over_within_ten_seconds_and_every_alert_arrives(
    web: LiveStack, admin: DashboardClient
) -> None:
    web.start("watcher", as_name="watcher-a")
    web.wait_for_log("watcher-a", "6 of 6 change streams open")
    web.start("watcher", as_name="watcher-b")
    web.wait_for_log("watcher-b", "is standby")
    holder_a = web.redis().get(LEASE_KEY)
    failovers_before = int(web.redis().hget("dash:watch:stats", "failovers") or 0)

    written: list[str] = []
    killed = threading.Event()

    def write_200() -> None:
        for index in range(200):
            written.append(new_alert(web, f"burst {index}", department=("ER", "ICU")[index % 2]))
            if index == 60:
                web.processes["watcher-a"].signal(signal.SIGKILL)
                killed.set()
            time.sleep(0.02)

    writer = threading.Thread(target=write_200)
    writer.start()
    assert killed.wait(30)
    killed_at = time.monotonic()
    while web.redis().get(LEASE_KEY) in (holder_a, None) and time.monotonic() - killed_at < 20:
        time.sleep(0.05)
    takeover_s = time.monotonic() - killed_at
    writer.join()
    assert takeover_s < TAKEOVER_LIMIT_S, f"the standby took {takeover_s:.1f} s to take the lease"

    received = collect_alerts(admin, set(written), 30)
    missing = set(written) - set(received)
    assert not missing, f"{len(missing)} of 200 alerts never arrived:\n{web.logs()}"
    # At least once: only an alert published in the instant before the kill may come twice.
    assert len(received) - len(set(received)) <= 1
    with urllib.request.urlopen(f"{web.http_url}/metrics", timeout=5) as response:
        exposed = response.read().decode().splitlines()
    failovers = [
        float(line.split()[1]) for line in exposed if line.startswith("dash_watcher_failovers_total ")
    ]
    assert failovers == [failovers_before + 1]
    web.processes["watcher-a"].stop()
    web.processes["watcher-b"].stop()


def test_bad_documents_are_skipped_counted_and_the_stream_goes_on(
    web: LiveStack, admin: DashboardClient
) -> None:
    """Values the contract does not allow are skipped and counted per collection and field
    (contract §8), never pushed, and the next good alert arrives."""
    web.start("watcher", as_name="watcher-c")
    web.wait_for_log("watcher-c", "6 of 6 change streams open")
    db = web.mongo()
    skipped_before = web.redis().hgetall(SKIPPED_DOCUMENTS_KEY)
    db.alerts.insert_one(
        {
            "department": "ER",
            "severity": "apocalyptic",
            "kind": "x",
            "message": "bad",
            "created_at": datetime.now(UTC),
        }
    )
    db.alerts.insert_one(
        {
            "department": "ER",
            "severity": "critical",
            "kind": "x",
            "message": "no date",
            "created_at": "yesterday",
        }
    )
    db.patients.insert_one({"status": "admitted", "note": "no department"})
    good = new_alert(web, "after the bad ones")
    assert collect_alerts(admin, {good}, 10) == [good]

    def grown() -> set[str]:
        now = web.redis().hgetall(SKIPPED_DOCUMENTS_KEY)
        return {field for field, count in now.items() if int(count) > int(skipped_before.get(field, 0))}

    expected = {"alerts.severity", "alerts.created_at", "patients.department"}
    deadline = time.monotonic() + 5
    while not expected <= grown() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert expected <= grown(), grown()
    web.processes["watcher-c"].stop()


def test_a_year_one_discharge_date_in_chicago_holds_back_no_alert_and_crashes_no_restart(
    web: LiveStack, admin: DashboardClient
) -> None:
    chicago = {"TIME_ZONE": "America/Chicago"}
    db = web.mongo()

    def admitted_with_year_one_discharge() -> None:
        db.patients.insert_one(
            {
                "department": "ER",
                "status": "admitted",
                "is_emergency": True,
                "admitted_at": datetime.now(UTC),
                "discharged_at": datetime(1, 1, 1, tzinfo=UTC),
            }
        )

    admitted_with_year_one_discharge()  # read by the rebuild on activation
    web.start("watcher", as_name="watcher-chicago", env=chicago)
    web.wait_for_log("watcher-chicago", "6 of 6 change streams open")
    admitted_with_year_one_discharge()  # read from the change stream
    result = db.alerts.insert_one(
        {
            "department": "ER",
            "severity": "critical",
            "kind": "code_blue",
            "message": "after the year-one patient",
            "created_at": datetime.now(UTC),
            "acknowledged_at": None,
            "acknowledged_by": None,
        }
    )
    critical = str(result.inserted_id)
    assert collect_alerts(admin, {critical}, 5) == [critical], web.logs()

    web.processes["watcher-chicago"].stop()
    web.start("watcher", as_name="watcher-chicago-restarted", env=chicago)
    web.wait_for_log("watcher-chicago-restarted", "6 of 6 change streams open")
    after = new_alert(web, "after the restart")
    assert collect_alerts(admin, {after}, 5) == [after], web.logs()
    log = web.processes["watcher-chicago-restarted"].log_path.read_text(errors="replace")
    assert "OverflowError" not in log
    assert "dead-lettered" not in log
    web.processes["watcher-chicago-restarted"].stop()


def test_a_standby_keeps_the_counters_of_a_watcher_killed_mid_batch_and_counts_nothing_twice(
    web: LiveStack,
) -> None:
    redis, db = web.redis(), web.mongo()

    def er_emergencies() -> tuple[int, int]:
        """(the maintained counter, MongoDB's count) of ER's admitted emergency patients."""
        counted = int(redis.hget("dash:maint:counts:ER", "emergency") or 0)
        return counted, db.patients.count_documents(
            {"department": "ER", "status": "admitted", "is_emergency": True}
        )

    # A watcher without the fault first takes in what earlier tests left after the last saved
    # tokens: the faulty one would otherwise hold its first batch, not the inserts below.
    web.start("watcher", as_name="watcher-catches-up")
    web.wait_for_log("watcher-catches-up", "6 of 6 change streams open")
    wait_until(lambda: bool(redis.exists("dash:maint:live")), 20, "the counters live")
    web.processes["watcher-catches-up"].stop()
    wait_until(lambda: not redis.exists("dash:watch:lease"), 20, "the lease released")
    web.start("watcher", as_name="watcher-dies", env={"WATCH_FAULT_HOLD_TOKEN_SAVE_S": "30"})
    web.wait_for_log("watcher-dies", "6 of 6 change streams open")
    wait_until(lambda: bool(redis.exists("dash:maint:live")), 20, "the counters live again")
    held_early = "holding the token save" in web.processes["watcher-dies"].log_path.read_text()
    assert not held_early, "the faulty watcher held a batch before the inserts"
    counted_before, stored_before = er_emergencies()
    now = datetime.now(UTC)
    db.patients.insert_many(
        [
            {
                "department": "ER",
                "status": "admitted",
                "is_emergency": True,
                "admitted_at": now,
                "discharged_at": None,
            }
            for _ in range(3)
        ]
    )
    # Applied to the counters and published; killed before the tokens past them are saved.
    web.wait_for_log("watcher-dies", "holding the token save")
    web.processes["watcher-dies"].signal(signal.SIGKILL)
    web.processes["watcher-dies"].stop()
    assert er_emergencies()[0] > counted_before, "the dead watcher applied none of the inserts"

    time.sleep(6)  # the dead holder's lease expires
    web.start("watcher", as_name="watcher-keeps")
    web.wait_for_log("watcher-keeps", "counters kept from the previous watcher")
    deadline = time.monotonic() + 10
    while er_emergencies()[0] != counted_before + 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    counted_after, stored_after = er_emergencies()
    assert stored_after == stored_before + 3
    assert counted_after == counted_before + 3, f"replayed inserts counted again:\n{web.logs()}"
    time.sleep(1.5)  # every replayed event handled: still once
    assert er_emergencies()[0] == counted_before + 3
    web.processes["watcher-keeps"].stop()


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Return once `condition()` holds; AssertionError naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"not {what} within {timeout_s:.0f} s"
        time.sleep(0.1)

"""The page at three sizes, its charts, flow tiles, notifications and self-reload, in a real chromium.

Wall mode at 1920x1080, the phone layout at 390x844 and the desktop page are screenshotted
under var/screenshots/ and checked for horizontal overflow. Tests that need exact values feed
the page snapshot messages through Playwright's WebSocket routing (the contract §8 keys the
server adds); the others run against the real stack.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, WebSocketRoute, expect
from playwright.sync_api import Error as PlaywrightError

from tests.browser.conftest import SCREENSHOTS
from tests.support.live_stack import LiveStack

pytestmark = pytest.mark.e2e

MINUS = "\u2212"  # the page writes decreases with a minus sign, not a hyphen
NO_DATA = "\u2013"  # an en dash: no value
NO_OVERFLOW = "document.documentElement.scrollWidth <= document.documentElement.clientWidth"

# Wraps the real Notification constructor to record what the page shows (the real one still runs).
RECORD_NOTIFICATIONS = """
(() => {
  const Real = window.Notification;
  window.__notifications = [];
  window.__permissionRequests = 0;
  function Recorded(title, options) {
    window.__notifications.push({ title: title, body: options && options.body });
    return new Real(title, options);
  }
  Object.defineProperty(Recorded, "permission", {
    get: () => window.__permissionOverride || Real.permission,
  });
  Recorded.requestPermission = function () {
    window.__permissionRequests += 1;
    delete window.__permissionOverride;
    return Real.requestPermission();
  };
  window.Notification = Recorded;
})();
"""


def insert_alert(site: LiveStack, department: str, severity: str, message: str) -> str:
    result = site.mongo().alerts.insert_one(
        {
            "department": department,
            "severity": severity,
            "kind": "browser_test",
            "message": message,
            "created_at": datetime.now(UTC),
            "acknowledged_at": None,
            "acknowledged_by": None,
        }
    )
    return str(result.inserted_id)


def screenshot(page: Page, name: str, *, full_page: bool = False) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=full_page)


def box(page: Page, selector: str) -> dict[str, float]:
    found = page.locator(selector).first.bounding_box()
    assert found is not None, f"{selector} is not displayed"
    return found


class FakeServer:
    """Stands in for the WebSocket endpoint: answers each connection with `hello`, records
    what the page sends, and lets the test push any server message."""

    def __init__(self, subscribed: str = "hospital") -> None:
        self.subscribed = subscribed
        self.sockets: list[WebSocketRoute] = []
        self.received: list[dict[str, Any]] = []

    def attach(self, context: BrowserContext) -> None:
        context.route_web_socket(re.compile(r".*/ws/dashboard/$"), self.accept)

    def accept(self, socket: WebSocketRoute) -> None:
        self.sockets.append(socket)
        socket.on_message(lambda message: self.received.append(json.loads(message)))
        self.send(
            {
                "type": "hello",
                "protocol": 1,
                "user": {"username": "ada", "role": "admin", "departments": []},
                "scopes": [self.subscribed],
                "subscribed": [self.subscribed],
            }
        )

    def send(self, message: dict[str, Any]) -> None:
        self.sockets[-1].send(json.dumps(message))


def boot_snapshot(page: Page) -> dict[str, Any]:
    snapshot: dict[str, Any] = page.evaluate(
        "JSON.parse(document.getElementById('dash-boot').textContent).snapshot"
    )
    return snapshot


FLOW_CRITICAL = {"boarding": 7, "boarding_longest_min": 125, "boarding_median_min": 44.5}
FLOW_STANDARD = {
    "los_avg_h_7d": 52.34,
    "discharges_today": 8,
    "discharges_before_noon": 3,
    "discharges_before_noon_share": 0.375,
    "bed_turnaround_median_min": 38,
    "lwbs_today": 2,
    "lwbs_share": 0.25,
}
OUTLOOK = [
    {"hour": "2030-01-01T10:00:00Z", "expected_occupied_beds": 41.26, "low": 38, "high": 44.5},
    {"hour": "2030-01-01T11:00:00Z", "expected_occupied_beds": 42, "low": 38.5, "high": 46},
    {"hour": "2030-01-01T12:00:00Z", "expected_occupied_beds": 43.5, "low": 39, "high": 48},
    {"hour": "2030-01-01T13:00:00Z", "expected_occupied_beds": 44, "low": 39, "high": 49.04},
]


def with_flow(snapshot: dict[str, Any], seq: int) -> dict[str, Any]:
    data = json.loads(json.dumps(snapshot["data"]))
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    data["critical"] = {**data["critical"], "flow": FLOW_CRITICAL, "computed_at": now}
    data["standard"] = {**data["standard"], "flow": FLOW_STANDARD, "computed_at": now}
    data["historical"] = {**data["historical"], "outlook": OUTLOOK, "computed_at": now}
    return {**snapshot, "seq": seq, "data": data}


def without_flow(snapshot: dict[str, Any], seq: int) -> dict[str, Any]:
    """The snapshot as a server without the contract §8 keys would send it."""
    data = json.loads(json.dumps(snapshot["data"]))
    data["critical"].pop("flow", None)
    data["standard"].pop("flow", None)
    data["historical"].pop("outlook", None)
    return {**snapshot, "seq": seq, "data": data}


def tile_text(page: Page, key: str, part: str = "value") -> str:
    return page.inner_text(f'.tile[data-key="{key}"] [data-{part}]')


def test_wall_mode_fills_a_1920x1080_screen_with_departments_and_alerts_in_view(
    site: LiveStack, open_session: Callable[..., Any]
) -> None:
    insert_alert(site, "ICU", "critical", "Wall test: oxygen supply pressure low")
    page = open_session("ada", "/?wall=1", viewport=(1920, 1080)).page
    expect(page.locator(".alert-message", has_text="Wall test: oxygen")).to_be_visible(timeout=3_000)
    assert page.evaluate(NO_OVERFLOW), "wall mode scrolls sideways"
    assert page.evaluate("document.documentElement.scrollHeight <= 1080"), "wall mode scrolls down"
    assert page.evaluate("document.body.classList.contains('wall')")
    expect(page.locator(".brand")).to_be_hidden()
    expect(page.locator(".logout")).to_be_hidden()
    expect(page.locator("#scope-filter")).to_be_hidden()
    for selector in ("table.departments", ".alerts-panel", '.tile[data-key="critical.flow.boarding"]'):
        found = box(page, selector)
        assert found["y"] >= 0, f"{selector} starts above the screen: {found}"
        assert found["y"] + found["height"] <= 1080, f"{selector} ends below the screen: {found}"
    assert page.locator("#department-rows tr").count() == 10
    # Readable from 3 m: large numbers and table text, light on dark.
    value_px = page.evaluate(
        "parseFloat(getComputedStyle(document.querySelector('.tile[data-wall] .tile-value')).fontSize)"
    )
    table_px = page.evaluate(
        "parseFloat(getComputedStyle(document.querySelector('#department-rows td')).fontSize)"
    )
    assert value_px >= 56, value_px
    assert table_px >= 24, table_px
    truncated = page.evaluate(
        "[...document.querySelectorAll('.tile[data-wall] .tile-label, .tile[data-wall] .tile-age')]"
        ".filter(e => e.scrollWidth > e.clientWidth).map(e => e.textContent)"
    )
    assert truncated == [], f"cut short on the wall: {truncated}"
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(11, 17, 24)", background
    screenshot(page, "wall_1920x1080.png")


def test_the_phone_layout_stacks_tiles_puts_alerts_first_and_never_scrolls_sideways(
    site: LiveStack, open_session: Callable[..., Any]
) -> None:
    insert_alert(site, "ER", "critical", "Phone test: trauma team to bay 3")
    page = open_session("ada", viewport=(390, 844)).page
    expect(page.locator(".alert-message", has_text="Phone test")).to_be_visible(timeout=3_000)
    assert page.evaluate(NO_OVERFLOW), "the phone layout scrolls sideways"
    alerts_top = box(page, ".alerts-panel")["y"]
    tiles = page.locator(".tile:visible")
    first_tile = tiles.first.bounding_box()
    assert first_tile is not None
    assert alerts_top < first_tile["y"], "the alert panel is not first"
    lefts = {round(tiles.nth(i).bounding_box()["x"]) for i in range(6)}  # type: ignore[index]
    assert len(lefts) == 1, f"tiles are not stacked one per row: {lefts}"
    for chart in ("#chart-hourly", "#chart-daily"):
        assert box(page, chart)["width"] <= 390
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "phone_390x844.png")
    screenshot(page, "phone_390x844_full.png", full_page=True)


def test_the_desktop_page_draws_chart_js_charts_with_tooltips_and_tables(
    site: LiveStack, open_session: Callable[..., Any]
) -> None:
    page = open_session("ada").page
    assert page.evaluate(NO_OVERFLOW)
    for chart_id, kind in (("chart-hourly", "line"), ("chart-daily", "bar"), ("chart-revenue", "bar")):
        drawn = page.evaluate(
            "id => { const c = Chart.getChart(document.getElementById(id));"
            " return c && [c.config.type, c.data.labels.length] }",
            chart_id,
        )
        assert drawn is not None, f"{chart_id} was not drawn"
        assert drawn[0] == kind
        assert drawn[1] == (24 if chart_id == "chart-hourly" else 30)
    page.locator("#chart-hourly").scroll_into_view_if_needed()
    hourly = box(page, "#chart-hourly")
    page.mouse.move(hourly["x"] + hourly["width"] * 0.8, hourly["y"] + hourly["height"] / 2)
    lines = page.evaluate(
        "(() => { const t = Chart.getChart(document.getElementById('chart-hourly')).tooltip;"
        " return t.opacity > 0 ? t.body.map(b => b.lines.join(' ')) : [] })()"
    )
    assert len(lines) == 1, f"no tooltip on hover: {lines}"
    assert re.fullmatch(r"admissions: \d+", lines[0]), lines
    assert page.locator("#hourly-rows tr").count() == 24
    assert page.locator("#daily-rows tr").count() == 30
    screenshot(page, "desktop_1280x900.png")


def test_flow_measures_outlook_and_wording_render_from_pushed_messages(
    site: LiveStack, open_session: Callable[..., Any]
) -> None:
    server = FakeServer()
    page = open_session("ada", prepare=server.attach).page
    snapshot = boot_snapshot(page)
    server.send(with_flow(snapshot, snapshot["seq"] + 1))
    expect(page.locator('.tile[data-key="critical.flow.boarding"] [data-value]')).to_have_text("7")
    expected = {
        "critical.flow.boarding_longest_min": "2 h 5 min",
        "critical.flow.boarding_median_min": "45 min",
        "standard.flow.los_avg_h_7d": "52.3 h",
        "standard.flow.discharges_before_noon_share": "38%",
        "standard.flow.bed_turnaround_median_min": "38 min",
        "standard.flow.lwbs_today": "2",
        "standard.flow.lwbs_share": "25%",
    }
    for key, text in expected.items():
        assert tile_text(page, key) == text, key
        assert re.fullmatch(r"updated \d+ s ago", tile_text(page, key, "age")), tile_text(page, key, "age")
    outlook_rows = page.locator("#outlook-rows tr")
    expect(outlook_rows).to_have_count(4)
    assert outlook_rows.nth(0).locator("th, td").all_text_contents() == [
        "2030-01-01 10:00",
        "41.3",
        "38",
        "44.5",
    ]
    assert outlook_rows.nth(3).locator("th, td").all_text_contents() == ["2030-01-01 13:00", "44", "39", "49"]
    outlook = page.evaluate(
        "(() => { const c = Chart.getChart(document.getElementById('chart-outlook'));"
        " return c.data.datasets.map(d => [d.label, d.data, d.fill || false]) })()"
    )
    beds_now = snapshot["data"]["critical"]["rooms"]["beds_occupied"]
    assert outlook == [
        ["low", [beds_now, 38, 38.5, 39, 39], False],
        ["high", [beds_now, 44.5, 46, 48, 49.04], "-1"],
        ["expected occupied beds", [beds_now, 41.26, 42, 43.5, 44], False],
    ]
    expect(page.locator("#outlook-empty")).to_be_hidden()
    expect(page.locator("#chart-outlook")).to_be_visible()
    page.locator("#chart-outlook").screenshot(path=str(SCREENSHOTS / "outlook_band.png"))

    # A change of occupancy that rounds to zero points, and comparisons with an empty earlier span.
    critical = with_flow(snapshot, 0)["data"]["critical"]
    rate = critical["rooms"]["occupancy_rate"]
    nudged = {**critical, "rooms": {**critical["rooms"], "occupancy_rate": rate - 0.004}}
    server.send(
        {
            "type": "update",
            "scope": "hospital",
            "epoch": snapshot["epoch"],
            "seq": snapshot["seq"] + 2,
            "generated_at": critical["computed_at"],
            "stale": False,
            "tier": "critical",
            "data": nudged,
        }
    )
    expect(page.locator('.tile[data-key="critical.rooms.occupancy_rate"] [data-delta]')).to_have_text(
        "no change"
    )
    historical = with_flow(snapshot, 0)["data"]["historical"]
    historical["comparisons"] = {"admissions": {"day": None, "week": 1.0004, "month": 0.5}}
    server.send(
        {
            "type": "update",
            "scope": "hospital",
            "epoch": snapshot["epoch"],
            "seq": snapshot["seq"] + 3,
            "generated_at": historical["computed_at"],
            "stale": False,
            "tier": "historical",
            "data": historical,
        }
    )
    expect(page.locator("#comparisons li")).to_have_text(
        [
            "Admissions, today vs yesterday: yesterday had none by this time",
            "Admissions, week over week: no change",
            f"Admissions, month over month: ▼ {MINUS}50%",
        ]
    )

    # Numbers computed 10 minutes ago go visibly stale, as every tile does.
    old = with_flow(snapshot, snapshot["seq"] + 4)
    long_ago = (datetime.now(UTC) - timedelta(minutes=10)).isoformat().replace("+00:00", "Z")
    for tier in ("critical", "standard"):
        old["data"][tier]["computed_at"] = long_ago
    server.send(old)
    boarding = page.locator('.tile[data-key="critical.flow.boarding"]')
    expect(boarding).to_have_class(re.compile(r"\bstale\b"))
    assert tile_text(page, "critical.flow.boarding", "age") == "stale, updated 10 min ago"
    assert "stale" in (
        page.locator('.tile[data-key="standard.flow.lwbs_share"]').get_attribute("class") or ""
    )

    # A server that does not send the new keys (one not yet upgraded): dashes and "no data",
    # not stale numbers.
    server.send(without_flow(snapshot, snapshot["seq"] + 5))
    expect(page.locator('.tile[data-key="critical.flow.boarding"] [data-value]')).to_have_text(NO_DATA)
    assert tile_text(page, "standard.flow.lwbs_share") == NO_DATA
    assert tile_text(page, "standard.flow.lwbs_share", "age") == "no data"
    expect(page.locator("#outlook-rows tr")).to_have_count(0)
    expect(page.locator("#outlook-empty")).to_be_visible()
    expect(page.locator("#chart-outlook")).to_be_hidden()


def test_changes_are_worded_from_the_rounded_amount(
    site: LiveStack, open_session: Callable[..., Any]
) -> None:
    page = open_session("ada").page
    cases = [
        ([0.904, 0.9, "percent"], {"text": "no change", "direction": "none"}),
        ([0.9, 0.904, "percent"], {"text": "no change", "direction": "none"}),
        ([0.9, 0.88, "percent"], {"text": f"▼ {MINUS}2 pts since last", "direction": "down"}),
        ([10, 10.4, "count"], {"text": "no change", "direction": "none"}),
        ([10, 12, "count"], {"text": "▲ +2 since last", "direction": "up"}),
        ([100, 100.004, "money"], {"text": "no change", "direction": "none"}),
        ([100, 99.5, "money"], {"text": f"▼ {MINUS}0.50 since last", "direction": "down"}),
        ([30, 30.3, "minutes"], {"text": "no change", "direction": "none"}),
        ([30, 95, "minutes"], {"text": "▲ +1 h 5 min since last", "direction": "up"}),
        ([50, 50.04, "hours"], {"text": "no change", "direction": "none"}),
        ([None, 3, "count"], {"text": "no change", "direction": "none"}),
    ]
    for (before, after, kind), expected in cases:
        assert page.evaluate("a => DashFormat.change(a[0], a[1], a[2])", [before, after, kind]) == expected
    comparisons = [
        ([None, "day"], "yesterday had none by this time"),
        ([None, "week"], "last week had none by this time"),
        ([None, "month"], "last month had none by this time"),
        ([0.996, "day"], "no change"),
        ([1.0049, "week"], "no change"),
        ([1.25, "day"], "▲ +25%"),
        ([0.8, "day"], f"▼ {MINUS}20%"),
    ]
    for args, expected_text in comparisons:
        assert page.evaluate("a => DashFormat.comparison(a[0], a[1])", args) == expected_text
    assert f"{MINUS}0" not in page.inner_text("main")


def test_granted_notifications_show_critical_alerts_of_visible_departments_only(
    site: LiveStack, open_session: Callable[..., Any]
) -> None:
    session = open_session(
        "erin",
        permissions=("notifications",),
        prepare=lambda context: context.add_init_script(RECORD_NOTIFICATIONS),
    )
    page = session.page
    insert_alert(site, "ICU", "critical", "Notify test: not ER's")
    insert_alert(site, "ER", "warning", "Notify test: ER warning")
    insert_alert(site, "ER", "critical", "Notify test: ER critical")
    expect(page.locator(".alert-message", has_text="Notify test: ER critical")).to_be_visible(timeout=3_000)
    expect(page.locator(".alert-message", has_text="Notify test: ER warning")).to_be_visible(timeout=3_000)
    time.sleep(0.5)  # the ICU alert, were it to leak, would arrive in the same push round
    shown = page.evaluate("window.__notifications")
    assert shown == [{"title": "Critical alert · ER", "body": "Notify test: ER critical"}]
    assert page.evaluate("window.__permissionRequests") == 0
    open_critical = sum(
        1
        for alert in site.mongo().alerts.find({"department": "ER", "severity": "critical"})
        if not alert.get("acknowledged_at")
    )
    expect(page).to_have_title(f"({open_critical}) dept:ER · Hospital dashboard")
    expect(page.locator("#notify-toggle")).to_have_text("Critical alert notifications on (turn off)")
    page.click("#notify-toggle")
    insert_alert(site, "ER", "critical", "Notify test: after opting out")
    expect(page.locator(".alert-message", has_text="after opting out")).to_be_visible(timeout=3_000)
    assert len(page.evaluate("window.__notifications")) == 1
    expect(page).to_have_title(f"({open_critical + 1}) dept:ER · Hospital dashboard")


def test_the_page_asks_for_notification_permission_only_when_the_button_is_pressed(
    site: LiveStack, open_session: Callable[..., Any]
) -> None:
    def ask_first(context: BrowserContext) -> None:
        # Headless chromium denies notifications outright (no "default" state, whatever CDP
        # says); the page is shown the state of a browser that has not been asked yet.
        context.add_init_script("window.__permissionOverride = 'default';")
        context.add_init_script(RECORD_NOTIFICATIONS)

    page = open_session("ada", prepare=ask_first).page
    assert page.evaluate("Notification.permission") == "default"
    insert_alert(site, "ER", "critical", "Permission test: critical")
    expect(page.locator(".alert-message", has_text="Permission test")).to_be_visible(timeout=3_000)
    assert page.evaluate("window.__permissionRequests") == 0
    assert page.evaluate("window.__notifications") == []
    toggle = page.locator("#notify-toggle")
    expect(toggle).to_have_text("Notify me of critical alerts")
    toggle.click()
    deadline = time.monotonic() + 5
    while page.evaluate("window.__permissionRequests") == 0 and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert page.evaluate("window.__permissionRequests") == 1
    expect(toggle).to_have_text("Notifications blocked in this browser")  # headless answers "denied"


def test_the_page_reloads_itself_when_the_servers_page_version_changes(
    site: LiveStack, open_session: Callable[..., Any]
) -> None:
    server = FakeServer()
    page = open_session("ada", "/?wall=1", prepare=server.attach).page
    page.evaluate("window.__notReloaded = true")
    server.sockets[-1].close(code=1012, reason="restarting")
    expect(page.locator("#connection")).to_have_attribute("data-state", "live", timeout=10_000)
    page.wait_for_timeout(500)
    assert page.evaluate("window.__notReloaded") is True, "reloaded although the version is the same"

    page.route(
        "**/page/version/",
        lambda route: route.fulfill(json={"version": "a-newer-deploy"}),
    )
    server.sockets[-1].close(code=1012, reason="restarting")
    # The page's CSP forbids the eval that wait_for_function needs: poll with evaluate instead.
    deadline = time.monotonic() + 10
    while not reloaded(page) and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert reloaded(page), "the page did not reload for a new version"
    assert "wall=1" in page.url


def reloaded(page: Page) -> bool:
    try:
        return bool(page.evaluate("window.__notReloaded === undefined"))
    except PlaywrightError:  # the old document is going away mid-call
        return False

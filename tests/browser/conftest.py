"""A real chromium driven by Playwright against a live stack; a screenshot after each test."""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, WebSocket, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from devstack.chromium import LAUNCH_ARGS, ensure_chromium
from devstack.procfile import ROOT
from devstack.seed import seed_hospital
from tests.support.live_stack import LiveStack

SCREENSHOTS = ROOT / "var" / "screenshots"
PASSWORD = "browser-test-password-1"
USERS = (("ada", "admin", ""), ("ben", "admin", ""), ("erin", "department", "ER"))


# Module scope: Playwright's sync API keeps an event loop running on this thread while it
# lives, which would break later tests that call asyncio.run().
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    ensure_chromium()
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    chromium = playwright.chromium.launch(executable_path=str(ensure_chromium()), args=LAUNCH_ARGS)
    yield chromium
    chromium.close()


@pytest.fixture(scope="module")
def site(live_stack: LiveStack) -> LiveStack:
    seed_hospital(live_stack.mongo(), now=datetime.now(UTC), rng=random.Random(7))
    for username, role, departments in USERS:
        live_stack.create_user(username, PASSWORD, role, departments)
    created = live_stack.manage(
        "shell",
        "-c",
        "from dashboard.models import Department\n"
        "from devstack.hospital_model import DEPARTMENTS\n"
        "for code, name, _w in DEPARTMENTS:\n"
        "    Department.objects.update_or_create(code=code, defaults={'name': name})",
    )
    assert created.returncode == 0, created.stderr
    live_stack.start("web", "watcher")
    live_stack.wait_for_web()
    live_stack.wait_for_log("watcher", "6 of 6 change streams open")
    return live_stack


@dataclass
class Session:
    page: Page
    frames: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def console_error(self, kind: str, text: str) -> None:
        # A refused WebSocket, or a refused refresh of the system-health tile, while daphne
        # restarts is expected; any other error is not.
        expected = text.startswith("WebSocket connection to") or text == (
            "Failed to load resource: net::ERR_CONNECTION_REFUSED"
        )
        if kind == "error" and not expected:
            self.errors.append(text)

    def track(self, socket: WebSocket) -> None:
        socket.on("framereceived", lambda payload: self.frames.append(str(payload)))


@pytest.fixture
def open_session(browser: Browser, site: LiveStack, request: pytest.FixtureRequest) -> Iterator[Any]:
    contexts = []
    sessions: list[Session] = []

    def login(
        username: str,
        path: str = "/",
        *,
        viewport: tuple[int, int] = (1280, 900),
        permissions: tuple[str, ...] = (),
        prepare: Callable[[BrowserContext], None] | None = None,
    ) -> Session:
        """A signed-in page at `path`, live; `prepare` runs on the context before any page loads."""
        width, height = viewport
        context = browser.new_context(
            viewport={"width": width, "height": height}, permissions=list(permissions)
        )
        if prepare is not None:
            prepare(context)
        contexts.append(context)
        page = context.new_page()
        session = Session(page)
        page.on("websocket", session.track)
        page.on("pageerror", lambda error: session.errors.append(str(error)))
        page.on("console", lambda m: session.console_error(m.type, m.text))
        page.goto(f"{site.http_url}/accounts/login/?next={path}")
        page.fill("#id_username", username)
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        try:
            page.wait_for_selector("#connection[data-state=live]", timeout=15_000)
        except PlaywrightTimeout:
            raise AssertionError(f"the page never went live: {session.errors}\n{site.logs()}") from None
        sessions.append(session)
        return session

    yield login
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^a-z0-9_]+", "_", request.node.name.lower())
    if contexts and contexts[0].pages:
        contexts[0].pages[0].screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    for context in contexts:
        context.close()
    script_errors = [error for session in sessions for error in session.errors]
    assert not script_errors, f"the page's script failed: {script_errors}"

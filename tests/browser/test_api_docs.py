"""The API's documentation page in a real chromium: Swagger UI works under the site's CSP, offline."""

from __future__ import annotations

from playwright.sync_api import Browser

from tests.support.live_stack import LiveStack


def test_swagger_ui_renders_every_operation_without_a_csp_violation_or_a_cdn(
    browser: Browser, live_stack: LiveStack
) -> None:
    live_stack.start("web")
    live_stack.wait_for_web()
    page = browser.new_page()
    problems: list[str] = []
    foreign: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("request", lambda r: None if r.url.startswith(live_stack.http_url) else foreign.append(r.url))
    page.goto(f"{live_stack.http_url}/api/docs/")
    page.wait_for_selector(".opblock", timeout=15_000)
    assert page.locator(".opblock").count() == 7
    page.locator(".opblock-summary").first.click()
    page.wait_for_selector(".responses-table", timeout=10_000)
    page.close()
    assert not problems, problems
    assert not foreign, foreign

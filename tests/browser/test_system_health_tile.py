"""The admins' system-health tile in a real chromium: an admin sees the live web process's
memory, CPU and connections; a department user has no tile and is refused the data."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.support.live_stack import LiveStack

pytestmark = pytest.mark.e2e

ROWS = "#system-health tbody tr"


def test_an_admin_sees_each_web_process_memory_cpu_and_connections(site: LiveStack, open_session) -> None:
    page = open_session("ada").page
    row = page.locator(ROWS).first
    expect(row).to_be_visible(timeout=12_000)
    # The page's own WebSocket is one of the connections; reports come every 5 s.
    expect(row.locator("td").nth(3)).not_to_have_text("0", timeout=12_000)
    cells = row.locator("td").all_inner_texts()
    assert row.locator("th").inner_text().endswith(f":{site.web_port}")
    assert cells[0] == str(site.processes["web"].pid)
    memory = re.fullmatch(r"(\d+\.\d) MiB", cells[1])
    assert memory, cells
    assert float(memory.group(1)) > 20, cells
    assert re.fullmatch(r"\d+\.\d %", cells[2]), cells
    assert int(cells[3]) >= 1
    assert re.fullmatch(r"\d+ s ago", cells[4]), cells


def test_a_department_user_has_no_tile_and_is_refused_the_data(site: LiveStack, open_session) -> None:
    page = open_session("erin").page
    assert page.locator("#system-health").count() == 0
    # With the page's own session cookie.
    answer = page.request.get(f"{site.http_url}/system-health/")
    assert answer.status == 403
    assert "resident_bytes" not in answer.text()

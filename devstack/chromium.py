"""Debian's chromium for the browser tests: installed with apt when missing (as root).

`playwright install` cannot download browsers on these machines, so Playwright drives the
distribution's build through `executable_path`.
"""

from __future__ import annotations

from pathlib import Path

from devstack.debian_packages import ensure_command

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def ensure_chromium() -> Path:
    """The chromium binary, installing Debian's package first when it is missing."""
    return ensure_command(CHROMIUM, "chromium", recommends=True)

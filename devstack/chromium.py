"""Debian's chromium for the browser tests: installed with apt when missing (as root).

`playwright install` cannot download browsers on these machines, so Playwright drives the
distribution's build through `executable_path`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
APT_TIMEOUT_S = 900


class ChromiumUnavailable(RuntimeError):
    pass


def _apt(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    command = [shutil.which("apt-get") or "/usr/bin/apt-get", *args]
    return subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=APT_TIMEOUT_S, check=False
    )


def ensure_chromium() -> Path:
    """The chromium binary, installing Debian's package first when it is missing."""
    if CHROMIUM.exists():
        return CHROMIUM
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        raise ChromiumUnavailable(
            f"{CHROMIUM} is missing and cannot be installed here: run `apt-get install chromium` as root"
        )
    print("browser tests: installing Debian's chromium with apt-get", flush=True)
    result = _apt("install", "-y", "-q", "chromium")
    if result.returncode != 0:
        _apt("update", "-q")
        result = _apt("install", "-y", "-q", "chromium")
    if result.returncode != 0 or not CHROMIUM.exists():
        raise ChromiumUnavailable(f"apt-get install chromium failed:\n{result.stderr[-2000:]}")
    return CHROMIUM

"""Settings as a fresh process reads them from its environment: run a snippet in a child
process with the given variables, and read the JSON it prints last."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from devstack.procfile import ROOT


def settings_with(snippet: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run `snippet` (Python that sets Django up and prints) with `env` added to this environment."""
    return subprocess.run(
        [sys.executable, "-c", snippet],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "hospital_dash.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def printed(snippet: str, **env: str) -> dict[str, Any]:
    """The JSON object the snippet printed last; fails the test if the process failed."""
    done = settings_with(snippet, **env)
    assert done.returncode == 0, done.stderr[-2000:]
    return dict(json.loads(done.stdout.splitlines()[-1]))

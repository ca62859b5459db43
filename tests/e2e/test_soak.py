"""The 3-minute soak of `make soak` (chaos/soak.py): nothing grows, nothing is lost.

Run with 100 clients instead of `make soak`'s 1,000, so it fits CI's two cores beside the
rest of the suite; the simulator writes at 10 times the demo's rate as in the long soak.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from devstack.procfile import ROOT

pytestmark = pytest.mark.e2e

MINUTES = 3
CLIENTS = 100


@pytest.mark.timeout(600)
def test_a_three_minute_soak_stays_flat_and_loses_no_alert(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "chaos.soak", "--minutes", str(MINUTES), "--clients", str(CLIENTS)]
    run = subprocess.Popen(
        [*command, "--out", str(tmp_path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        stdout, stderr = run.communicate(timeout=540)
    except subprocess.TimeoutExpired:
        run.terminate()  # SIGTERM: the soak stops every process it started before it exits
        stdout, stderr = run.communicate(timeout=60)
    print(stdout[-4000:])
    assert (tmp_path / "soak.json").exists(), stderr[-3000:]
    summary = json.loads((tmp_path / "soak.json").read_text())
    assert (tmp_path / "soak.png").stat().st_size > 0
    assert summary["alerts_written"] > 0, "the simulator wrote no alert: nothing was checked"
    assert summary["alerts_lost"] == 0
    assert summary["passed"], (summary["failures"], stderr[-3000:])
    assert run.returncode == 0

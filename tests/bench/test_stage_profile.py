"""The storm's per-stage profile: py-spy's samples of a real process, grouped by stage."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from bench import stage_profile

SPINNER = textwrap.dedent(
    """
    import time

    def busy(seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            pass

    def open_connection():
        busy(0.01)

    def snapshot_message():
        busy(0.03)

    while True:
        open_connection()
        snapshot_message()
    """
)


def test_a_stack_counts_for_its_most_specific_stage() -> None:
    handshake_under_channels = "run (asgiref/sync.py:1);open_connection (dashboard/realtime/handshake.py:7) 3"
    raw = "\n".join(
        [
            handshake_under_channels,
            "__call__ (channels/consumer.py:50);dispatch (channels/consumer.py:60) 1",
            "select (selectors.py:1) 4",
            "_bootstrap (threading.py:1);_worker (concurrent/futures/thread.py:81) 9",
        ]
    )
    assert stage_profile.shares(raw) == {
        "handshake: user, access, connection slot": 0.375,
        stage_profile.OTHER: 0.5,
        "Channels and asgiref (routing, consumer machinery, sync bridges)": 0.125,
    }
    assert stage_profile.shares("") == {}


def test_py_spy_samples_a_running_process_by_stage(tmp_path) -> None:
    spinner = subprocess.Popen([sys.executable, "-c", SPINNER])
    try:
        profile = stage_profile.StageProfile.start(spinner.pid, 30, tmp_path / "profile.txt")
        subprocess.run([sys.executable, "-c", "import time; time.sleep(3)"], check=True)
        shares = profile.stop()
    finally:
        spinner.kill()
        spinner.wait()
    # Three quarters of the spinner's time is in snapshot_message, a quarter in open_connection.
    assert shares["snapshot reads"] == pytest.approx(0.75, abs=0.15)
    assert shares["handshake: user, access, connection slot"] == pytest.approx(0.25, abs=0.15)

"""exposition.forget_dead_processes: the live gauge files of processes that ended without
mark_dead are removed; those of running processes and every counter file are kept."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dashboard.telemetry import exposition


@pytest.fixture
def multiproc_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(exposition.MULTIPROC_DIR_VARIABLE, str(tmp_path))
    return tmp_path


def ended_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_live_files_of_ended_and_zombie_processes_go_counters_and_live_ones_stay(multiproc_dir: Path) -> None:
    ended = ended_pid()
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        deadline = time.monotonic() + 10
        while Path(f"/proc/{zombie.pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z":
            assert time.monotonic() < deadline, "the child did not end"
            time.sleep(0.01)
        files = {
            name: multiproc_dir / name
            for name in (
                f"gauge_livesum_{ended}.db",
                f"gauge_liveall_{ended}.db",
                f"counter_{ended}.db",
                f"gauge_livesum_{zombie.pid}.db",
                f"gauge_livesum_{os.getpid()}.db",
                f"gauge_liveall_{os.getpid()}.db",
            )
        }
        for path in files.values():
            path.write_bytes(b"")
        assert exposition.forget_dead_processes() == sorted([ended, zombie.pid])
    finally:
        zombie.wait()
    left = {path.name for path in multiproc_dir.iterdir()}
    assert left == {
        f"counter_{ended}.db",
        f"gauge_livesum_{os.getpid()}.db",
        f"gauge_liveall_{os.getpid()}.db",
    }


def test_without_a_multiprocess_dir_nothing_is_done(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(exposition.MULTIPROC_DIR_VARIABLE, raising=False)
    assert exposition.forget_dead_processes() == []

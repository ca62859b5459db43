"""Bad configuration stops each process with a message naming the variable or URL, not a traceback."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from devstack.procfile import ROOT, process_env, read_procfile
from devstack.services import free_port

pytestmark = pytest.mark.e2e

PROCESS_TIMEOUT_S = 10.0


def run_entry(name: str, overrides: dict[str, str], tmp_path: Path) -> tuple[int, str, float]:
    env = process_env(
        {
            "DASH_ENV": "test",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
            "BEAT_SCHEDULE": str(tmp_path / "beat-schedule"),
            "PORT": str(free_port()),
            "SOURCE_CONNECT_TIMEOUT_S": "2",
            **overrides,
        }
    )
    started = time.monotonic()
    result = subprocess.run(
        ["sh", "-c", f"exec {read_procfile()[name]}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return result.returncode, result.stdout + result.stderr, time.monotonic() - started


@pytest.mark.parametrize(
    ("name", "server"), [("web", "daphne"), ("web", "uvicorn"), ("worker", ""), ("watcher", "")]
)
def test_unreachable_redis_is_named_within_ten_seconds(name: str, server: str, tmp_path: Path) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    code, output, elapsed = run_entry(
        name, {"REDIS_URL": dead, "MONGO_URL": "mongodb://127.0.0.1:1", "WEB_SERVER": server}, tmp_path
    )
    assert code == 3, output
    assert f"cannot reach Redis at {dead}" in output
    assert "set REDIS_URL" in output
    assert "Traceback" not in output
    assert elapsed < PROCESS_TIMEOUT_S


def test_unreachable_mongo_is_named_within_ten_seconds(tmp_path: Path) -> None:
    import os

    dead = f"mongodb://127.0.0.1:{free_port()}"
    code, output, elapsed = run_entry(
        "watcher", {"REDIS_URL": os.environ["REDIS_URL"], "MONGO_URL": dead}, tmp_path
    )
    assert code == 3, output
    assert f"cannot reach MongoDB at {dead}" in output
    assert "Traceback" not in output
    assert elapsed < PROCESS_TIMEOUT_S


def test_missing_secret_key_in_production_names_the_variable(tmp_path: Path) -> None:
    env = process_env(
        {
            "DASH_ENV": "production",
            "SECRET_KEY": "",
            "REDIS_URL": "redis://x:1/0",
            "MONGO_URL": "mongodb://x:1",
        }
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "configuration error: Environment variable SECRET_KEY is required" in result.stderr
    assert "Traceback" not in result.stderr


def test_password_in_a_bad_url_is_not_printed(tmp_path: Path) -> None:
    dead = f"redis://app:hunter2@127.0.0.1:{free_port()}/0"
    code, output, _ = run_entry(
        "watcher", {"REDIS_URL": dead, "MONGO_URL": "mongodb://127.0.0.1:1"}, tmp_path
    )
    assert code == 3
    assert "hunter2" not in output
    assert "app:***@" in output

"""Django's database settings from the environment: the PostgreSQL pool and its size."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from devstack.procfile import ROOT

PRINT_OPTIONS = (
    "import json, django; django.setup(); from django.conf import settings; "
    "print(json.dumps(settings.DATABASES['default'].get('OPTIONS', {})))"
)
POSTGRES = "postgres://dashboard@127.0.0.1:1/dashboard"  # never connected to: settings only


def settings_with(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PRINT_OPTIONS],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "hospital_dash.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def options(**env: str) -> dict[str, Any]:
    done = settings_with(**env)
    assert done.returncode == 0, done.stderr[-2000:]
    return dict(json.loads(done.stdout.splitlines()[-1]))


def test_postgresql_uses_the_pool_outside_the_test_runs_own_process() -> None:
    assert options(DASH_ENV="demo", DATABASE_URL=POSTGRES)["pool"] == {
        "min_size": 2,
        "max_size": 20,
        "timeout": 10,
    }
    assert options(DASH_ENV="demo", DATABASE_URL=POSTGRES, DATABASE_POOL_SIZE="64")["pool"]["max_size"] == 64
    assert "pool" not in options(DASH_ENV="demo", DATABASE_URL=POSTGRES, DATABASE_POOL="false")
    assert "pool" not in options(DASH_ENV="test", DATABASE_URL=POSTGRES)
    assert "pool" in options(DASH_ENV="test", DATABASE_URL=POSTGRES, DATABASE_POOL="true")


def test_sqlite_has_no_pool() -> None:
    assert "pool" not in options(
        DASH_ENV="demo", DATABASE_URL="sqlite:////tmp/x.sqlite3", DATABASE_POOL="true"
    )


def test_a_bad_pool_size_names_the_variable() -> None:
    done = settings_with(DASH_ENV="demo", DATABASE_URL=POSTGRES, DATABASE_POOL_SIZE="1")
    assert done.returncode != 0
    assert "DATABASE_POOL_SIZE" in done.stderr

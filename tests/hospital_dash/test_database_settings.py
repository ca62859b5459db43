"""Django's database settings from the environment: the PostgreSQL pool and its size."""

from __future__ import annotations

import subprocess
from typing import Any

from tests.support import settings_probe

PRINT_OPTIONS = (
    "import json, django; django.setup(); from django.conf import settings; "
    "print(json.dumps(settings.DATABASES['default'].get('OPTIONS', {})))"
)
POSTGRES = "postgres://dashboard@127.0.0.1:1/dashboard"  # never connected to: settings only


def settings_with(**env: str) -> subprocess.CompletedProcess[str]:
    return settings_probe.settings_with(PRINT_OPTIONS, **env)


def options(**env: str) -> dict[str, Any]:
    return settings_probe.printed(PRINT_OPTIONS, **env)


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

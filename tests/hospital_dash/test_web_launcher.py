"""The `web` entry's launcher: which server, where, and a clear error for bad configuration."""

from __future__ import annotations

import subprocess
import sys

import pytest

from devstack.procfile import ROOT
from hospital_dash.web import EXIT_BAD_CONFIGURATION, BadConfiguration, read_config


def test_daphne_on_the_default_address_unless_told_otherwise() -> None:
    assert read_config({}) == ("daphne", "127.0.0.1", 8000)
    assert read_config({"WEB_SERVER": " Uvicorn ", "WEB_HOST": "0.0.0.0", "PORT": "9001"}) == (
        "uvicorn",
        "0.0.0.0",
        9001,
    )


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"WEB_SERVER": "gunicorn"}, "WEB_SERVER"),
        ({"PORT": "http"}, "PORT"),
        ({"PORT": "70000"}, "PORT"),
        ({"PORT": "0"}, "PORT"),
    ],
)
def test_bad_values_name_the_variable(environ: dict[str, str], named: str) -> None:
    with pytest.raises(BadConfiguration, match=named):
        read_config(environ)


def test_an_unknown_server_stops_the_process_with_the_reason() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "hospital_dash.web"],
        cwd=ROOT,
        env={"WEB_SERVER": "nginx", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == EXIT_BAD_CONFIGURATION
    assert "WEB_SERVER must be one of daphne, uvicorn, not 'nginx'" in done.stderr
    assert "Traceback" not in done.stderr

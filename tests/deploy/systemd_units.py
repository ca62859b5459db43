"""The systemd units in deploy/systemd, read as systemd reads them (sections, repeated keys)."""

from __future__ import annotations

import configparser
from pathlib import Path

from devstack.procfile import ROOT

UNIT_DIR = ROOT / "deploy" / "systemd"
# Each Procfile entry and the unit that runs it in production.
UNITS = {
    "web": "dashboard-web@.service",
    "worker": "dashboard-worker.service",
    "beat": "dashboard-beat.service",
    "watcher": "dashboard-watcher.service",
}


def read_unit(path: Path) -> configparser.RawConfigParser:
    """A unit's sections and keys; a key given twice keeps its last value, as systemd's do."""
    parser = configparser.RawConfigParser(strict=False, interpolation=None, comment_prefixes=("#", ";"))
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # systemd keys are case-sensitive
    parser.read_string(path.read_text(), source=str(path))
    return parser


def executables(path: Path) -> list[str]:
    """The program of each Exec* line (what `systemd-analyze verify` wants to find)."""
    unit = read_unit(path)
    return [value.split()[0] for key, value in unit.items("Service") if key.startswith("Exec")]

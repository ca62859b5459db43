"""Reading the Procfile and running its processes, for the demo and the end-to-end tests.

Each entry runs under `sh -c` in its own process group, so stopping it stops the children
it starts too (Celery's pool, for one).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from devstack.services import ManagedProcess

ROOT = Path(__file__).resolve().parent.parent
PROCFILE = ROOT / "Procfile"


def read_procfile(path: Path = PROCFILE) -> dict[str, str]:
    entries = {}
    for line in path.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, _, command = line.partition(":")
        entries[name.strip()] = command.strip()
    return entries


def process_env(overrides: dict[str, str]) -> dict[str, str]:
    """The environment for a Procfile process: ours, the venv first on PATH, and the overrides."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    env.update(overrides)
    return env


def start_entry(name: str, env: dict[str, str], log_dir: Path, command: str | None = None) -> ManagedProcess:
    command = command or read_procfile()[name]
    return ManagedProcess(
        name, ["sh", "-c", f"exec {command}"], log_dir / f"{name}.log", env=env, cwd=ROOT
    ).start()

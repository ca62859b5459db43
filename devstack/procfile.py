"""Reading the Procfile and running its entries one by one, for the end-to-end tests.

`make demo` runs the whole Procfile with honcho (devstack/demo.py). The tests need what honcho
does not give: one entry started several times on ports they choose, each with its own log, and
one process killed on purpose while the others keep running (honcho stops every process as
soon as one exits). Each entry runs under `sh -c` in its own process group, so stopping it
stops the children it starts too (Celery's pool, for one).
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


def start_entry(
    name: str, env: dict[str, str], log_dir: Path, *, log_name: str | None = None
) -> ManagedProcess:
    """Start one Procfile entry; `log_name` tells two runs of the same entry apart."""
    label = log_name or name
    command = read_procfile()[name]
    return ManagedProcess(
        label, ["sh", "-c", f"exec {command}"], log_dir / f"{label}.log", env=env, cwd=ROOT
    ).start()

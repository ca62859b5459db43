"""deploy/systemd: `systemd-analyze verify` accepts every unit without a word, and each has the
restart policy, resource limits, environment file and unprivileged user the guide promises."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from devstack.debian_packages import ensure_command
from devstack.procfile import read_procfile
from tests.deploy.systemd_units import UNIT_DIR, UNITS, executables, read_unit

SYSTEMD_ANALYZE = Path("/usr/bin/systemd-analyze")
SYSTEM_UNITS = Path("/usr/lib/systemd/system")
WEB_INSTANCES = ("dashboard-web@8001.service", "dashboard-web@8002.service")


def verify_root(root: Path) -> Path:
    """A root for `systemd-analyze --root`: the system's own units (the targets ours name),
    ours installed as the guide installs them, and a stand-in for each program they run."""
    shutil.copytree(SYSTEM_UNITS, root / SYSTEM_UNITS.relative_to("/"), symlinks=True)
    installed = root / "etc/systemd/system"
    installed.mkdir(parents=True)
    for name in UNITS.values():
        shutil.copy(UNIT_DIR / name, installed / name)
        for program in executables(UNIT_DIR / name):
            stand_in = root / program.lstrip("/")
            stand_in.parent.mkdir(parents=True, exist_ok=True)
            stand_in.write_text("#!/bin/sh\n")
            stand_in.chmod(0o755)
    return root


def test_systemd_analyze_verify_accepts_every_unit_and_two_web_instances(tmp_path: Path) -> None:
    analyze = ensure_command(SYSTEMD_ANALYZE, "systemd")
    root = verify_root(tmp_path / "root")
    names = [*WEB_INSTANCES, *(name for name in UNITS.values() if "@" not in name)]
    result = subprocess.run(
        [str(analyze), f"--root={root}", "--man=no", "verify", *names],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    # verify reports unknown keys and unparsable values on stderr but still exits 0.
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_verify_would_catch_a_mistake(tmp_path: Path) -> None:
    """The check above is not vacuous: a misspelt key and a bad value are reported."""
    analyze = ensure_command(SYSTEMD_ANALYZE, "systemd")
    root = verify_root(tmp_path / "root")
    worker = root / "etc/systemd/system/dashboard-worker.service"
    worker.write_text(worker.read_text().replace("Restart=always", "Restart=sometimes\nMemoryMaximum=1G"))
    result = subprocess.run(
        [str(analyze), f"--root={root}", "--man=no", "verify", "dashboard-worker.service"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "restart specifier" in result.stderr
    assert "MemoryMaximum" in result.stderr


@pytest.mark.parametrize("entry", UNITS)
def test_each_unit_restarts_is_limited_and_runs_unprivileged(entry: str) -> None:
    unit = read_unit(UNIT_DIR / UNITS[entry])
    service = dict(unit.items("Service"))
    assert service["Restart"] in ("always", "on-failure")
    assert float(service["RestartSec"]) > 0
    assert service["MemoryMax"].endswith(("M", "G"))
    assert int(service["LimitNOFILE"]) >= 1024
    assert int(service["TasksMax"]) > 0
    assert service["EnvironmentFile"] == "/etc/hospital-dash/dashboard.env"
    assert service["User"] == service["Group"] == "dashboard"
    assert service["NoNewPrivileges"] == "yes"
    assert unit.get("Install", "WantedBy") == "multi-user.target"


@pytest.mark.parametrize("entry", UNITS)
def test_each_unit_runs_its_procfile_entry(entry: str) -> None:
    """The unit and the Procfile start the same program with the same arguments."""
    command = read_unit(UNIT_DIR / UNITS[entry]).get("Service", "ExecStart")
    procfile = read_procfile()[entry].split()
    program, arguments = procfile[0], procfile[1:]
    assert f"/.venv/bin/{program} " in command
    fixed = [arg for arg in arguments if "$" not in arg and not arg.startswith("var/")]
    assert " ".join(fixed) in " ".join(arg for arg in command.split() if "$" not in arg and "/" not in arg)


def test_the_web_unit_takes_its_port_from_the_instance_name() -> None:
    command = read_unit(UNIT_DIR / UNITS["web"]).get("Service", "ExecStart")
    assert command.startswith("/usr/bin/env PORT=%i ")


@pytest.mark.parametrize("entry", UNITS)
def test_each_unit_shares_the_boot_emptied_metrics_directory(entry: str) -> None:
    """Every process of a host writes prometheus_client's files to the directory tmpfiles.d
    creates empty at boot; no unit empties it (the others' figures would vanish)."""
    [line] = [
        line
        for line in (UNIT_DIR / "hospital-dash-metrics.conf").read_text().splitlines()
        if line.startswith("d ")
    ]
    directory = line.split()[1]
    unit_text = (UNIT_DIR / UNITS[entry]).read_text()
    assert f"Environment=PROMETHEUS_MULTIPROC_DIR={directory}\n" in unit_text
    assert f"ReadWritePaths={directory}\n" in unit_text
    assert "ExecStartPre" not in unit_text

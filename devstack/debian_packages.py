"""Debian packages the tests drive (chromium, nginx, promtool), installed with apt when missing.

CI runs on fresh clones of machines where a package may be absent, and a test must not be
skipped for that: `ensure_command` installs the package as root. Installing never starts the
package's service (nginx on port 80, Prometheus on 9090): when the machine has no
`/usr/sbin/policy-rc.d`, one that refuses every start is in place for the install's duration.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

APT_TIMEOUT_S = 900
POLICY_RC_D = Path("/usr/sbin/policy-rc.d")
REFUSE_EVERY_START = "#!/bin/sh\n# Written by devstack/debian_packages.py while it installs.\nexit 101\n"


class PackageUnavailable(RuntimeError):
    pass


def _apt(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    command = [shutil.which("apt-get") or "/usr/bin/apt-get", *args]
    return subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=APT_TIMEOUT_S, check=False
    )


@contextlib.contextmanager
def _services_not_started() -> Iterator[None]:
    """A policy-rc.d that refuses every service start, unless the machine has its own."""
    if POLICY_RC_D.exists():
        yield
        return
    POLICY_RC_D.write_text(REFUSE_EVERY_START)
    POLICY_RC_D.chmod(0o755)
    try:
        yield
    finally:
        POLICY_RC_D.unlink(missing_ok=True)


def ensure_command(path: Path, package: str, *, recommends: bool = False) -> Path:
    """The executable `path`, installing Debian's `package` first when it is missing.

    Without `recommends`, only what the package depends on comes with it (promtool comes in
    the `prometheus` package, which recommends a node exporter and its services).
    """
    if path.exists():
        return path
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        raise PackageUnavailable(
            f"{path} is missing and cannot be installed here: run `apt-get install {package}` as root"
        )
    print(f"tests: installing Debian's {package} with apt-get", flush=True)
    install = ("install", "-y", "-q", *(() if recommends else ("--no-install-recommends",)), package)
    with _services_not_started():
        result = _apt(*install)
        if result.returncode != 0:
            _apt("update", "-q")
            result = _apt(*install)
    if result.returncode != 0 or not path.exists():
        raise PackageUnavailable(f"apt-get install {package} failed:\n{result.stderr[-2000:]}")
    return path

"""Re-fetches the page's vendored chart library from npm and checks it: `make vendor-js`.

The page loads Chart.js from this service's static files (no CDN, and the Content-Security-Policy
allows scripts from 'self' only). The pinned build and its licence are committed under
`dashboard/static/dashboard/vendor/chartjs/`; this command downloads the same version with
`npm pack`, refuses a tarball whose sha512 differs from the registry integrity pinned here, and
writes the two files. `--check` compares the committed files with the tarball's instead of
writing them; `tests/devstack/test_vendor_js.py` checks the committed build's sha256 offline.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from devstack.procfile import ROOT


@dataclass(frozen=True)
class VendoredPackage:
    """One npm package whose built files the page serves: files maps a path inside the
    tarball to a file name in `target`; `integrity` is the registry's `dist.integrity`
    (sha512, base64); `build` names the built script among them and `build_sha256` is its
    hex sha256, which the offline test checks the committed copy against."""

    name: str
    version: str
    integrity: str
    target: Path
    files: dict[str, str]
    build: str
    build_sha256: str


CHART_JS = VendoredPackage(
    name="chart.js",
    version="4.6.1",
    integrity="sha512-hJyniucsFmq//EvXYvJ6c6mahPoI3kaxdjVH8awTaJ/fDNWeSqqqArixMJWkWNN6fcYvPU3HneSANFNYtRi61g==",
    target=ROOT / "dashboard" / "static" / "dashboard" / "vendor" / "chartjs",
    files={"package/dist/chart.umd.min.js": "chart.umd.min.js", "package/LICENSE.md": "LICENSE.md"},
    build="chart.umd.min.js",
    build_sha256="87364cc2b2a76a6684929e7d6b80b18a897794db38400caff1fcf1791c6925d2",
)


class IntegrityError(Exception):
    """The downloaded tarball is not the one the pin names."""


def sri_sha512(payload: bytes) -> str:
    """The Subresource-Integrity form npm uses: `sha512-` and the base64 digest."""
    return "sha512-" + base64.b64encode(hashlib.sha512(payload).digest()).decode("ascii")


def verified_files(package: VendoredPackage, tarball: bytes) -> dict[str, bytes]:
    """The package's files (by target name) from a tarball whose integrity matches the pin.

    Raises IntegrityError when the tarball's sha512 or the built script's sha256 differs from
    the pin, or a listed file is missing.
    """
    found = sri_sha512(tarball)
    if found != package.integrity:
        raise IntegrityError(
            f"{package.name}@{package.version}: integrity {found} is not the pinned {package.integrity}"
        )
    with tempfile.TemporaryDirectory() as scratch:
        archive = Path(scratch) / "package.tgz"
        archive.write_bytes(tarball)
        with tarfile.open(archive) as tar:
            contents: dict[str, bytes] = {}
            for inside, name in package.files.items():
                member = tar.extractfile(inside)
                if member is None:
                    raise IntegrityError(f"{package.name}@{package.version} has no {inside}")
                contents[name] = member.read()
    built = hashlib.sha256(contents[package.build]).hexdigest()
    if built != package.build_sha256:
        raise IntegrityError(
            f"{package.name}@{package.version}: {package.build} sha256 {built} is not the pinned one"
        )
    return contents


def npm_pack(package: VendoredPackage) -> bytes:
    """The package's tarball as the npm registry serves it (runs `npm pack`)."""
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("npm is not installed: install Node.js and npm (Debian: apt-get install npm)")
    with tempfile.TemporaryDirectory() as scratch:
        subprocess.run(
            [npm, "pack", f"{package.name}@{package.version}", "--pack-destination", scratch, "--silent"],
            check=True,
            cwd=scratch,
            stdout=subprocess.DEVNULL,
        )
        (tarball,) = Path(scratch).glob("*.tgz")
        return tarball.read_bytes()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="compare the committed files, write nothing")
    args = parser.parse_args(argv)
    package = CHART_JS
    contents = verified_files(package, npm_pack(package))
    differing = []
    for name, payload in contents.items():
        path = package.target / name
        if args.check:
            if not path.exists() or path.read_bytes() != payload:
                differing.append(name)
        else:
            package.target.mkdir(parents=True, exist_ok=True)
            path.write_bytes(payload)
    if differing:
        print(f"{package.name}@{package.version}: committed files differ from the registry's: {differing}")
        return 1
    outcome = "match" if args.check else "written"
    print(f"{package.name}@{package.version}: integrity checked, {len(contents)} files {outcome}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

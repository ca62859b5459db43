"""The vendored chart library is the pinned npm build, and a tampered download is refused."""

from __future__ import annotations

import hashlib
import io
import tarfile
from dataclasses import replace
from pathlib import Path

import pytest

from devstack.vendor_js import CHART_JS, IntegrityError, sri_sha512, verified_files


def tarball(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, payload in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return buffer.getvalue()


def test_the_committed_build_is_the_pinned_one_and_carries_its_licence() -> None:
    built = (CHART_JS.target / CHART_JS.build).read_bytes()
    assert hashlib.sha256(built).hexdigest() == CHART_JS.build_sha256
    assert built.startswith(b"/*!\n * Chart.js v" + CHART_JS.version.encode())
    assert "MIT License" in (CHART_JS.target / "LICENSE.md").read_text()


def test_the_makefile_target_runs_the_vendoring_command() -> None:
    makefile = (Path(__file__).resolve().parents[2] / "Makefile").read_text()
    assert "vendor-js:" in makefile
    assert "-m devstack.vendor_js" in makefile


def test_a_tarball_matching_the_pins_yields_its_files() -> None:
    files = {"package/dist/chart.umd.min.js": b"built", "package/LICENSE.md": b"licence"}
    payload = tarball(files)
    package = replace(
        CHART_JS, integrity=sri_sha512(payload), build_sha256=hashlib.sha256(b"built").hexdigest()
    )
    assert verified_files(package, payload) == {"chart.umd.min.js": b"built", "LICENSE.md": b"licence"}


def test_a_tarball_with_another_integrity_is_refused() -> None:
    payload = tarball({"package/dist/chart.umd.min.js": b"tampered", "package/LICENSE.md": b"licence"})
    with pytest.raises(IntegrityError, match="is not the pinned"):
        verified_files(CHART_JS, payload)


def test_a_matching_tarball_whose_build_differs_from_the_committed_hash_is_refused() -> None:
    payload = tarball({"package/dist/chart.umd.min.js": b"other build", "package/LICENSE.md": b"licence"})
    with pytest.raises(IntegrityError, match="sha256"):
        verified_files(replace(CHART_JS, integrity=sri_sha512(payload)), payload)

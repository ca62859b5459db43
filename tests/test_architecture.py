"""Rules of the package map that import-linter cannot see: who calls group_send, who imports what."""

from __future__ import annotations

import ast
from pathlib import Path

from devstack.procfile import ROOT

PUBLISHERS = {ROOT / "dashboard/stream/publish.py", ROOT / "dashboard/stream/layer_bridge.py"}


def python_files(*folders: str) -> list[Path]:
    return sorted(path for folder in folders for path in (ROOT / folder).rglob("*.py"))


def test_only_the_publish_module_calls_group_send() -> None:
    callers = []
    for path in python_files("dashboard", "hospital_dash", "devstack", "bench", "chaos"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Attribute) and node.attr == "group_send" and path not in PUBLISHERS:
                callers.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert callers == []


def test_unit_tests_import_no_helper_of_the_end_to_end_tests() -> None:
    importers = []
    for path in python_files("tests"):
        if (ROOT / "tests/e2e") in path.parents:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tests.e2e"):
                importers.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert importers == []


def test_every_redis_key_is_spelled_in_redis_store_alone() -> None:
    spellers = []
    for path in python_files("dashboard"):
        if path == ROOT / "dashboard/sources/redis_store.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and node.value.startswith("dash:")
            ):
                spellers.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert spellers == []

"""The matrix's table, printed row by row while it runs, and var/chaos/results.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from devstack.procfile import ROOT

RESULTS = ROOT / "var" / "chaos" / "results.json"
# The logs of every process of a row that failed: <row>-<server>/<process>.log.
FAILED_LOGS = ROOT / "var" / "chaos" / "failed-logs"
COLUMNS = ("row", "server", "passed", "alerts_lost", "back_live_s", "unmarked_wrong_s", "final_mismatches")


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.1f}"
    if value is None:
        return "-"
    return str(value)


def header() -> str:
    return "| name | " + " | ".join(COLUMNS) + " |\n|" + " --- |" * (len(COLUMNS) + 1)


def line(row: dict[str, Any]) -> str:
    return f"| {row['name']} | " + " | ".join(_cell(row.get(column)) for column in COLUMNS) + " |"


def table(rows: list[dict[str, Any]]) -> str:
    return "\n".join([header(), *(line(row) for row in rows)])


def write(rows: list[dict[str, Any]], path: Path = RESULTS, **extra: Any) -> None:
    """`{"rows": [...], **extra}` to `path` (written after every row, so a cut run keeps its rows)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"rows": rows, **extra}, indent=2) + "\n")


def keep_logs(row: dict[str, Any], logs: dict[str, list[str]], directory: Path = FAILED_LOGS) -> Path:
    """Write each process's log lines (`logs`: process name → lines) of a failed row under
    `directory`/<row>-<server>/; the stack's own directory is removed when the run ends.
    Returns the row's directory."""
    where = directory / f"{row['row']}-{row['server']}"
    where.mkdir(parents=True, exist_ok=True)
    for name, lines in logs.items():
        (where / f"{name}.log").write_text("\n".join(lines) + "\n")
    return where


def main() -> None:
    """Print the table of the last run (var/chaos/results.json), for docs/RELIABILITY.md."""
    print(table(json.loads(RESULTS.read_text())["rows"]))


if __name__ == "__main__":
    main()

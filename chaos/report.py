"""The matrix's table, printed row by row while it runs, and var/chaos/results.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from devstack.procfile import ROOT

RESULTS = ROOT / "var" / "chaos" / "results.json"
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


def main() -> None:
    """Print the table of the last run (var/chaos/results.json), for docs/RELIABILITY.md."""
    print(table(json.loads(RESULTS.read_text())["rows"]))


if __name__ == "__main__":
    main()

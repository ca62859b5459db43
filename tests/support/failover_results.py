"""Failover figures of the end-to-end tests, printed and kept in var/failover/<test>.json.

docs/OPERATIONS.md quotes them; each run overwrites its own file.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parents[2] / "var" / "failover"


def record(test: str, figures: dict[str, Any]) -> Path:
    """Print `figures` and write them, with the time of the run, to var/failover/<test>.json."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{test}.json"
    document = {"test": test, "finished_at": datetime.now(UTC).isoformat(), **figures}
    path.write_text(json.dumps(document, indent=2) + "\n")
    print(f"\n{test}: {json.dumps(figures)}", flush=True)
    return path

"""The matrix's report: the table's lines, and the logs kept of a failed row."""

from __future__ import annotations

from pathlib import Path

from chaos import report


def test_a_failed_rows_logs_are_kept_per_process(tmp_path: Path) -> None:
    row = {"row": 5, "server": "daphne", "passed": False}
    kept = report.keep_logs(row, {"web-1": ["first", "second"], "watcher-1": []}, tmp_path)
    assert kept == tmp_path / "5-daphne"
    assert (kept / "web-1.log").read_text() == "first\nsecond\n"
    assert (kept / "watcher-1.log").read_text() == "\n"


def test_a_line_shows_each_column_of_the_row() -> None:
    row = {
        "name": "freeze Redis 10 s",
        "row": 5,
        "server": "uvicorn",
        "passed": True,
        "alerts_lost": 0,
        "back_live_s": 2.5,
        "unmarked_wrong_s": 1.0,
        "final_mismatches": 0,
    }
    assert report.line(row) == "| freeze Redis 10 s | 5 | uvicorn | True | 0 | 2.5 | 1.0 | 0 |"


def test_status_times_are_the_first_down_and_the_last_ok_after_it() -> None:
    from chaos.checks import status_times
    from chaos.client import Client

    told, quiet = Client.__new__(Client), Client.__new__(Client)
    told.statuses = [
        (99.0, {"redis": "ok", "mongo": "ok"}),
        (101.0, {"redis": "down", "mongo": "ok"}),
        (106.5, {"redis": "ok", "mongo": "ok"}),
    ]
    quiet.statuses = []
    assert status_times([told, quiet], since=100.0) == {"first_down_s": 1.0, "last_ok_s": 6.5}
    assert status_times([quiet], since=100.0) == {"first_down_s": None, "last_ok_s": None}

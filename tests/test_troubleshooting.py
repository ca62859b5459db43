"""docs/TROUBLESHOOTING.md quotes only metrics and log lines the code has: every `dash_…` metric
name is defined in dashboard/ (counters without `_total`, histograms without `_bucket`,
`_count`, `_sum`), and every log line quoted as "log line `…`" is a format string of the code,
`…` standing for each value."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "TROUBLESHOOTING.md"
CODE = "\n".join(path.read_text() for path in sorted((ROOT / "dashboard").rglob("*.py")))

METRIC = re.compile(r"`(dash_[a-z0-9_]+)`")
SERIES_SUFFIX = re.compile(r"_(total|bucket|count|sum)$")
# "log line `…`", "log lines `…`, `…` and `…`": every backtick span up to the next full stop,
# colon or semicolon outside backticks.
LOG_MENTION = re.compile(r"log lines?((?:[^`.;:]|`[^`]*`)*)")
QUOTED = re.compile(r"`([^`]+)`")
PLACEHOLDER = re.compile(r"%(?:\.\d+)?[sdgfr]|%r")


def metric_names(text: str) -> set[str]:
    return set(METRIC.findall(text))


def log_lines(text: str) -> list[str]:
    one_line = " ".join(text.split())
    return [quote for mention in LOG_MENTION.findall(one_line) for quote in QUOTED.findall(mention)]


def format_strings() -> list[str]:
    """Every string literal of the code with its %-placeholders as `…`; adjacent literals
    (a format string split over lines) joined."""
    literals = re.findall(r'"((?:[^"\\\n]|\\.)*)"\s*(?=[,)\n])', CODE)
    return [PLACEHOLDER.sub("…", literal) for literal in literals]


def test_the_doc_quotes_metrics_and_log_lines() -> None:
    text = DOC.read_text()
    assert len(metric_names(text)) >= 15
    assert len(log_lines(text)) >= 12


@pytest.mark.parametrize("name", sorted(metric_names(DOC.read_text())))
def test_every_quoted_metric_is_defined(name: str) -> None:
    base = SERIES_SUFFIX.sub("", name)
    assert f'"{base}"' in CODE or f'"{name}"' in CODE, f"{name} is not a metric of dashboard/"


@pytest.mark.parametrize("line", log_lines(DOC.read_text()))
def test_every_quoted_log_line_is_logged(line: str) -> None:
    assert line in format_strings(), f"no log format string of dashboard/ reads {line!r}"


def test_a_made_up_metric_or_log_line_would_be_caught() -> None:
    assert "dash_not_a_metric" not in CODE
    assert "the hub exploded" not in format_strings()
    assert log_lines("log line `a … b` and `c`; then `d`") == ["a … b", "c"]
    assert log_lines("log line `a: b`: `c`") == ["a: b"]

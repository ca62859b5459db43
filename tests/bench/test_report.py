"""`make bench`'s verdicts: each target judged from a run's figures, and the docs section it writes."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from bench import report
from bench.run import BEGIN, END, write_doc


def fanout_row(clients: int = 2000, p99: float = 40.0, lost: int = 0) -> dict[str, Any]:
    return {
        "layout": "one department",
        "rate_per_s": 10.0,
        "clients": clients,
        "p99_ms": p99,
        "lost": lost,
        "gaps": 0,
    }


def server_results() -> dict[str, Any]:
    return {
        "connections": {
            "clients": 10_000,
            "subscribed": 10_000,
            "closes": {},
            "handshake_windows": [
                {"upto": 1000, "p99_ms": 99.0},
                {"upto": 6000, "p99_ms": 80.0},
                {"upto": 10_000, "p99_ms": 95.0},
            ],
            "rss_kib_per_connection": [33.0, 34.0],
            "web_rss_mib_held": [270.0, 260.0],
            "broadcast": {"p99_ms": 300.0, "lost": 0, "gaps": 0},
        },
        "fanout": {"rows": [fanout_row()]},
        "slow": {
            "clients": 2000,
            "baseline_healthy_p99_ms": 100.0,
            "stall_healthy_p99_ms": 115.0,
            "web_rss_mib_min": [140.0, 130.0],
            "web_rss_mib_max": [141.0, 130.5],
            "healthy_gaps_during_stall": 0,
        },
        "storm": {"clients": 5000, "caught_up_99_s": 12.0, "gaps": 0, "out_of_order": 0},
    }


def results() -> dict[str, Any]:
    ours = {
        server: {
            "clients": 2000,
            "lost": 0,
            "gaps": 0,
            "quiet": {"clients": 2000, "p50_ms": 45.0, "p99_ms": 90.0, "lost": 0, "gaps": 0},
        }
        for server in ("daphne", "uvicorn")
    }
    return {
        "servers": {"daphne": server_results(), "uvicorn": server_results()},
        "comparison": {"from": "insert", "ours": ours, "p99_ratio": {"daphne": 1.4, "uvicorn": 0.9}},
    }


def met(found: dict[str, Any], server: str = "daphne") -> dict[str, bool]:
    return {v.target: v.met for v in report.verdicts(found)[server]}


def test_a_run_within_every_target_meets_all_of_them() -> None:
    judged = report.verdicts(results())
    assert [len(found) for found in judged.values()] == [9, 9]
    assert all(v.met for found in judged.values() for v in found)


@pytest.mark.parametrize(
    ("change", "missed"),
    [
        (lambda r: r["connections"]["closes"].update({"1006": 3}), "connections held"),
        (lambda r: r["connections"]["handshake_windows"][0].update(p99_ms=101.0), "handshake-to-snapshot"),
        (lambda r: r["connections"]["handshake_windows"][2].update(p99_ms=101.0), "handshake-to-snapshot"),
        (lambda r: r["connections"]["handshake_windows"][1].update(p99_ms=None), "handshake-to-snapshot"),
        (lambda r: r["connections"]["rss_kib_per_connection"].append(49.0), "memory"),
        (lambda r: r["connections"]["broadcast"].update(lost=1), "broadcast"),
        (lambda r: r["fanout"]["rows"].__setitem__(0, fanout_row(p99=111.0)), "fan-out"),
        (lambda r: r["slow"].update(stall_healthy_p99_ms=121.0), "slow consumers"),
        (lambda r: r["slow"].update(web_rss_mib_max=[240.0, 130.5]), "slow consumers"),
        (lambda r: r["storm"].update(caught_up_99_s=None), "reconnect storm"),
        (lambda r: r["storm"].update(gaps=1), "reconnect storm"),
    ],
)
def test_each_target_is_missed_by_the_figure_it_names(change: Any, missed: str) -> None:
    found = results()
    change(found["servers"]["daphne"])
    verdicts = met(found)
    assert next(target for target, ok in verdicts.items() if not ok).startswith(missed)
    assert sum(not ok for ok in verdicts.values()) == 1
    assert all(met(found, "uvicorn").values())


def test_socketio_ratios_are_judged_per_server() -> None:
    found = results()
    found["comparison"]["p99_ratio"] = {"daphne": 1.1, "uvicorn": 1.1}
    assert met(found, "daphne")["against Socket.IO, from a MongoDB insert"]
    assert not met(found, "uvicorn")["against Socket.IO, from a MongoDB insert"]
    found["comparison"]["p99_ratio"] = {"daphne": 1.6, "uvicorn": 1.0}
    assert not met(found, "daphne")["against Socket.IO, from a MongoDB insert"]
    assert met(found, "uvicorn")["against Socket.IO, from a MongoDB insert"]


@pytest.mark.parametrize("figure", ["lost", "gaps"])
def test_an_insert_lost_or_a_gap_misses_the_socketio_target(figure: str) -> None:
    found = results()
    found["comparison"]["ours"]["uvicorn"][figure] = 1
    assert not met(found, "uvicorn")["against Socket.IO, from a MongoDB insert"]
    assert met(found, "daphne")["against Socket.IO, from a MongoDB insert"]


def test_a_reduced_run_is_never_judged_as_meeting_a_target() -> None:
    found = copy.deepcopy(results())
    small = found["servers"]["daphne"]
    small["connections"].update(clients=1000, subscribed=1000)
    small["fanout"]["rows"] = [fanout_row(clients=300)]
    small["slow"]["clients"] = 300
    small["storm"]["clients"] = 300
    found["comparison"]["ours"]["daphne"]["clients"] = 300
    found["comparison"]["ours"]["daphne"]["quiet"]["clients"] = 300
    assert not any(met(found).values())


def test_the_docs_section_is_replaced_between_its_markers(tmp_path: Path) -> None:
    doc = tmp_path / "BENCHMARKS.md"
    doc.write_text("# Benchmarks\n\nIntro.\n\n## History\n\nOlder runs.\n")
    write_doc(doc, "first run\n")
    write_doc(doc, "second run\n")
    text = doc.read_text()
    assert text.count(BEGIN) == 1
    assert text.count(END) == 1
    assert "second run" in text
    assert "first run" not in text
    assert text.index("# Benchmarks") < text.index(BEGIN) < text.index("second run") < text.index(END)
    assert text.endswith("Intro.\n\n## History\n\nOlder runs.\n")


def test_a_storm_nobody_came_back_from_says_so() -> None:
    storm = {
        "clients": 5000,
        "subscribed_99_s": None,
        "caught_up_99_s": None,
        "recovered_by_replay": 185,
        "fresh_snapshots": 0,
        "gaps": 0,
        "out_of_order": 0,
        "closes": {"1006": 35631},
        "loadgen_cpu_share": 0.24,
        "cpu_per_reconnect_ms": 9.8,
    }
    text = report.storm_markdown(storm)
    assert "99 % subscribed again not within 60 s, 99 % caught up not within 60 s" in text
    assert "None" not in text
    assert "web CPU per reconnect" in text
    assert "9.8 ms (target under 3 ms)" in text
    storm.update(subscribed_99_s=14.2, caught_up_99_s=14.9)
    assert "subscribed again after 14.2 s, 99 % caught up after 14.9 s" in report.storm_markdown(storm)


@pytest.mark.parametrize(
    ("change", "text"),
    [(None, "-"), (-0.004, "no change"), (0.004, "no change"), (0.12, "+12%"), (-0.03, "-3%")],
)
def test_a_change_that_rounds_to_zero_reads_no_change(change: float | None, text: str) -> None:
    assert report.change_text(change) == text


QUIET = "insert-to-client p50 under 50 ms, 1 change/s in a department"


@pytest.mark.parametrize(
    "change",
    [
        {"p50_ms": 50.0},
        {"p50_ms": None},
        {"lost": 1},
        {"gaps": 1},
        {"clients": 1999},
    ],
)
def test_a_quiet_department_slower_than_50_ms_or_short_of_an_insert_misses_its_target(
    change: dict[str, Any],
) -> None:
    found = results()
    found["comparison"]["ours"]["daphne"]["quiet"].update(change)
    assert not met(found, "daphne")[QUIET]
    assert met(found, "uvicorn")[QUIET]


def test_a_comparison_without_the_quiet_phase_is_not_a_met_target() -> None:
    found = results()
    del found["comparison"]["ours"]["uvicorn"]["quiet"]
    assert not met(found, "uvicorn")[QUIET]

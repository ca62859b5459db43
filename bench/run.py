"""`make bench`: every scenario on each web server in one run, then one table of the targets.

    python -m bench.run [--servers daphne,uvicorn] [--connections 10000] [--clients 2000]
                        [--storm-clients 5000] [--rates 1,5,10,25,50] [--seconds 10]
                        [--stall-seconds 30] [--out var/bench/results.json] [--doc docs/BENCHMARKS.md]

For each server: connections (scenario 1), fan-out in both layouts on the pub/sub layer
(scenario 2), slow consumers (3) and the reconnect storm (4); then the comparison with the
Socket.IO peer from a MongoDB insert on every server (5, bench.inserts). Progress is printed
as it goes and var/bench/results.json is rewritten after every scenario, so an interrupted
run keeps what it measured. At the end it prints the targets table and writes it, with every
scenario's figures, the commit, the machine and the date, to var/bench/results.md and into
docs/BENCHMARKS.md between its `make bench` markers. Everything runs on 127.0.0.1 and stops
by itself; about 20 minutes for both servers on 2 cores.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from bench import connections, fanout, inserts, report, slow, socketio_peer, storm
from bench.common import ensure_loadgen
from devstack.procfile import ROOT
from devstack.services import unwind_on_sigterm
from hospital_dash.web import SERVERS

BEGIN = "<!-- make bench: begin (written by python -m bench.run; do not edit by hand) -->"
END = "<!-- make bench: end -->"
FANOUT_LAYOUTS = ["one", "spread"]
SLOW_RATE = 10.0
IDLE_SECONDS = 20.0
COMPARE_RATE = 10.0
QUIET_SECONDS = 20.0


def git_commit() -> str:
    def git(*args: str) -> str:
        done = subprocess.run(
            [shutil.which("git") or "git", *args], cwd=ROOT, capture_output=True, text=True, check=False
        )
        return done.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return commit + (
        " (with uncommitted changes)" if git("status", "--porcelain", "--untracked-files=no") else ""
    )


def machine() -> dict[str, Any]:
    meminfo = Path("/proc/meminfo").read_text().split()
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown CPU",
    )
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(int(meminfo[meminfo.index("MemTotal:") + 1]) / 2**20, 1),
        "python": platform.python_version(),
    }


def write_doc(doc: Path, section: str) -> None:
    """Replace what lies between the markers of `doc` with `section` (markers added if missing)."""
    text = doc.read_text() if doc.exists() else "# Benchmarks\n"
    block = f"{BEGIN}\n\n{section}\n{END}"
    if BEGIN in text and END in text:
        before, rest = text.split(BEGIN, 1)
        text = before + block + rest.split(END, 1)[1]
    else:
        title, _, rest = text.partition("\n")
        text = f"{title}\n\n## Latest full run (`make bench`)\n\n{block}\n{rest}"
    doc.write_text(text)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--servers", default=",".join(SERVERS))
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--storm-clients", type=int, default=5000)
    parser.add_argument("--rates", default="1,5,10,25,50")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--stall-seconds", type=float, default=30.0)
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench" / "results.json")
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "BENCHMARKS.md")
    args = parser.parse_args(argv)
    # A `kill` unwinds like Ctrl-C, so every process started here is stopped on the way out.
    unwind_on_sigterm()
    ensure_loadgen()
    socketio_peer.ensure_peer()
    servers = args.servers.split(",")
    rates = [float(rate) for rate in args.rates.split(",")]
    started = time.monotonic()
    results: dict[str, Any] = {
        "run": {"date": datetime.date.today().isoformat(), "commit": git_commit(), "machine": machine()},
        "servers": {server: {} for server in servers},
        "comparison": None,
    }
    steps: list[tuple[str, str | None, Callable[[], Any]]] = []
    for server in servers:
        steps += [
            ("connections", server, partial(connections.run, args.connections, IDLE_SECONDS, server)),
            (
                "fanout",
                server,
                partial(fanout.run, [server], ["pubsub"], FANOUT_LAYOUTS, args.clients, rates, args.seconds),
            ),
            ("slow", server, partial(slow.run, args.clients, SLOW_RATE, args.stall_seconds, server)),
            ("storm", server, partial(storm.run, args.storm_clients, server)),
        ]
    steps.append(
        (
            "comparison",
            None,
            partial(inserts.compare, args.clients, COMPARE_RATE, args.seconds, servers, QUIET_SECONDS),
        )
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for number, (scenario, server, measure) in enumerate(steps, start=1):
        where = f" on {server}" if server else ""
        print(
            f"bench: [{number}/{len(steps)}] {scenario}{where} ({time.monotonic() - started:.0f} s so far)",
            flush=True,
        )
        if server is None:
            results[scenario] = measure()
        else:
            results["servers"][server][scenario] = measure()
        args.out.write_text(json.dumps(results, indent=2) + "\n")
    results["run"]["minutes"] = round((time.monotonic() - started) / 60, 1)
    results["targets"] = {
        server: [vars(v) for v in found] for server, found in report.verdicts(results).items()
    }
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    section = report.markdown(results)
    args.out.with_suffix(".md").write_text(section)
    write_doc(args.doc, section)
    print(report.targets_table(results))
    print(f"bench: results in {args.out}, {args.out.with_suffix('.md')} and {args.doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Slow consumers: 5 % of 2,000 clients stop reading for 30 s while updates flow at 10 per second.

    python -m bench.slow [--clients 2000] [--rate 10] [--stall-seconds 30] [--server daphne]
                         [--out var/bench/slow.json]

First a baseline run without stalls, then the same rate while every 20th client pauses its
socket for 30 s and resumes. Reports the healthy clients' p99 in both runs, the web
processes' RSS during the stall, and what the stalled clients saw once they read again
(messages, seq gaps from coalescing, closes with 1013).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from bench.common import CONNECT_RATE, LoadGenerator, bench_stack, ensure_loadgen, rss_mib, write_result
from bench.fanout import PUBLISHER
from devstack.procfile import ROOT
from hospital_dash.web import SERVERS

STALL_FRACTION = 0.05
DRAIN_S = 5.0


def publish_for(env: dict[str, str], rate: float, seconds: float, *, check: bool = True) -> None:
    subprocess.run(
        [sys.executable, "-c", PUBLISHER, str(rate), str(seconds), "ER"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=seconds * 4 + 60,
        check=check,
    )


def run(clients: int, rate: float, stall_seconds: float, server: str = "daphne") -> dict[str, Any]:
    with bench_stack("pubsub", ["ER"], server) as bench:
        loadgen = LoadGenerator(bench.urls, bench.token, clients, ["dept:ER"])
        try:
            deadline = time.monotonic() + clients / CONNECT_RATE + 60
            while loadgen.report()["subscribed"] < clients and time.monotonic() < deadline:
                time.sleep(1)
            loadgen.command("PHASE baseline")
            publish_for(bench.stack.env, rate, stall_seconds)
            time.sleep(DRAIN_S)
            baseline = loadgen.report()

            loadgen.command("PHASE stall")
            loadgen.command(f"STALL {STALL_FRACTION} {stall_seconds}")
            rss: list[list[float]] = []
            sampling = threading.Event()

            def sample() -> None:
                while not sampling.is_set():
                    rss.append([round(rss_mib(pid), 1) for pid in bench.web_pids])
                    sampling.wait(2.0)

            sampler = threading.Thread(target=sample)
            sampler.start()
            publish_for(bench.stack.env, rate, stall_seconds + 10)
            time.sleep(DRAIN_S)
            sampling.set()
            sampler.join()
            stalled_run = loadgen.report()
        finally:
            loadgen.stop()
    return {
        "server": server,
        "clients": clients,
        "rate_per_s": rate,
        "stall_seconds": stall_seconds,
        "baseline_healthy_p50_ms": baseline["latency_p50_ms"],
        "baseline_healthy_p99_ms": baseline["latency_p99_ms"],
        "stall_healthy_p50_ms": stalled_run["latency_p50_ms"],
        "stall_healthy_p99_ms": stalled_run["latency_p99_ms"],
        "healthy_gaps_during_stall": stalled_run["gaps"],
        "web_rss_mib_min": [min(sample[i] for sample in rss) for i in range(2)],
        "web_rss_mib_max": [max(sample[i] for sample in rss) for i in range(2)],
        "stalled": stalled_run["stalled"],
        "loadgen_cpu_share": [
            round(baseline["loadgen_cpu_share"], 2),
            round(stalled_run["loadgen_cpu_share"], 2),
        ],
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--stall-seconds", type=float, default=30.0)
    parser.add_argument("--server", choices=SERVERS, default=SERVERS[0])
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench" / "slow.json")
    args = parser.parse_args(argv)
    ensure_loadgen()
    write_result(args.out, run(args.clients, args.rate, args.stall_seconds, args.server))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Connections benchmark: ramp to N authenticated clients over two web processes, then hold them.

    python -m bench.connections [--clients 10000] [--idle-seconds 20] [--server daphne]
                                [--out var/bench/connections.json]

Reports handshake-to-snapshot p50/p99 for each block of 1,000 connections, each web process's
RSS before and after (and per connection), CPU while all clients sit idle (heartbeats and
the per-process ticker still run), then a broadcast to every client: `hospital` updates at
1 per second for 10 s, latency from publication to receipt. Clients ramp at 200 per second,
split evenly over the two processes; the load generator reports its own CPU.
"""

from __future__ import annotations

import argparse
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

from bench.common import (
    CONNECT_RATE,
    LoadGenerator,
    bench_stack,
    cpu_seconds,
    ensure_loadgen,
    rss_mib,
    write_result,
)
from bench.fanout import fmt_ms, measure_rate, publish
from devstack.procfile import ROOT
from hospital_dash.web import SERVERS

POLL_S = 2.0
BROADCAST_RATE = 1.0
BROADCAST_SECONDS = 10.0


def run(clients: int, idle_seconds: float, server: str = "daphne") -> dict[str, Any]:
    with bench_stack("pubsub", ["ER"], server) as bench:
        rss_before = [rss_mib(pid) for pid in bench.web_pids]
        loadgen = LoadGenerator(bench.urls, bench.token, clients, ["hospital"])
        try:
            deadline = time.monotonic() + clients / CONNECT_RATE + 120
            while (report := loadgen.report())["subscribed"] < clients and time.monotonic() < deadline:
                print(f"bench: {report['subscribed']:,} of {clients:,} subscribed", flush=True)
                time.sleep(POLL_S)
            rss_held = [rss_mib(pid) for pid in bench.web_pids]
            loadgen.command("PHASE idle")
            cpu_before = [cpu_seconds(pid) for pid in bench.web_pids]
            time.sleep(idle_seconds)
            idle = loadgen.report()
            cpu_idle = [
                (cpu_seconds(pid) - before) / idle_seconds
                for pid, before in zip(bench.web_pids, cpu_before, strict=True)
            ]
            publish_all = partial(publish, bench.stack, BROADCAST_RATE, BROADCAST_SECONDS, ["hospital"])
            broadcast = measure_rate(
                loadgen, bench.web_pids, clients, BROADCAST_RATE, BROADCAST_SECONDS, publish_all
            )
        finally:
            loadgen.stop()
    per_process = clients / len(bench.web_pids)
    return {
        "server": server,
        "clients": clients,
        "subscribed": report["subscribed"],
        "closes": idle["closes"],
        "handshake_windows": report["handshake_windows"],
        "web_rss_mib_before": [round(v, 1) for v in rss_before],
        "web_rss_mib_held": [round(v, 1) for v in rss_held],
        "rss_kib_per_connection": [
            round((held - before) * 1024 / per_process, 1)
            for held, before in zip(rss_held, rss_before, strict=True)
        ],
        "idle_web_cpu_share": [round(share, 3) for share in cpu_idle],
        "idle_loadgen_cpu_share": round(idle["loadgen_cpu_share"], 3),
        "ramp_loadgen_cpu_share": round(report["loadgen_cpu_share"], 3),
        "broadcast": broadcast,
    }


def markdown(result: dict[str, Any]) -> str:
    b = result["broadcast"]
    lines = ["| connections | handshake-to-snapshot p50 | p99 |", "| ---: | ---: | ---: |"]
    for window in result["handshake_windows"]:
        lines.append(f"| {window['upto']:,} | {fmt_ms(window['p50_ms'])} | {fmt_ms(window['p99_ms'])} |")
    lines += [
        "",
        f"- subscribed: {result['subscribed']:,} of {result['clients']:,}; "
        f"closes while idle: {result['closes']}",
        f"- web RSS before / holding: {result['web_rss_mib_before']} / {result['web_rss_mib_held']} MiB; "
        f"per connection {result['rss_kib_per_connection']} KiB",
        f"- idle CPU with every client connected: web {result['idle_web_cpu_share']} of a core each; "
        f"load generator {result['idle_loadgen_cpu_share']} (ramp: {result['ramp_loadgen_cpu_share']})",
        f"- broadcast to every client (`hospital`, {b['rate_per_s']:g}/s for {BROADCAST_SECONDS:g} s): "
        f"p50 {b['p50_ms']:.0f} ms, p99 {b['p99_ms']:.0f} ms; not delivered within 3 s: {b['lost']:,} of "
        f"{b['expected']:,}; gaps {b['gaps']}, out of order {b['out_of_order']}; "
        f"web CPU {b['web_cpu_share']}; load generator CPU {b['loadgen_cpu_share']}",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=10_000)
    parser.add_argument("--idle-seconds", type=float, default=20.0)
    parser.add_argument("--server", choices=SERVERS, default=SERVERS[0])
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench" / "connections.json")
    args = parser.parse_args(argv)
    ensure_loadgen()
    result = run(args.clients, args.idle_seconds, args.server)
    write_result(args.out, result, markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

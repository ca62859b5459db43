"""Fan-out benchmark: N authenticated clients, tier publications at fixed rates, latency and loss.

    python -m bench.fanout [--clients 2000] [--layouts one,spread] [--rates 1,5,10,25,50]
                           [--layers pubsub,core] [--servers daphne,uvicorn] [--seconds 10]
                           [--out var/bench/fanout.json]

For each server and channel layer it starts its own Redis and MongoDB wire server, two web
processes (the Procfile's `web` entry on two ports) and the Node load generator (bench/loadgen), which
holds the clients on 127.0.0.1 and checks `seq` for gaps. A publisher process publishes
critical-tier updates through `dashboard.stream.publish` (the path the watcher and Celery use), each
stamped with `sent_at`; latency is publication to client receipt. Everything stops by itself.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from bench.common import (
    CONNECT_RATE,
    LoadGenerator,
    NodeLoadGenerator,
    bench_stack,
    cpu_seconds,
    ensure_loadgen,
    rss_mib,
)
from devstack.procfile import ROOT
from hospital_dash.web import SERVERS
from tests.support.live_stack import LiveStack

SPREAD_DEPARTMENTS = 20
DRAIN_S = 3.0
KNEE_P99_MS = 250.0

PUBLISHER = """
import sys, time, django
django.setup()
from dashboard.stream import publish
from dashboard.protocol.scopes import HOSPITAL_SCOPE, Scope
rate, seconds, departments = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3].split(",")
start = time.monotonic()
ticks = int(rate * seconds)
for tick in range(ticks):
    time.sleep(max(0.0, start + tick / rate - time.monotonic()))
    for code in departments:
        data = {"computed_at": "2030-01-01T00:00:00.000Z", "sent_at": time.time(),
                "patients": {"emergency": tick}}
        publish.publish_tier(HOSPITAL_SCOPE if code == "hospital" else Scope(code), "critical", data)
print(ticks * len(departments), round(time.monotonic() - start, 3), flush=True)
"""


@dataclass
class Layout:
    name: str
    departments: list[str]


LAYOUTS = {
    "one": Layout("one department", ["ER"]),
    "spread": Layout(
        f"{SPREAD_DEPARTMENTS} departments", [f"D{index:02d}" for index in range(SPREAD_DEPARTMENTS)]
    ),
}


def publish(stack: LiveStack, rate: float, seconds: float, departments: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PUBLISHER, str(rate), str(seconds), ",".join(departments)],
        cwd=ROOT,
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=seconds * 4 + 60,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"publisher failed: {done.stderr[-2000:]}")


def wait_subscribed(loadgen: NodeLoadGenerator, clients: int) -> dict[str, Any]:
    """The load generator's report once every client is subscribed, or a minute after the ramp."""
    deadline = time.monotonic() + clients / CONNECT_RATE + 60
    while (connected := loadgen.report())["subscribed"] < clients and time.monotonic() < deadline:
        time.sleep(1)
    return connected


def measure_rate(
    loadgen: NodeLoadGenerator,
    web_pids: list[int],
    clients: int,
    rate: float,
    seconds: float,
    publish_all: Callable[[], None],
) -> dict[str, Any]:
    """One rate's figures: a fresh phase, `publish_all` at `rate` for `seconds`, then DRAIN_S."""
    loadgen.command(f"PHASE rate-{rate}")
    cpu_before = [cpu_seconds(pid) for pid in web_pids]
    started = time.monotonic()
    publish_all()
    time.sleep(DRAIN_S)
    wall = time.monotonic() - started
    result = loadgen.report()
    expected = int(rate * seconds) * clients
    return {
        "rate_per_s": rate,
        "expected": expected,
        "delivered": result["deliveries"],
        "lost": max(0, expected - result["deliveries"]),
        "gaps": result["gaps"],
        "out_of_order": result["out_of_order"],
        "deliveries_per_s": round(result["deliveries"] / seconds),
        "p50_ms": result["latency_p50_ms"],
        "p99_ms": result["latency_p99_ms"],
        "web_cpu_share": [
            round((cpu_seconds(pid) - before) / wall, 2)
            for pid, before in zip(web_pids, cpu_before, strict=True)
        ],
        "web_rss_mib": [round(rss_mib(pid)) for pid in web_pids],
        "loadgen_cpu_share": round(result["loadgen_cpu_share"], 2),
    }


def run_layer(
    layer: str, layout: Layout, clients: int, rates: list[float], seconds: float, server: str = "daphne"
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with bench_stack(layer, layout.departments, server) as bench:
        scopes = [f"dept:{code}" for code in layout.departments]
        loadgen = LoadGenerator(bench.urls, bench.token, clients, scopes)
        try:
            connected = wait_subscribed(loadgen, clients)
            print(
                f"bench: {server}, {layer}, {layout.name}: "
                f"{connected['subscribed']} of {clients} subscribed; "
                f"handshake-to-snapshot p50 {connected['handshake_p50_ms']} ms, "
                f"p99 {connected['handshake_p99_ms']} ms",
                flush=True,
            )
            for rate in rates:
                publish_all = partial(publish, bench.stack, rate, seconds, layout.departments)
                row = {
                    "server": server,
                    "layer": layer,
                    "layout": layout.name,
                    "clients": connected["subscribed"],
                    **measure_rate(loadgen, bench.web_pids, clients, rate, seconds, publish_all),
                    "handshake_p50_ms": connected["handshake_p50_ms"],
                    "handshake_p99_ms": connected["handshake_p99_ms"],
                }
                rows.append(row)
                print(format_row(row), flush=True)
        finally:
            loadgen.stop()
    return rows


def fmt_ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f} ms"


def format_row(row: dict[str, Any]) -> str:
    return (
        f"{row['server']:<7} {row['layer']:<7} {row['layout']:<15} "
        f"{row['clients']:>6} {row['rate_per_s']:>5}/s "
        f"{row['deliveries_per_s']:>8}/s  lost {row['lost']:>6}  gaps {row['gaps']:>5}  "
        f"p50 {fmt_ms(row['p50_ms'])}  p99 {fmt_ms(row['p99_ms'])}  web cpu {row['web_cpu_share']}  "
        f"loadgen cpu {row['loadgen_cpu_share']}"
    )


TABLE_HEADER = (
    "| server | layer | layout | clients | updates/s per scope | deliveries/s | not delivered within 3 s "
    "| gaps, out of order | p50 | p99 | web CPU (each) | web RSS MiB (each) | load generator CPU |"
)


def markdown_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        TABLE_HEADER,
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: |",
    ]
    for r in rows:
        lines.append("| " + " | ".join([r["server"], r["layer"], r["layout"], *figure_cells(r)]) + " |")
    return "\n".join(lines) + "\n"


def figure_cells(r: dict[str, Any]) -> list[str]:
    """A rate's figures as table cells, from `clients` to the load generator's CPU."""
    return [
        f"{r['clients']:,}",
        f"{r['rate_per_s']:g}",
        f"{r['deliveries_per_s']:,}",
        f"{r['lost']:,} of {r['expected']:,}",
        f"{r['gaps']}, {r['out_of_order']}",
        fmt_ms(r["p50_ms"]),
        fmt_ms(r["p99_ms"]),
        " / ".join(f"{share:.0%}" for share in r["web_cpu_share"]),
        " / ".join(str(mib) for mib in r["web_rss_mib"]),
        f"{r['loadgen_cpu_share']:.0%}",
    ]


def knee(rows: list[dict[str, Any]]) -> float | None:
    ok = [
        r["rate_per_s"]
        for r in rows
        if r["lost"] == 0 and r["p99_ms"] is not None and r["p99_ms"] < KNEE_P99_MS
    ]
    return max(ok) if ok else None


def run(
    servers: list[str],
    layers: list[str],
    layouts: list[str],
    clients: int,
    rates: list[float],
    seconds: float,
) -> dict[str, Any]:
    """Every server x layer x layout at every rate: the rows, and each combination's knee."""
    rows = []
    for server in servers:
        for layer in layers:
            for layout_name in layouts:
                rows += run_layer(layer, LAYOUTS[layout_name], clients, rates, seconds, server)
    knees = {
        f"{server} / {layer} / {LAYOUTS[name].name}": knee(
            [
                r
                for r in rows
                if r["server"] == server and r["layer"] == layer and r["layout"] == LAYOUTS[name].name
            ]
        )
        for server in servers
        for layer in layers
        for name in layouts
    }
    return {"rows": rows, "knee_rate_per_s": knees}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--layouts", default="one,spread")
    parser.add_argument("--rates", default="1,5,10,25,50")
    parser.add_argument("--layers", default="pubsub,core")
    parser.add_argument("--servers", default=",".join(SERVERS))
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench" / "fanout.json")
    args = parser.parse_args(argv)
    ensure_loadgen()
    result = run(
        args.servers.split(","),
        args.layers.split(","),
        args.layouts.split(","),
        args.clients,
        [float(rate) for rate in args.rates.split(",")],
        args.seconds,
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown_table(result["rows"]))
    print(markdown_table(result["rows"]))
    print(
        "knee (highest rate with p99 under 250 ms and nothing lost):", json.dumps(result["knee_rate_per_s"])
    )
    print(f"bench: results in {args.out} and {args.out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Comparison: our fan-out against a minimal Node.js Socket.IO server with the Redis adapter.

    python -m bench.compare [--clients 2000] [--rate 10] [--seconds 10] [--out var/bench/compare.json]

In one run, one after the other on the same machine: bench.fanout's one-department layout
(the pub/sub channel layer, two web processes) at the rate, then the Socket.IO peer of
bench/peers/socketio (two server processes sharing a Redis of their own through
@socket.io/redis-adapter, a publisher emitting to the room through it) with the same clients,
rate and duration, its clients measured as ours are. Prints both rows and the ratios of our
p99 to its p99 and of our deliveries per second to its deliveries per second.
"""

from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path
from typing import Any

from bench import socketio_peer
from bench.common import ensure_loadgen, write_result
from bench.fanout import LAYOUTS, figure_cells, run_layer
from devstack.procfile import ROOT
from devstack.services import unwind_on_sigterm

OURS = "ours: Channels pub/sub layer, 2 daphne processes"
THEIRS = "Socket.IO + Redis adapter, 2 node processes"


def ratio(ours: float | None, theirs: float | None) -> float | None:
    return None if ours is None or not theirs else round(ours / theirs, 2)


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "| server | clients | updates/s | deliveries/s | not delivered within 3 s | gaps, out of order "
        "| p50 | p99 | server CPU (each) | server RSS MiB (each) | load generator CPU |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: |",
    ]
    for name, r in ((OURS, result["ours"]), (THEIRS, result["socketio"])):
        lines.append("| " + " | ".join([name, *figure_cells(r)]) + " |")
    lines.append("")
    lines.append(f"- our p99 / its p99: {result['p99_ratio']}")
    lines.append(f"- our deliveries/s / its deliveries/s: {result['deliveries_per_s_ratio']}")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench" / "compare.json")
    args = parser.parse_args(argv)
    # A `kill` unwinds like Ctrl-C, so every process started here is stopped on the way out.
    unwind_on_sigterm()
    ensure_loadgen()
    socketio_peer.ensure_peer()
    ours = run_layer("pubsub", LAYOUTS["one"], args.clients, [args.rate], args.seconds)[0]
    theirs = socketio_peer.run(args.clients, args.rate, args.seconds)
    result = {
        "date": datetime.date.today().isoformat(),
        "ours": ours,
        "socketio": theirs,
        "p99_ratio": ratio(ours["p99_ms"], theirs["p99_ms"]),
        "deliveries_per_s_ratio": ratio(ours["deliveries_per_s"], theirs["deliveries_per_s"]),
    }
    write_result(args.out, result, markdown(result))
    print(f"bench: results in {args.out} and {args.out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

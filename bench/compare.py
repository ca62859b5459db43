"""Comparison: our fan-out against a minimal Node.js Socket.IO server with the Redis adapter.

    python -m bench.compare [--clients 2000] [--rate 10] [--seconds 10] [--servers daphne,uvicorn]
                            [--out var/bench/compare.json]

In one run, one after the other on the same machine: bench.fanout's one-department layout
(the pub/sub channel layer, two web processes) at the rate on each server, then the Socket.IO peer of
bench/peers/socketio (two server processes sharing a Redis of their own through
@socket.io/redis-adapter, a publisher emitting to the room through it) with the same clients,
rate and duration, its clients measured as ours are. Prints the rows and, for each of our
servers, the ratios of our p99 to its p99 and of our deliveries per second to its.
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
from hospital_dash.web import SERVERS

THEIRS = "Socket.IO + Redis adapter, 2 node processes"


def ratio(ours: float | None, theirs: float | None) -> float | None:
    return None if ours is None or not theirs else round(ours / theirs, 2)


def ours_name(server: str) -> str:
    return f"ours: Channels pub/sub layer, 2 {server} processes"


def compare(clients: int, rate: float, seconds: float, servers: list[str]) -> dict[str, Any]:
    ours = {
        server: run_layer("pubsub", LAYOUTS["one"], clients, [rate], seconds, server)[0] for server in servers
    }
    theirs = socketio_peer.run(clients, rate, seconds)
    return {
        "date": datetime.date.today().isoformat(),
        "ours": ours,
        "socketio": theirs,
        "p99_ratio": {server: ratio(row["p99_ms"], theirs["p99_ms"]) for server, row in ours.items()},
        "deliveries_per_s_ratio": {
            server: ratio(row["deliveries_per_s"], theirs["deliveries_per_s"]) for server, row in ours.items()
        },
    }


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "| server | clients | updates/s | deliveries/s | not delivered within 3 s | gaps, out of order "
        "| p50 | p99 | server CPU (each) | server RSS MiB (each) | load generator CPU |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: |",
    ]
    rows = [(ours_name(server), row) for server, row in result["ours"].items()]
    for name, r in [*rows, (THEIRS, result["socketio"])]:
        lines.append("| " + " | ".join([name, *figure_cells(r)]) + " |")
    lines.append("")
    for server in result["ours"]:
        lines.append(
            f"- {server}: our p99 / its p99 {result['p99_ratio'][server]}; our deliveries/s / its "
            f"deliveries/s {result['deliveries_per_s_ratio'][server]}"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--servers", default=",".join(SERVERS))
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench" / "compare.json")
    args = parser.parse_args(argv)
    # A `kill` unwinds like Ctrl-C, so every process started here is stopped on the way out.
    unwind_on_sigterm()
    ensure_loadgen()
    socketio_peer.ensure_peer()
    result = compare(args.clients, args.rate, args.seconds, args.servers.split(","))
    write_result(args.out, result, markdown(result))
    print(f"bench: results in {args.out} and {args.out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""End to end from a MongoDB insert, against the Socket.IO peer (scenario 5 of `make bench`).

    python -m bench.inserts [--clients 2000] [--rate 10] [--seconds 10] [--quiet-seconds 20]
                            [--servers daphne,uvicorn] [--out var/bench/inserts.json]

One emergency admission of the ER department is inserted into MongoDB every 1/rate s for
`seconds`, while `clients` clients of ER listen over two server processes; each client times
every insert from just before its `insert_one` to the first message whose `patients.emergency`
count includes it (bench/loadgen/measure.js). Then, same clients, a quiet department: one insert a
second for `quiet-seconds` (issue 18's target, a p50 under 50 ms). The same inserts, clients and
figures on:

- ours: bench.fanout's stack (two web processes, the pub/sub channel layer) and the real
  watcher process following the change streams (dashboard/watcher/), on daphne and uvicorn;
- the peer: bench.socketio_peer's two Socket.IO processes, fed by bench.change_reader (a
  pymongo change-stream reader, one message per change) piped into
  bench/peers/socketio/relay.js, which emits each through Redis at once.

Each side has a MongoDB wire server of its own. `lost` counts (client, insert) pairs never seen
within DRAIN_S after the last insert; gaps are `seq` gaps. The change feed's CPU (our watcher;
the peer's reader and relay) is reported in its side's row, next to the servers'.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pymongo import MongoClient
from pymongo.database import Database

from bench import socketio_peer
from bench.common import (
    LoadGenerator,
    NodeLoadGenerator,
    bench_stack,
    cpu_seconds,
    ensure_loadgen,
    rss_mib,
    write_result,
)
from bench.fanout import DRAIN_S, fmt_ms, wait_subscribed
from devstack.procfile import ROOT
from devstack.services import start_mongo, unwind_on_sigterm
from hospital_dash.web import SERVERS

DEPARTMENT = "ER"
SCOPE = f"dept:{DEPARTMENT}"
READER_START_S = 30.0
QUIET_RATE_PER_S = 1.0


def insert_admissions(db: Database, rate: float, seconds: float) -> list[float]:
    """Insert int(rate * seconds) emergency admissions of ER on a fixed schedule; returns when
    each was sent, in ms since the epoch, taken just before its insert_one."""
    sent: list[float] = []
    start = time.monotonic()
    for tick in range(int(rate * seconds)):
        time.sleep(max(0.0, start + tick / rate - time.monotonic()))
        sent.append(time.time() * 1000)
        db.patients.insert_one(
            {
                "department": DEPARTMENT,
                "status": "admitted",
                "is_emergency": True,
                "admitted_at": datetime.now(UTC),
                "discharged_at": None,
            }
        )
    return sent


def shares(pids: list[int], before: list[float], wall_s: float) -> list[float]:
    return [round((cpu_seconds(pid) - was) / wall_s, 2) for pid, was in zip(pids, before, strict=True)]


def measure_inserts(
    loadgen: NodeLoadGenerator,
    db: Database,
    rate: float,
    seconds: float,
    server_pids: list[int],
    feed_pids: list[int],
    before: int = 0,
) -> dict[str, Any]:
    """One run's figures: a fresh phase, the inserts, DRAIN_S, then what the clients saw.

    `before` is the number of admissions inserted by earlier phases on the same database. Shares
    of one core over the run: `server_cpu_share` per server process, `feed_cpu_share` per
    change-feed process. Latencies in ms.
    """
    loadgen.command("PHASE inserts")
    server_before = [cpu_seconds(pid) for pid in server_pids]
    feed_before = [cpu_seconds(pid) for pid in feed_pids]
    started = time.monotonic()
    sent = insert_admissions(db, rate, seconds)
    time.sleep(DRAIN_S)
    wall_s = time.monotonic() - started
    server_cpu, feed_cpu = shares(server_pids, server_before, wall_s), shares(feed_pids, feed_before, wall_s)
    seen = loadgen.report()
    with tempfile.NamedTemporaryFile("w", suffix=".json", prefix="dash-inserts-") as times:
        json.dump(sent, times)
        times.flush()
        figures = loadgen.ask(f"INSERTS {times.name} {before}")
    return {
        "clients": figures["clients"],
        "rate_per_s": rate,
        "inserts": figures["inserts"],
        "expected": figures["clients"] * figures["inserts"],
        "seen": figures["seen"],
        "lost": figures["lost"],
        "p50_ms": figures["latency_p50_ms"],
        "p99_ms": figures["latency_p99_ms"],
        "deliveries": seen["deliveries"],
        "deliveries_per_s": round(seen["deliveries"] / seconds),
        "gaps": seen["gaps"],
        "out_of_order": seen["out_of_order"],
        "server_cpu_share": server_cpu,
        "feed_cpu_share": feed_cpu,
        "server_rss_mib": [round(rss_mib(pid)) for pid in server_pids],
        "loadgen_cpu_share": round(seen["loadgen_cpu_share"], 2),
    }


def measure_busy_then_quiet(
    loadgen: NodeLoadGenerator,
    db: Database,
    rates: tuple[float, float, float],
    server_pids: list[int],
    feed_pids: list[int],
) -> dict[str, Any]:
    """`rates` is (rate, seconds, quiet_seconds): the row at `rate`, with the quiet phase at
    QUIET_RATE_PER_S that follows it under `quiet`."""
    rate, seconds, quiet_seconds = rates
    row = measure_inserts(loadgen, db, rate, seconds, server_pids, feed_pids)
    quiet = measure_inserts(
        loadgen, db, QUIET_RATE_PER_S, quiet_seconds, server_pids, feed_pids, before=row["inserts"]
    )
    return {**row, "quiet": quiet}


def run_ours(clients: int, rates: tuple[float, float, float], server: str) -> dict[str, Any]:
    """Our figures on `server`: two web processes and the watcher, as bench.fanout's stack."""
    with bench_stack("pubsub", [DEPARTMENT], server) as bench:
        bench.stack.start("watcher")
        bench.stack.wait_for_log("watcher", "6 of 6 change streams open")
        loadgen = LoadGenerator(bench.urls, bench.token, clients, [SCOPE])
        try:
            connected = wait_subscribed(loadgen, clients)
            row = measure_busy_then_quiet(
                loadgen,
                bench.stack.mongo(),
                rates,
                bench.web_pids,
                [bench.stack.processes["watcher"].pid],
            )
            return {"server": server, **row, "handshake_p99_ms": connected["handshake_p99_ms"]}
        finally:
            loadgen.stop()


def wait_reader_open(reader: subprocess.Popen[str]) -> None:
    assert reader.stderr is not None
    deadline = time.monotonic() + READER_START_S
    while time.monotonic() < deadline:
        line = reader.stderr.readline()
        if "stream open" in line:
            return
        if not line and reader.poll() is not None:
            break
    raise RuntimeError(f"the change reader did not open its stream (exit {reader.poll()})")


def run_peer(clients: int, rates: tuple[float, float, float]) -> dict[str, Any]:
    """The Socket.IO peer's figures, fed per change by bench.change_reader and relay.js."""
    with socketio_peer.peer_stack() as peer, tempfile.TemporaryDirectory(prefix="dash-peer-mongo-") as tmp:
        mongo_proc, mongo_url = start_mongo(Path(tmp) / "mongo")
        relay = subprocess.Popen(
            [socketio_peer.node(), str(socketio_peer.PEER / "relay.js"), "--redis", peer.redis_url],
            stdin=subprocess.PIPE,
            cwd=socketio_peer.PEER,
        )
        reader = subprocess.Popen(
            [sys.executable, "-m", "bench.change_reader", "--mongo", mongo_url, "--department", DEPARTMENT],
            stdout=relay.stdin,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        assert relay.stdin is not None
        relay.stdin.close()
        loadgen = socketio_peer.PeerLoadGenerator(peer.urls, clients, SCOPE)
        try:
            wait_reader_open(reader)
            connected = wait_subscribed(loadgen, clients)
            db: Database = MongoClient(mongo_url)["hospital"]
            row = measure_busy_then_quiet(loadgen, db, rates, peer.server_pids, [reader.pid, relay.pid])
            return {"server": "socket.io", **row, "handshake_p99_ms": connected["handshake_p99_ms"]}
        finally:
            loadgen.stop()
            reader.terminate()
            reader.wait(10)
            relay.wait(10)
            mongo_proc.stop()


def ratio(ours: float | None, theirs: float | None) -> float | None:
    return None if ours is None or not theirs else round(ours / theirs, 2)


def compare(
    clients: int, rate: float, seconds: float, servers: list[str], quiet_seconds: float
) -> dict[str, Any]:
    """Ours on each server, then the peer, one after the other: rows and our p99 / its p99."""
    rates = (rate, seconds, quiet_seconds)
    ours = {server: run_ours(clients, rates, server) for server in servers}
    theirs = run_peer(clients, rates)
    return {
        "date": datetime.now(UTC).date().isoformat(),
        "from": "insert",
        "ours": ours,
        "socketio": theirs,
        "p99_ratio": {server: ratio(row["p99_ms"], theirs["p99_ms"]) for server, row in ours.items()},
        "p50_ratio": {server: ratio(row["p50_ms"], theirs["p50_ms"]) for server, row in ours.items()},
    }


def percents(values: list[float]) -> str:
    return " / ".join(f"{value:.0%}" for value in values)


def markdown(result: dict[str, Any]) -> str:
    """The comparison as a Markdown table and one line of ratios per server."""
    lines = [
        "| server | clients | inserts/s | insert-to-client p50 | p99 | deliveries | not seen within 3 s "
        "| gaps, out of order | server CPU (each) | change feed CPU | server RSS MiB (each) "
        "| load generator CPU |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- | ---: |",
    ]
    rows = [(f"ours: 2 {server} processes + watcher", row) for server, row in result["ours"].items()]
    rows.append(("Socket.IO: 2 node processes + pymongo reader, relay", result["socketio"]))
    rows += [(f"{name}, quiet department", row["quiet"]) for name, row in rows if "quiet" in row]
    for name, r in rows:
        cells = [
            name,
            f"{r['clients']:,}",
            f"{r['rate_per_s']:g}",
            fmt_ms(r["p50_ms"]),
            fmt_ms(r["p99_ms"]),
            f"{r['deliveries']:,}",
            f"{r['lost']:,} of {r['expected']:,}",
            f"{r['gaps']}, {r['out_of_order']}",
            percents(r["server_cpu_share"]),
            percents(r["feed_cpu_share"]),
            " / ".join(str(mib) for mib in r["server_rss_mib"]),
            f"{r['loadgen_cpu_share']:.0%}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    for server in result["ours"]:
        lines.append(
            f"- {server}: our p99 / its p99 {result['p99_ratio'][server]}; "
            f"our p50 / its p50 {result['p50_ratio'][server]}"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--quiet-seconds", type=float, default=20.0)
    parser.add_argument("--servers", default=",".join(SERVERS))
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench" / "inserts.json")
    args = parser.parse_args(argv)
    # A `kill` unwinds like Ctrl-C, so every process started here is stopped on the way out.
    unwind_on_sigterm()
    ensure_loadgen()
    socketio_peer.ensure_peer()
    result = compare(args.clients, args.rate, args.seconds, args.servers.split(","), args.quiet_seconds)
    write_result(args.out, result, markdown(result))
    print(f"bench: results in {args.out} and {args.out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Reconnect storm: 5,000 clients, both web processes restarted, everyone comes back.

    python -m bench.storm [--clients 5000] [--server daphne] [--profile] [--out var/bench/storm.json]

Clients reconnect with full-jitter exponential backoff (0.5 s doubling to 30 s, as the page
does) and resubscribe with `since`. Updates keep flowing at 1 per second throughout. Reports
the time from the restart until 99 % of clients are subscribed again, and until 99 % have
caught up with the newest update published, any seq gap or out-of-order delivery, and the CPU
per reconnect: the CPU both web processes used from listening again until 99 % caught up (or
the limit), over the clients that came back. With `--profile`, py-spy samples the first web
process over the same time, and the share of each stage (bench/stage_profile.py) is reported.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.common import CONNECT_RATE, LoadGenerator, bench_stack, cpu_seconds, ensure_loadgen, write_result
from bench.slow import publish_for
from bench.stage_profile import StageProfile
from dashboard.protocol.scopes import Scope
from dashboard.sources import redis_store
from devstack.procfile import ROOT
from hospital_dash.web import SERVERS

RATE_PER_S = 1.0
PUBLISH_S = 90.0
SHARE = 0.99
LIMIT_S = 60.0
WEB = ("web", "web2")


def run(clients: int, server: str = "daphne", profile: bool = False) -> dict[str, Any]:
    with bench_stack("pubsub", ["ER"], server) as bench:
        stack = bench.stack
        loadgen = LoadGenerator(bench.urls, bench.token, clients, ["dept:ER"], reconnect=True)
        # Publishes until the stack stops under it once the storm is measured: its exit is not checked.
        publisher = threading.Thread(
            target=publish_for, args=(stack.env, RATE_PER_S, PUBLISH_S), kwargs={"check": False}, daemon=True
        )
        try:
            deadline = time.monotonic() + clients / CONNECT_RATE + 60
            while loadgen.report()["subscribed"] < clients and time.monotonic() < deadline:
                time.sleep(1)
            publisher.start()
            time.sleep(5)
            loadgen.command("PHASE storm")
            restarted_at = time.monotonic()
            second_port = urlsplit(bench.urls[1]).port
            # Both at once: SIGTERM to each, then wait for each to exit.
            for name in WEB:
                stack.processes[name].signal(signal.SIGTERM)
            for name in WEB:
                stack.processes[name].stop()
            stopped_s = time.monotonic() - restarted_at
            stack.start("web")
            stack.start("web", as_name="web2", env={"PORT": str(second_port)})
            stack.wait_for_web()
            stack.wait_for_web(name="web2", port=second_port)
            listening_s = time.monotonic() - restarted_at
            web_pids = [stack.processes[name].pid for name in WEB]
            cpu_at_listening = sum(cpu_seconds(pid) for pid in web_pids)
            profiler = None
            if profile:
                out = ROOT / "var" / "bench" / f"storm-{server}-web.txt"
                profiler = StageProfile.start(web_pids[0], LIMIT_S, out)
            subscribed_s = caught_up_s = None
            timeline: list[tuple[float, int, int]] = []
            seq_key = redis_store.seq_key(Scope("ER"))
            while time.monotonic() - restarted_at < LIMIT_S and caught_up_s is None:
                newest = int(stack.redis().get(seq_key) or 0)
                loadgen.command(f"TARGET {newest}")
                report = loadgen.report()
                elapsed = time.monotonic() - restarted_at
                timeline.append((round(elapsed, 1), report["open"], report["subscribed"]))
                if subscribed_s is None and report["subscribed"] >= SHARE * clients:
                    subscribed_s = elapsed
                if report["caught_up"] >= SHARE * clients:
                    caught_up_s = elapsed
                time.sleep(0.5)
            reconnect_cpu_s = sum(cpu_seconds(pid) for pid in web_pids) - cpu_at_listening
            stages = profiler.stop() if profiler is not None else {}
            final = loadgen.report()
            back = final["recovered"] + final["snapshots"]
        finally:
            loadgen.stop()
    return {
        "server": server,
        "clients": clients,
        "stopped_s": round(stopped_s, 1),
        "listening_again_s": round(listening_s, 1),
        "subscribed_99_s": None if subscribed_s is None else round(subscribed_s, 1),
        "caught_up_99_s": None if caught_up_s is None else round(caught_up_s, 1),
        "recovered_by_replay": final["recovered"],
        "fresh_snapshots": final["snapshots"],
        "gaps": final["gaps"],
        "out_of_order": final["out_of_order"],
        "closes": final["closes"],
        "loadgen_cpu_share": round(final["loadgen_cpu_share"], 2),
        "cpu_per_reconnect_ms": round(1000 * reconnect_cpu_s / max(1, back), 2),
        "stages": stages,
        "subscribed_timeline": timeline,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=5000)
    parser.add_argument("--server", choices=SERVERS, default=SERVERS[0])
    parser.add_argument("--profile", action="store_true", help="sample the first web process with py-spy")
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench" / "storm.json")
    args = parser.parse_args(argv)
    ensure_loadgen()
    write_result(args.out, run(args.clients, args.server, args.profile))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Fan-out benchmark: N authenticated clients, tier publications at fixed rates, latency and loss.

    python -m bench.fanout [--clients 2000] [--layouts one,spread] [--rates 1,5,10,25,50]
                           [--layers pubsub,core] [--seconds 10] [--out var/bench/fanout.json]

For each channel layer it starts its own Redis and MongoDB wire server, two web processes
(the Procfile's `web` entry on two ports) and the Node load generator (bench/loadgen), which
holds the clients on 127.0.0.1 and checks `seq` for gaps. A publisher process publishes
critical-tier updates through `dashboard.publish` (the path the watcher and Celery use), each
stamped with `sent_at`; latency is publication to client receipt. Everything stops by itself.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devstack.procfile import ROOT
from devstack.services import free_port, start_mongo, start_redis
from tests.e2e.stack import LiveStack

LOADGEN = ROOT / "bench" / "loadgen"
PASSWORD = "bench-password-not-secret-1"  # noqa: S105 (a throwaway user of a throwaway stack)
SPREAD_DEPARTMENTS = 20
CONNECT_RATE = 200
DRAIN_S = 3.0
KNEE_P99_MS = 250.0

PUBLISHER = """
import sys, time, django
django.setup()
from dashboard import publish
from dashboard.scopes import Scope
rate, seconds, departments = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3].split(",")
start = time.monotonic()
ticks = int(rate * seconds)
for tick in range(ticks):
    time.sleep(max(0.0, start + tick / rate - time.monotonic()))
    for code in departments:
        data = {"computed_at": "2030-01-01T00:00:00.000Z", "sent_at": time.time(),
                "patients": {"emergency": tick}}
        publish.publish_tier(Scope(code), "critical", data)
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


def ensure_loadgen() -> None:
    if not (LOADGEN / "node_modules" / "ws").exists():
        print("bench: installing the load generator's npm packages", flush=True)
        subprocess.run(
            [shutil.which("npm") or "npm", "ci", "--no-audit", "--no-fund", "--silent"],
            cwd=LOADGEN,
            check=True,
        )


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100.0  # utime + stime, in clock ticks of 10 ms


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class LoadGenerator:
    def __init__(self, urls: list[str], token: str, clients: int, scopes: list[str]) -> None:
        self.proc = subprocess.Popen(
            [
                shutil.which("node") or "node",
                str(LOADGEN / "fanout.js"),
                "--urls",
                ",".join(urls),
                "--token",
                token,
                "--clients",
                str(clients),
                "--scopes",
                ",".join(scopes),
                "--connect-rate",
                str(CONNECT_RATE),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def command(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def report(self) -> dict[str, Any]:
        self.command("REPORT")
        assert self.proc.stdout is not None
        return dict(json.loads(self.proc.stdout.readline()))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.command("STOP")
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


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


def run_layer(
    layer: str, layout: Layout, clients: int, rates: list[float], seconds: float
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="dash-bench-") as tmp:
        root = Path(tmp)
        redis_proc, redis_url = start_redis(root / "redis")
        mongo_proc, mongo_url = start_mongo(root / "mongo")
        stack = LiveStack(root=root / "stack", redis_url=redis_url, mongo_url=mongo_url, database_url=None)
        stack.env.update(CHANNEL_LAYER=layer, MAX_CONNECTIONS_PER_USER="100000", JWT_ACCESS_LIFETIME_S="3600")
        loadgen = None
        try:
            assert stack.manage("migrate", "--noinput").returncode == 0
            stack.create_user("bench", PASSWORD, "admin")
            created = stack.manage(
                "shell",
                "-c",
                "from dashboard.models import Department\n"
                f"for code in {layout.departments!r}: Department.objects.get_or_create(code=code, name=code)",
            )
            assert created.returncode == 0, created.stderr
            second_port = free_port()
            stack.start("web")
            stack.start("web", as_name="web2", env={"PORT": str(second_port)})
            stack.wait_for_web()
            time.sleep(2)
            urls = [stack.ws_url, f"ws://127.0.0.1:{second_port}/ws/dashboard/"]
            web_pids = [stack.processes["web"].pid, stack.processes["web2"].pid]
            scopes = [f"dept:{code}" for code in layout.departments]
            loadgen = LoadGenerator(urls, stack.access_token("bench", PASSWORD), clients, scopes)
            deadline = time.monotonic() + clients / CONNECT_RATE + 60
            while (connected := loadgen.report())["subscribed"] < clients and time.monotonic() < deadline:
                time.sleep(1)
            print(
                f"bench: {layer}, {layout.name}: {connected['subscribed']} of {clients} subscribed; "
                f"handshake-to-snapshot p50 {connected['handshake_p50_ms']} ms, "
                f"p99 {connected['handshake_p99_ms']} ms",
                flush=True,
            )
            for rate in rates:
                loadgen.command(f"PHASE rate-{rate}")
                cpu_before = [cpu_seconds(pid) for pid in web_pids]
                started = time.monotonic()
                publish(stack, rate, seconds, layout.departments)
                time.sleep(DRAIN_S)
                wall = time.monotonic() - started
                result = loadgen.report()
                expected = int(rate * seconds) * clients
                row = {
                    "layer": layer,
                    "layout": layout.name,
                    "clients": connected["subscribed"],
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
                    "handshake_p50_ms": connected["handshake_p50_ms"],
                    "handshake_p99_ms": connected["handshake_p99_ms"],
                }
                rows.append(row)
                print(format_row(row), flush=True)
        finally:
            if loadgen is not None:
                loadgen.stop()
            stack.stop()
            mongo_proc.stop()
            redis_proc.stop()
    return rows


def fmt_ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} ms"


def format_row(row: dict[str, Any]) -> str:
    return (
        f"{row['layer']:<7} {row['layout']:<15} {row['clients']:>6} {row['rate_per_s']:>5}/s "
        f"{row['deliveries_per_s']:>8}/s  lost {row['lost']:>6}  gaps {row['gaps']:>5}  "
        f"p50 {fmt_ms(row['p50_ms'])}  p99 {fmt_ms(row['p99_ms'])}  web cpu {row['web_cpu_share']}  "
        f"loadgen cpu {row['loadgen_cpu_share']}"
    )


TABLE_HEADER = (
    "| layer | layout | clients | updates/s per scope | deliveries/s | not delivered within 3 s "
    "| gaps, out of order | p50 | p99 | web CPU (each) | web RSS MiB (each) | load generator CPU |"
)


def markdown_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        TABLE_HEADER,
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: |",
    ]
    for r in rows:
        cells = [
            r["layer"],
            r["layout"],
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
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def knee(rows: list[dict[str, Any]]) -> float | None:
    ok = [
        r["rate_per_s"]
        for r in rows
        if r["lost"] == 0 and r["p99_ms"] is not None and r["p99_ms"] < KNEE_P99_MS
    ]
    return max(ok) if ok else None


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--layouts", default="one,spread")
    parser.add_argument("--rates", default="1,5,10,25,50")
    parser.add_argument("--layers", default="pubsub,core")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench" / "fanout.json")
    args = parser.parse_args(argv)
    ensure_loadgen()
    rates = [float(rate) for rate in args.rates.split(",")]
    rows = []
    for layer in args.layers.split(","):
        for layout_name in args.layouts.split(","):
            rows += run_layer(layer, LAYOUTS[layout_name], args.clients, rates, args.seconds)
    summary = {
        f"{layer} / {layout.name}": knee(
            [r for r in rows if r["layer"] == layer and r["layout"] == layout.name]
        )
        for layer in args.layers.split(",")
        for layout in (LAYOUTS[name] for name in args.layouts.split(","))
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"rows": rows, "knee_rate_per_s": summary}, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown_table(rows))
    print(markdown_table(rows))
    print("knee (highest rate with p99 under 250 ms and nothing lost):", json.dumps(summary))
    print(f"bench: results in {args.out} and {args.out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

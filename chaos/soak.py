"""`make soak`: a long run under load without faults; does anything grow? (docs/RELIABILITY.md)

    python -m chaos.soak [--minutes 30] [--clients 1000] [--speed 10] [--server daphne]

Samples every process's RSS and open descriptors, Redis's memory, keys and channel-layer
subscriptions, and the logs' error lines; at the end, alerts lost and the p99 delivery latency
of each 5-minute window. Pass: after the warm-up (the first fifth of the run, at least 1
minute) each process's RSS grows less than 10 % (or less than RSS_SLACK_MIB), Redis's keys
and subscriptions and the open descriptors stay within 10 % (+5), no error line, no alert
lost, and no 5-minute window's p99 above twice the first's. Writes var/chaos/soak.json
(`rows`: the samples) and var/chaos/soak.png.

Redis is judged by what it holds rather than by its RSS: its replay histories grow by design
until each holds HISTORY_MAX_MESSAGES (at one critical update per 5 s a scope's history fills
in about 40 minutes), so they must stay within that cap, and the memory outside them must not
grow.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from chaos import django_env
from dashboard.stream.publish import HISTORY_MAX_MESSAGES
from devstack.procfile import ROOT
from devstack.services import unwind_on_sigterm

OUT_DIR = ROOT / "var" / "chaos"
GROWTH_LIMIT = 0.10
FLAT_SLACK = 5
# Below this an RSS change is not growth (allocator arenas, imports done on first use).
RSS_SLACK_MIB = 2.0
# Below this a change of Redis's memory outside the replay histories is not growth (client
# output buffers come and go with the traffic).
REDIS_SLACK_MIB = 1.0


def warm_up_s(minutes: float) -> float:
    return max(60.0, minutes * 60 / 5)


def _grew(before: float, after: float) -> bool:
    return after > before * (1 + GROWTH_LIMIT) + FLAT_SLACK


def verdict(
    samples: list[dict[str, Any]], warm_s: float, lost: int, p99s: list[tuple[int, float, int]]
) -> list[str]:
    """Why the soak failed (empty when it passed); `samples` carry `t_s` since the start."""
    after = [s for s in samples if s["t_s"] >= warm_s]
    failures: list[str] = []
    if len(after) < 2:
        return ["too few samples after the warm-up"]
    first, last = after[0], after[-1]
    for name, rss in last["rss_mib"].items():
        base = first["rss_mib"].get(name)
        if name == "redis":
            continue  # judged by what it holds, below
        if base and rss > base * (1 + GROWTH_LIMIT) and rss - base > RSS_SLACK_MIB:
            failures.append(f"RSS of {name} grew {100 * (rss / base - 1):.0f} % ({base:.0f} → {rss:.0f} MiB)")
    for name, fds in last["fds"].items():
        base_fds = first["fds"].get(name)
        if base_fds is not None and _grew(base_fds, fds):
            failures.append(f"open descriptors of {name}: {base_fds} → {fds}")
    outside_before = (first["redis_memory"] - first["redis_history_memory"]) / 2**20
    outside_after = (last["redis_memory"] - last["redis_history_memory"]) / 2**20
    if (
        outside_after > outside_before * (1 + GROWTH_LIMIT)
        and outside_after - outside_before > REDIS_SLACK_MIB
    ):
        failures.append(
            f"Redis memory outside the replay histories grew {outside_before:.1f} → {outside_after:.1f} MiB"
        )
    longest = max(s["redis_history_longest"] for s in samples)
    if longest > HISTORY_MAX_MESSAGES:
        failures.append(f"a replay history holds {longest} messages (cap {HISTORY_MAX_MESSAGES})")
    for key in ("redis_keys", "layer_memberships"):
        if _grew(first[key], last[key]):
            failures.append(f"{key}: {first[key]} → {last[key]}")
    if last["error_lines"]:
        failures.append(f"{last['error_lines']} error lines in the logs")
    if lost:
        failures.append(f"{lost} alerts lost")
    if len(p99s) > 1 and max(p for _w, p, _n in p99s[1:]) > 2 * max(p99s[0][1], 0.05):
        failures.append(f"p99 latency rose: {[round(p, 3) for _w, p, _n in p99s]}")
    return failures


def plot(samples: list[dict[str, Any]], path: Path, title: str) -> None:
    """RSS of every process over time, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(9, 4.5))
    minutes = [s["t_s"] / 60 for s in samples]
    for name in samples[0]["rss_mib"]:
        axes.plot(minutes, [s["rss_mib"].get(name, float("nan")) for s in samples], label=name)
    axes.set_xlabel("minutes")
    axes.set_ylabel("RSS (MiB)")
    axes.set_title(title)
    axes.legend(fontsize="small", ncol=3)
    axes.grid(alpha=0.3)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=90)
    pyplot.close(figure)


def row_line(sample: dict[str, Any]) -> str:
    web = sum(v for k, v in sample["rss_mib"].items() if k.startswith("web"))
    return (
        f"| {sample['t_s'] / 60:5.1f} | {web:7.1f} | {sample['rss_mib'].get('worker', 0):7.1f} "
        f"| {sample['redis_memory'] / 2**20:6.1f} | {sample['redis_history_memory'] / 2**20:6.1f} "
        f"| {sample['redis_keys']:6d} "
        f"| {sample['layer_memberships']:5d} "
        f"| {sum(sample['fds'].values()):5d} | {sample['error_lines']:3d} | {sample['connected']:5d} |"
    )


HEADER = (
    "| min | web MiB | worker MiB | Redis MiB | histories MiB | keys | subs | fds | errors | connected |\n"
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
)


def run(minutes: float, clients: int, speed: float, server: str, out_dir: Path) -> dict[str, Any]:
    """Run the soak; returns the summary written to out_dir/soak.json."""
    from chaos import checks
    from chaos.load import Load
    from chaos.sampling import error_lines, sample
    from chaos.simulator import SimulatorThread
    from chaos.stack import ALL_DEPARTMENTS, chaos_stack

    every_s = 10.0 if minutes <= 5 else 30.0
    warm_s = warm_up_s(minutes)
    with tempfile.TemporaryDirectory(prefix="dash-soak-") as tmp, chaos_stack(Path(tmp), server) as chaos:
        db = chaos.stack.mongo()
        load = Load(clients, chaos.tokens, chaos.ws_urls, [chaos.http_url(n) for n in ("web-1", "web-2")])
        simulator = SimulatorThread(db, speed).start()
        samples: list[dict[str, Any]] = []
        print(HEADER, flush=True)
        try:
            load.start(timeout_s=300)
            # Alerts count from here: a snapshot carries no alerts, so one written before a
            # client was subscribed reaches it only through the alert list the page renders.
            started_wall = datetime.now(UTC)
            started = time.monotonic()
            while (elapsed := time.monotonic() - started) < minutes * 60:
                current = {"t_s": round(elapsed, 1), **sample(chaos)}
                current["connected"] = sum(1 for c in load.clients if c.connected)
                samples.append(current)
                print(row_line(current), flush=True)
                time.sleep(max(0.0, every_s - (time.monotonic() - started - elapsed)))
        finally:
            simulator.stop()
            stopped_wall = datetime.now(UTC)
        time.sleep(checks.FINAL_SETTLE_S)
        written, lost, _waited_s = checks.wait_for_alerts(
            db, load.clients, started_wall, stopped_wall - timedelta(seconds=1), ALL_DEPARTMENTS
        )
        lost_lines = checks.describe_lost(db, lost)
        errors = {name: lines[:5] for name, lines in error_lines(chaos).items() if lines}
        load.stop()
    p99s = load.latency.p99_by_window()
    failures = verdict(samples, warm_s, len(lost), p99s)
    summary = {
        "minutes": minutes,
        "clients": clients,
        "speed": speed,
        "server": server,
        "passed": not failures,
        "failures": failures,
        "alerts_written": len(written),
        "alerts_lost": len(lost),
        "lost": lost_lines,
        "p99_latency_s_by_5min": [{"window": w, "p99_s": round(p, 4), "messages": n} for w, p, n in p99s],
        "error_lines": errors,
        "reconnects": sum(len(c.disconnects) for c in load.clients),
        "rows": samples,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "soak.json").write_text(json.dumps(summary, indent=2) + "\n")
    plot(
        samples,
        out_dir / "soak.png",
        f"soak: {clients} clients, simulator at {speed:g} times the demo rate, {server}, {minutes:g} min",
    )
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=float(os.environ.get("SOAK_MINUTES", "30")))
    parser.add_argument("--clients", type=int, default=int(os.environ.get("SOAK_CLIENTS", "1000")))
    parser.add_argument("--speed", type=float, default=10.0)
    parser.add_argument("--server", default="daphne")
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    args = parser.parse_args(argv)
    unwind_on_sigterm()
    django_env.setup()
    summary = run(args.minutes, args.clients, args.speed, args.server, args.out)
    for window in summary["p99_latency_s_by_5min"]:
        start = datetime.fromtimestamp(window["window"], UTC)
        p99_ms = window["p99_s"] * 1000
        print(f"p99 delivery latency from {start:%H:%M}: {p99_ms:.0f} ms of {window['messages']}")
    print(f"alerts written {summary['alerts_written']}, lost {summary['alerts_lost']}")
    for line in summary["lost"]:
        print(f"    lost: {line}")
    print(f"reconnects {summary['reconnects']}")
    print("PASSED" if summary["passed"] else "FAILED: " + "; ".join(summary["failures"]), flush=True)
    return 0 if summary["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())

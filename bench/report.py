"""What a full `make bench` run says: each target of docs/BENCHMARKS.md judged per server, and the
run rendered as Markdown for var/bench/results.md and docs/BENCHMARKS.md.

`results` is bench.run's dictionary: run facts, then per server the scenarios' own results
(bench.connections, bench.fanout, bench.slow, bench.storm), then bench.inserts' comparison with
the Socket.IO peer from a MongoDB insert.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.connections import markdown as connections_markdown
from bench.fanout import fmt_ms, markdown_table
from bench.inserts import markdown as inserts_markdown
from bench.storm import LIMIT_S as storm_limit_s

# The targets (docs/BENCHMARKS.md).
CONNECTIONS = 10_000
KB_PER_CONNECTION = 50  # KB of 1,000 bytes
MIB_PER_PROCESS = 512 * 1_000_000 / 2**20  # 512 MB in MiB
HANDSHAKE_P99_MS = 100.0
FANOUT_P99_MS = 110.0
FANOUT_RATE = 10.0
FANOUT_CLIENTS = 2_000
BROADCAST_P99_MS = 500.0
SLOW_P99_RISE = 0.20
# "Memory bounded": a web process grows less than this while 5 % of its clients do not read.
SLOW_RSS_GROWTH_MIB = 64.0
STORM_CAUGHT_UP_S = 15.0
STORM_CLIENTS = 5_000
RECOMMENDED_FOR_FANOUT = "uvicorn"
# Our insert-to-client p99 over the Socket.IO peer's (issue 18): on the recommended server, elsewhere.
INSERT_P99_RATIO = {RECOMMENDED_FOR_FANOUT: 1.0, "daphne": 1.5}
# Insert-to-client p50 for a department at 1 change/s (issue 18), on every server.
QUIET_P50_MS = 50.0


@dataclass
class Verdict:
    target: str
    measured: str
    met: bool


def closes_text(closes: dict[str, int]) -> str:
    """The load generator's close codes and counts, e.g. `1006 x 978`."""
    return ", ".join(f"{code} x {count:,}" for code, count in sorted(closes.items())) or "none"


def _sized(clients: int, target_clients: int, met: bool) -> bool:
    """A reduced run (fewer clients than the target names) is reported, never judged as met."""
    return met and clients >= target_clients


def _delivered(row: dict[str, Any], clients: int, p99_bound_ms: float) -> tuple[str, bool]:
    """A rate's figures (bench.fanout.measure_rate) as text, and whether its p99 is under the
    bound with nothing lost and no gap."""
    p99 = row["p99_ms"]
    text = f"{fmt_ms(p99)} to {clients:,} clients; {row['lost']:,} not delivered, {row['gaps']} gaps"
    return text, p99 is not None and p99 < p99_bound_ms and row["lost"] == 0 and row["gaps"] == 0


def connection_verdicts(c: dict[str, Any]) -> list[Verdict]:
    held = c["subscribed"] >= CONNECTIONS and not c["closes"]
    kib = max(c["rss_kib_per_connection"])
    mib = max(c["web_rss_mib_held"])
    # Every block of 1,000, the first (a process's cold start) included; a block in which no
    # handshake reached its snapshot has no p99 and misses the target.
    block_p99s = [w["p99_ms"] for w in c["handshake_windows"]]
    handshake_p99 = None if None in block_p99s else max(block_p99s, default=None)
    broadcast, broadcast_ok = _delivered(c["broadcast"], c["subscribed"], BROADCAST_P99_MS)
    return [
        Verdict(
            f"connections held: {CONNECTIONS:,}",
            f"{c['subscribed']:,} subscribed; closed while idle: {closes_text(c['closes'])}",
            held,
        ),
        Verdict(
            f"memory: under {KB_PER_CONNECTION} KB per connection, 512 MB per process",
            f"{kib * 1.024:.0f} KB per connection; {mib:.0f} MiB per process",
            _sized(c["clients"], CONNECTIONS, kib * 1.024 < KB_PER_CONNECTION and mib < MIB_PER_PROCESS),
        ),
        Verdict(
            f"handshake-to-snapshot p99 under {HANDSHAKE_P99_MS:.0f} ms, every block of 1,000 "
            f"up to {CONNECTIONS:,}",
            f"{fmt_ms(handshake_p99)} (worst block of 1,000)",
            _sized(c["clients"], CONNECTIONS, handshake_p99 is not None and handshake_p99 < HANDSHAKE_P99_MS),
        ),
        Verdict(
            f"broadcast p99 under {BROADCAST_P99_MS:.0f} ms, {CONNECTIONS:,} clients",
            broadcast,
            _sized(c["subscribed"], CONNECTIONS, broadcast_ok),
        ),
    ]


def fanout_verdict(fanout: dict[str, Any]) -> Verdict:
    rows = [r for r in fanout["rows"] if r["layout"] == "one department" and r["rate_per_s"] == FANOUT_RATE]
    target = f"fan-out p99 under {FANOUT_P99_MS:.0f} ms, 2,000 clients x {FANOUT_RATE:g} updates/s"
    if not rows:
        return Verdict(target, "not run", False)
    r = rows[0]
    measured, ok = _delivered(r, r["clients"], FANOUT_P99_MS)
    return Verdict(target, measured, _sized(r["clients"], FANOUT_CLIENTS, ok))


def change_text(change: float | None) -> str:
    """A relative change (0.12 = 12 % more) as "+12%" or "-3%"; "no change" when it rounds to
    0 % (never "-0%"); "-" when there is nothing to compare."""
    if change is None:
        return "-"
    percent = round(change * 100)
    return "no change" if percent == 0 else f"{percent:+d}%"


def slow_verdict(s: dict[str, Any]) -> Verdict:
    base, stalled = s["baseline_healthy_p99_ms"], s["stall_healthy_p99_ms"]
    rise = None if not base or stalled is None else stalled / base - 1
    growth = max(high - low for high, low in zip(s["web_rss_mib_max"], s["web_rss_mib_min"], strict=True))
    return Verdict(
        f"slow consumers: healthy p99 within {SLOW_P99_RISE:.0%}, memory bounded",
        f"{fmt_ms(base)} → {fmt_ms(stalled)} ({change_text(rise)}) "
        f"for {s['clients']:,} clients; RSS grew {growth:.1f} MiB during the stall; "
        f"{s['healthy_gaps_during_stall']} healthy gaps",
        _sized(
            s["clients"],
            FANOUT_CLIENTS,
            rise is not None
            and rise <= SLOW_P99_RISE
            and growth < SLOW_RSS_GROWTH_MIB
            and s["healthy_gaps_during_stall"] == 0,
        ),
    )


def storm_verdict(s: dict[str, Any]) -> Verdict:
    caught_up = s["caught_up_99_s"]
    return Verdict(
        f"reconnect storm: 99 % caught up within {STORM_CAUGHT_UP_S:g} s",
        f"{'not within the limit' if caught_up is None else f'{caught_up} s'} for {s['clients']:,} "
        f"clients; {s['gaps']} gaps, {s['out_of_order']} out of order",
        _sized(
            s["clients"],
            STORM_CLIENTS,
            caught_up is not None
            and caught_up <= STORM_CAUGHT_UP_S
            and s["gaps"] == 0
            and s["out_of_order"] == 0,
        ),
    )


def comparison_verdict(server: str, compare: dict[str, Any]) -> Verdict:
    """Our insert-to-client p99 over the peer's within INSERT_P99_RATIO, nothing lost, no gap."""
    p99 = compare["p99_ratio"].get(server)
    bound = INSERT_P99_RATIO.get(server, INSERT_P99_RATIO["daphne"])
    ours = compare["ours"][server]
    met = p99 is not None and p99 <= bound and ours["lost"] == 0 and ours["gaps"] == 0
    return Verdict(
        "against Socket.IO, from a MongoDB insert",
        f"p99 ratio {p99} (≤ {bound:g}), {ours['lost']} lost, {ours['gaps']} gaps, "
        f"{ours['clients']:,} clients",
        _sized(ours["clients"], FANOUT_CLIENTS, met),
    )


def quiet_verdict(server: str, compare: dict[str, Any]) -> Verdict:
    """Our insert-to-client p50 at 1 change/s under QUIET_P50_MS, nothing lost, no gap."""
    quiet = compare["ours"][server].get("quiet")
    target = f"insert-to-client p50 under {QUIET_P50_MS:.0f} ms, 1 change/s in a department"
    if quiet is None:
        return Verdict(target, "not measured", False)
    p50 = quiet["p50_ms"]
    met = p50 is not None and p50 < QUIET_P50_MS and quiet["lost"] == 0 and quiet["gaps"] == 0
    return Verdict(
        target,
        f"{fmt_ms(p50)} (p99 {fmt_ms(quiet['p99_ms'])}), {quiet['lost']} lost, {quiet['gaps']} gaps, "
        f"{quiet['clients']:,} clients",
        _sized(quiet["clients"], FANOUT_CLIENTS, met),
    )


def verdicts(results: dict[str, Any]) -> dict[str, list[Verdict]]:
    """Each server's verdicts, in the order of the issue's targets table."""
    judged = {}
    for server, scenarios in results["servers"].items():
        found = connection_verdicts(scenarios["connections"])
        found.insert(3, fanout_verdict(scenarios["fanout"]))
        found += [slow_verdict(scenarios["slow"]), storm_verdict(scenarios["storm"])]
        if results.get("comparison"):
            found += [
                comparison_verdict(server, results["comparison"]),
                quiet_verdict(server, results["comparison"]),
            ]
        judged[server] = found
    return judged


def targets_table(results: dict[str, Any]) -> str:
    judged = verdicts(results)
    servers = list(judged)
    lines = [
        "| target | " + " | ".join(servers) + " |",
        "| --- | " + " | ".join("---" for _ in servers) + " |",
    ]
    for index, first in enumerate(judged[servers[0]]):
        cells = []
        for server in servers:
            v = judged[server][index]
            cells.append(f"{'**met**' if v.met else '**missed**'}: {v.measured}")
        lines.append(f"| {first.target} | " + " | ".join(cells) + " |")
    if results.get("comparison"):
        lines.append("")
        lines.append(
            f"Socket.IO targets, insert-to-client p99: ratio ≤ 1.0 on {RECOMMENDED_FOR_FANOUT} (the server "
            "the docs recommend for large fan-out), ≤ 1.5 on daphne; nothing lost, no gap."
        )
    return "\n".join(lines) + "\n"


def slow_markdown(s: dict[str, Any]) -> str:
    stalled = s["stalled"]
    return (
        f"- baseline (no client stalled): healthy p50 {fmt_ms(s['baseline_healthy_p50_ms'])}, "
        f"p99 {fmt_ms(s['baseline_healthy_p99_ms'])}\n"
        f"- {stalled['sockets']} clients stalled for {s['stall_seconds']:g} s: healthy p50 "
        f"{fmt_ms(s['stall_healthy_p50_ms'])}, p99 {fmt_ms(s['stall_healthy_p99_ms'])}; healthy gaps "
        f"{s['healthy_gaps_during_stall']}\n"
        f"- web RSS during the stall: {s['web_rss_mib_min']} to {s['web_rss_mib_max']} MiB\n"
        f"- what the stalled clients saw when they read again: {stalled['deliveries']:,} updates, "
        f"{stalled['gaps']} seq gaps (coalesced), closes {closes_text(stalled['closes'])}, "
        f"latency p50 {fmt_ms(stalled['latency_p50_ms'])}, p99 {fmt_ms(stalled['latency_p99_ms'])}\n"
        "- load generator CPU, baseline / stall: "
        + " / ".join(f"{share:.0%}" for share in s["loadgen_cpu_share"])
        + "\n"
    )


def _storm_after(seconds: float | None) -> str:
    return f"after {seconds} s" if seconds is not None else f"not within {storm_limit_s:.0f} s"


def storm_markdown(s: dict[str, Any]) -> str:
    return (
        f"- {s['clients']:,} clients, both web processes restarted: 99 % subscribed again "
        f"{_storm_after(s['subscribed_99_s'])}, 99 % caught up {_storm_after(s['caught_up_99_s'])}\n"
        f"- recovered by replay: {s['recovered_by_replay']:,}; fresh snapshots: {s['fresh_snapshots']:,}; "
        f"gaps {s['gaps']}, out of order {s['out_of_order']}\n"
        f"- closes seen by clients: {closes_text(s['closes'])}; "
        f"load generator CPU {s['loadgen_cpu_share']:.0%}\n"
        f"- web CPU per reconnect (both processes, from listening again to 99 % caught up, over the "
        f"clients back): {s['cpu_per_reconnect_ms']} ms (target under 3 ms)\n"
    )


def markdown(results: dict[str, Any]) -> str:
    run = results["run"]
    machine = run["machine"]
    parts = [
        f"Run of {run['date']} at commit {run['commit']}, on {machine['cores']} cores "
        f"({machine['cpu']}), {machine['memory_gib']} GiB; `make bench` took {run['minutes']} min. "
        "Every process shares the machine: two web processes, Redis, the MongoDB wire server and "
        "the load generator (its CPU is in each table).\n",
        "### Targets\n",
        targets_table(results),
    ]
    for server, scenarios in results["servers"].items():
        parts += [
            f"### {server}: connections (scenario 1)\n",
            connections_markdown(scenarios["connections"]),
            f"### {server}: fan-out (scenario 2)\n",
            markdown_table(scenarios["fanout"]["rows"]),
            "Knee (highest rate with p99 under 250 ms and nothing lost): "
            + ", ".join(
                f"{name}: {rate or '-'}/s" for name, rate in scenarios["fanout"]["knee_rate_per_s"].items()
            )
            + "\n",
            f"### {server}: slow consumers (scenario 3)\n",
            slow_markdown(scenarios["slow"]),
            f"### {server}: reconnect storm (scenario 4)\n",
            storm_markdown(scenarios["storm"]),
        ]
    if results.get("comparison"):
        parts += [
            "### Against Socket.IO, from a MongoDB insert (scenario 5)\n",
            inserts_markdown(results["comparison"]),
        ]
    return "\n".join(parts)

"""`make chaos`: every fault row under load, on daphne and on uvicorn (docs/RELIABILITY.md).

    python -m chaos.matrix [--rows 1,3,9] [--servers daphne,uvicorn] [--clients 200] [--speed 1]

One stack per server; for each row a fresh load (clients and simulator), WARM_S of load, the
fault, then: time back on live data, alerts lost, the longest unmarked-wrong window, and the
final values against a recomputation. Exit status 0 when every row passed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pymongo.errors import PyMongoError
from redis.exceptions import RedisError

from chaos import django_env, report
from devstack.services import unwind_on_sigterm

WARM_S = 10.0
BACK_LIVE_TIMEOUT_S = 90.0


def back_live_s(load: Any, since: float) -> float | None:
    """Seconds from `since` until every client is synced with a message of each scope after it."""

    def live() -> bool:
        return all(
            c.synced() and all(s.last_message_at > since for s in c.scopes.values()) for c in load.clients
        )

    try:
        load.wait_until(live, BACK_LIVE_TIMEOUT_S, "back on live data")
    except AssertionError:
        return None
    return time.monotonic() - since


def run_row(chaos: Any, row: int, clients: int, speed: float) -> dict[str, Any]:
    """One row; a row that could not run at all (the load never synced, the fault raised) is
    a failed row saying why, and the matrix goes on."""
    try:
        return _run_row(chaos, row, clients, speed)
    except (AssertionError, OSError, PyMongoError, RedisError) as exc:
        from chaos.faults import ROWS

        return {
            "row": row,
            "name": ROWS[row][0],
            "server": chaos.server,
            "passed": False,
            "alerts_lost": None,
            "back_live_s": None,
            "unmarked_wrong_s": None,
            "final_mismatches": None,
            "clients": clients,
            "speed": speed,
            "failures": [f"the row could not run: {exc.__class__.__name__}: {exc}"[:2000]],
        }


def _run_row(chaos: Any, row: int, clients: int, speed: float) -> dict[str, Any]:
    from chaos import checks
    from chaos.faults import ROWS
    from chaos.load import Load
    from chaos.simulator import SimulatorThread
    from chaos.stack import ALL_DEPARTMENTS, WEB_NAMES

    name, fault = ROWS[row]
    db = chaos.stack.mongo()
    load = Load(clients, chaos.tokens, chaos.ws_urls, [chaos.http_url(n) for n in ("web-1", "web-2")])
    simulator = SimulatorThread(db, speed, seed=row).start()
    sampler = checks.Sampler(db, load.clients)
    try:
        load.start()
        # Alerts count from here: a snapshot carries no alerts, so one written before a client
        # was subscribed reaches it only through the alert list it may fetch.
        started_wall = datetime.now(UTC)
        sampler.start()
        time.sleep(WARM_S)
        result = fault(chaos, load)
        back = back_live_s(load, result.ended_at)
        time.sleep(3.0)
        simulator.stop()
        stopped_wall = datetime.now(UTC)
        time.sleep(checks.FINAL_SETTLE_S)
        sampler.stop()
        written, lost, alert_wait_s = checks.wait_for_alerts(
            db, load.clients, started_wall, stopped_wall - timedelta(seconds=1), ALL_DEPARTMENTS
        )
        mismatches = checks.final_mismatches(db, load.clients, stopped_wall)
    finally:
        simulator.stop()
        sampler.stop()
        load.stop()
    longest = sampler.longest()
    over = sorted(
        (w for w in sampler.windows if w.seconds > checks.CRITICAL_INTERVAL_S), key=lambda w: -w.seconds
    )
    went_back = [
        f"client {c.index} {n}: {s.went_back[0]}"
        for c in load.clients
        for n, s in c.scopes.items()
        if s.went_back
    ]
    failures = list(result.failures)
    if back is None:
        failures.append(f"not every client back on live data within {BACK_LIVE_TIMEOUT_S:.0f} s")
    if lost:
        failures.append(f"{len(lost)} alerts lost: {checks.describe_lost(db, lost)[:3]}")
    if longest is not None and longest.seconds > checks.CRITICAL_INTERVAL_S:
        failures.append(
            f"unmarked-wrong window of {longest.seconds:.1f} s "
            f"(client {longest.client}, {longest.scope} {longest.described})"
        )
    if mismatches:
        failures.append(f"final values differ: {mismatches[:3]}")
    if went_back:
        failures.append(f"a tier went back in time: {went_back[:3]}")
    round_s = sampler.round_s()
    return {
        "row": row,
        "name": name,
        "server": chaos.server,
        "passed": not failures,
        "alerts_lost": len(lost),
        "alert_deliveries_missing": sum(lost.values()),
        "alerts_written": len(written),
        "alert_wait_s": round(alert_wait_s, 1),
        "back_live_s": None if back is None else round(back, 2),
        "unmarked_wrong_s": round(longest.seconds, 1) if longest else 0.0,
        "final_mismatches": len(mismatches),
        "clients": clients,
        "speed": speed,
        "samples": sampler.samples,
        "sample_round_s": None if round_s is None else round(round_s, 2),
        "samples_without_truth": sampler.unanswered,
        "reconnects": sum(len(c.disconnects) for c in load.clients),
        "not_recovered": sum(c.not_recovered for c in load.clients),
        "simulator_failed_steps": simulator.failed_steps,
        "notes": result.notes,
        # When clients were told of a source down and of its return, from the end of the fault.
        "statuses": checks.status_times(load.clients, result.ended_at),
        # Every unmarked-wrong window over the limit, longest first: whose, on which web process,
        # and when it began, in seconds from the end of the fault (negative: before it ended).
        "unmarked_wrong_over": [
            f"client {w.client} ({WEB_NAMES[load.clients[w.client].home]}) {w.scope} {w.seconds:.1f} s "
            f"from {w.started - result.ended_at:+.1f} s, {w.described}"
            for w in over[:20]
        ],
        "lost": checks.describe_lost(db, lost),
        "mismatches": mismatches[:10],
        "failures": failures,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="", help="comma-separated rows (default: every built row)")
    parser.add_argument("--servers", default="daphne,uvicorn")
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--speed", type=float, default=1.0, help="the simulator's rate, times the demo's")
    parser.add_argument("--out", type=Path, default=report.RESULTS)
    args = parser.parse_args(argv)
    unwind_on_sigterm()
    django_env.setup()
    from chaos.faults import ROWS
    from chaos.stack import chaos_stack

    rows = [int(r) for r in args.rows.split(",") if r] or sorted(ROWS)
    unknown = [r for r in rows if r not in ROWS]
    if unknown:
        parser.error(f"no such rows: {unknown} (rows are {sorted(ROWS)})")
    results: list[dict[str, Any]] = []
    print(report.header(), flush=True)
    for server in args.servers.split(","):
        with (
            tempfile.TemporaryDirectory(prefix="dash-chaos-") as tmp,
            chaos_stack(Path(tmp), server) as chaos,
        ):
            for row in rows:
                print(f"… row {row} on {server}: {ROWS[row][0]}", file=sys.stderr, flush=True)
                results.append(run_row(chaos, row, args.clients, args.speed))
                print(report.line(results[-1]), flush=True)
                for failure in results[-1]["failures"]:
                    print(f"    failed: {failure}", file=sys.stderr, flush=True)
                if not results[-1]["passed"]:
                    kept = report.keep_logs(results[-1], chaos.log_lines())
                    print(f"    logs of every process: {kept}", file=sys.stderr, flush=True)
                report.write(results, args.out)
    return 0 if all(r["passed"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())

"""Metrics benchmark: time each tier for one department and for the hospital at 10,000 and 100,000 patients.

    python -m bench.metrics [--patients 10000,100000] [--rebuild-up-to 100000]
                            [--out var/bench/metrics.json]

Seeds its own MongoDB wire server with a hospital in the demo's proportions per patient
(rooms 0.15, appointments 2, staff 0.125, bills 1.5, alerts 0.2), most of it history: 98 % of
patients discharged over the last two years, appointments and bills spread over the same time.
Then runs `ensure_indexes` and times `compute_tier` for ER and for `hospital` (the full
recomputation from MongoDB, which the drift check and the tiers without maintained counters
do), the rebuild of the maintained counters (once per watcher activation), the critical tier
read from the maintained counters, and the cost per change event: what the watcher does for
one uncoalesced change, its contribution applied to the counters and ER's and the hospital's
critical tiers published from them, over a mix of admissions, discharges, transfers, boarding
starts and ends, and room cleanings (the patient-flow keys of contract §8), with the MongoDB
commands each event sent counted (a read per event would mean the critical tier is no longer
maintained). The patient-flow parts of the tiers are also timed on their own: boarding
recomputed from MongoDB, the standard tier's flow, and the historical tier's outlook.
Progress is printed as it goes; everything stops by itself.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import zoneinfo
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bson import ObjectId
from pymongo import monitoring

from devstack.procfile import ROOT
from devstack.services import start_mongo, start_redis, unwind_on_sigterm

PER_PATIENT = {"rooms": 0.15, "appointments": 2.0, "staff": 0.125, "billing": 1.5, "alerts": 0.2}
CODES = ("ER", "ICU", "CARD", "ONC", "PED", "ORTH", "NEURO", "MAT", "SURG", "RAD")
HISTORY_DAYS = 730
BATCH = 10_000
EVENTS = 2_000
# nx-27017 serves a long scan more and more slowly (16,000 documents/s over the 497,500 of
# 100,000 patients; about 3,000/s on average over the first 1,490,000 of 1,000,000 patients),
# so a rebuild from five million documents would take most of an hour; it is timed up to this.
REBUILD_UP_TO = 100_000


def documents(collection: str, count: int, rng: random.Random, now: datetime) -> Any:
    past = lambda: now - timedelta(seconds=rng.randint(0, HISTORY_DAYS * 86400))  # noqa: E731
    for _ in range(count):
        code = rng.choice(CODES)
        if collection == "patients":
            active = rng.random() < 0.02
            admitted = past()
            status = rng.choice(["admitted", "outpatient"]) if active else "discharged"
            boarding = status == "admitted" and rng.random() < 0.2
            yield {
                "department": code,
                "status": status,
                "is_emergency": rng.random() < 0.1,
                "admitted_at": admitted,
                "discharged_at": None if active else min(now, admitted + timedelta(days=rng.randint(0, 10))),
                "boarding_since": now - timedelta(minutes=rng.randint(0, 600)) if boarding else None,
                "disposition": None if active else rng.choice(["home", "home", "home", "lwbs"]),
            }
        elif collection == "rooms":
            status = rng.choice(["available", "occupied", "occupied", "cleaning", "maintenance"])
            beds = rng.randint(1, 4)
            yield {
                "department": code,
                "status": status,
                "beds": beds,
                "occupied_beds": rng.randint(0, beds) if status == "occupied" else 0,
                "status_changed_at": now - timedelta(minutes=rng.randint(0, 600)),
            }
        elif collection == "appointments":
            yield {
                "department": code,
                "scheduled_at": past(),
                "status": rng.choice(["completed", "completed", "cancelled", "no_show", "scheduled"]),
            }
        elif collection == "staff":
            yield {
                "department": code,
                "role": "nurse",
                "on_duty": rng.random() < 0.3,
                "last_active_at": past(),
            }
        elif collection == "billing":
            yield {
                "department": code,
                "amount": float(rng.randint(20, 2000)),
                "status": rng.choice(["paid", "paid", "pending", "refunded"]),
                "paid_at": past(),
            }
        else:
            yield {
                "department": code,
                "severity": rng.choice(["critical", "warning", "info"]),
                "kind": "bench",
                "message": "bench",
                "created_at": past(),
                "acknowledged_at": past(),
                "acknowledged_by": "bench",
            }


def seed(db: Any, patients: int, rng: random.Random, now: datetime) -> dict[str, int]:
    counts = {"patients": patients, **{name: int(patients * share) for name, share in PER_PATIENT.items()}}
    for collection, count in counts.items():
        started = time.monotonic()
        batch: list[dict[str, Any]] = []
        for doc in documents(collection, count, rng, now):
            batch.append(doc)
            if len(batch) == BATCH:
                db[collection].insert_many(batch, ordered=False)
                batch = []
        if batch:
            db[collection].insert_many(batch, ordered=False)
        print(f"bench: seeded {count:,} {collection} in {time.monotonic() - started:.1f} s", flush=True)
    return counts


# (collection, document id, document before, document after)
Event = tuple[str, Any, dict[str, Any] | None, dict[str, Any]]


def change_events(db: Any, rng: random.Random, now: datetime) -> list[Event]:
    """Admissions, discharges and transfers of ER, boarding starts and ends, and room cleanings."""
    current = [doc for doc in db.patients.find({"department": "ER", "status": "admitted"}).limit(EVENTS)]
    rooms = [doc for doc in db.rooms.find({"department": "ER"}).limit(EVENTS)]
    events: list[Event] = []
    for index in range(EVENTS):
        kind = index % 5
        at = now + timedelta(seconds=index)
        if kind == 0 or not current:
            doc = {"_id": ObjectId(), "department": "ER", "status": "admitted", "is_emergency": True}
            events.append(("patients", doc["_id"], None, {**doc, "admitted_at": now, "discharged_at": None}))
        elif kind == 1:
            doc = rng.choice(current)
            events.append(
                ("patients", doc["_id"], doc, {**doc, "status": "discharged", "discharged_at": now})
            )
        elif kind == 2:
            doc = rng.choice(current)
            events.append(("patients", doc["_id"], doc, {**doc, "department": rng.choice(CODES)}))
        elif kind == 3:
            doc = rng.choice(current)
            boarding = None if doc.get("boarding_since") else at
            events.append(("patients", doc["_id"], doc, {**doc, "boarding_since": boarding}))
        else:
            room = rng.choice(rooms)
            status = "available" if room["status"] == "cleaning" else "cleaning"
            after = {**room, "status": status, "occupied_beds": 0, "status_changed_at": at}
            events.append(("rooms", room["_id"], room, after))
            room.update(after)
    return events


class CommandCounter(monitoring.CommandListener):
    """Counts the MongoDB commands sent, by name, while `counting` is set."""

    def __init__(self) -> None:
        self.counting = False
        self.commands: Counter[str] = Counter()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if self.counting:
            self.commands[event.command_name] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


COMMANDS = CommandCounter()
READS = ("find", "aggregate", "count", "distinct", "getMore")


def per_event_ms(db: Any, rng: random.Random) -> dict[str, float]:
    """The watcher's work for each change event, uncoalesced: p50, p99 and mean in ms, and the
    MongoDB reads and writes sent per event (writes: threshold alerts raised on crossings).

    The documents the events change are remembered first, untimed, as a rebuild would have
    left them, so each timed event replaces a real contribution.
    """
    from django.conf import settings

    from dashboard.metrics import maintained
    from dashboard.metrics.contributions import contribution
    from dashboard.sources.documents import check
    from dashboard.watcher import actions
    from dashboard.watcher.events import Change

    tz = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    events = change_events(db, rng, datetime.now(UTC))
    for collection, document_id, before, _after in events:
        if before is not None:
            maintained.apply(collection, document_id, contribution(collection, check(collection, before), tz))
    timings = []
    COMMANDS.commands.clear()
    COMMANDS.counting = True
    for collection, document_id, _before, after in events:
        started = time.perf_counter()
        at = after.get("status_changed_at") if collection == "rooms" else None
        dirty = actions.maintain(Change(collection, "update", document_id, after, None), tz, at)
        actions.publish_critical(dirty)
        timings.append((time.perf_counter() - started) * 1000)
    COMMANDS.counting = False
    timings.sort()
    reads = sum(COMMANDS.commands[name] for name in READS)
    return {
        "p50": round(timings[len(timings) // 2], 2),
        "p99": round(timings[int(len(timings) * 0.99)], 2),
        "mean": round(sum(timings) / len(timings), 2),
        "mongo_reads_per_event": round(reads / len(events), 4),
        "mongo_writes_per_event": round(COMMANDS.commands["insert"] / len(events), 4),
    }


def flow_parts_s(db: Any) -> dict[str, float]:
    """Seconds of the patient-flow parts of each tier, for ER and the hospital."""
    from django.conf import settings

    from dashboard.metrics import flow, outlook
    from dashboard.metrics.critical import beds_occupied

    tz = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    now = datetime.now(UTC)
    parts = {
        "boarding recomputed": lambda department: flow.boarding_times(db, department),
        "standard flow": lambda department: flow.standard_flow(db, department, now=now, tz=tz),
        "outlook": lambda department: outlook.outlook(
            db, department, beds_occupied(db, department), now=now, tz=tz
        ),
    }
    seconds = {}
    for name, part in parts.items():
        for department in ("ER", None):
            started = time.perf_counter()
            part(department)
            seconds[f"{name} {'dept:ER' if department else 'hospital'}"] = round(
                time.perf_counter() - started, 3
            )
    return seconds


def measure(patients: int, rebuild_up_to: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="dash-bench-metrics-") as tmp:
        root = Path(tmp)
        redis_proc, redis_url = start_redis(root / "redis")
        mongo_proc, mongo_url = start_mongo(root / "mongo")
        os.environ.update(
            DASH_ENV="test",
            REDIS_URL=redis_url,
            MONGO_URL=mongo_url,
            DASH_TEST_TMP=tmp,
            MONGO_DB=f"bench_{patients}",
            DJANGO_SETTINGS_MODULE="hospital_dash.settings",
        )
        monitoring.register(COMMANDS)
        try:
            import django

            django.setup()
            from django.conf import settings
            from django.core.management import call_command

            from dashboard.metrics import maintained
            from dashboard.metrics.runner import compute_tier, maintained_critical
            from dashboard.protocol.scopes import HOSPITAL_SCOPE, Scope
            from dashboard.sources import mongo

            mongo.client.cache_clear()
            db = mongo.primary_db()
            counts = seed(db, patients, random.Random(patients), datetime.now(UTC))
            call_command("ensure_indexes", stdout=io.StringIO())
            result: dict[str, Any] = {"patients": patients, "documents": counts, "seconds": {}}
            for tier in ("critical", "standard", "historical"):
                for scope in (Scope("ER"), HOSPITAL_SCOPE):
                    started = time.perf_counter()
                    compute_tier(scope, tier)
                    seconds = time.perf_counter() - started
                    result["seconds"][f"{tier} {scope}"] = round(seconds, 3)
                    print(f"bench: {patients:,} patients: {tier} of {scope} in {seconds:.3f} s", flush=True)
            result["flow_seconds"] = flow_parts_s(db)
            print(f"bench: {patients:,} patients: patient-flow parts {result['flow_seconds']} s", flush=True)
            result["per_change_event_ms"] = per_event_ms(db, random.Random(patients))
            print(
                f"bench: {patients:,} patients: per change event {result['per_change_event_ms']} ms",
                flush=True,
            )
            result["rebuild_s"] = None
            if patients <= rebuild_up_to:
                started = time.perf_counter()
                remembered = maintained.rebuild(db, zoneinfo.ZoneInfo(settings.TIME_ZONE))
                result["rebuild_s"] = round(time.perf_counter() - started, 3)
                print(f"bench: rebuilt the counters from {remembered:,} documents in {result['rebuild_s']} s")
            for scope in (Scope("ER"), HOSPITAL_SCOPE):
                started = time.perf_counter()
                maintained_critical(scope)
                result["seconds"][f"critical {scope} maintained"] = round(time.perf_counter() - started, 4)
            return result
        finally:
            mongo_proc.stop()
            redis_proc.stop()


def markdown(results: list[dict[str, Any]]) -> str:
    keys = [key for key in results[0]["seconds"] if not key.endswith("maintained")]
    header = "| patients | documents | " + " | ".join(keys) + " | rebuild of the counters |"
    lines = [header, "|" + " ---: |" * (len(keys) + 3)]
    for result in results:
        cells = [f"{result['patients']:,}", f"{sum(result['documents'].values()):,}"]
        cells += [f"{result['seconds'][key]:.2f} s" for key in keys]
        rebuild = result["rebuild_s"]
        cells.append("not measured" if rebuild is None else f"{rebuild:.1f} s")
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "| patients | critical dept:ER, maintained | critical hospital, maintained "
        "| per change event p50 | p99 | mean | MongoDB reads per event | writes per event |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for result in results:
        seconds, event = result["seconds"], result["per_change_event_ms"]
        lines.append(
            f"| {result['patients']:,} | {seconds['critical dept:ER maintained'] * 1000:.1f} ms "
            f"| {seconds['critical hospital maintained'] * 1000:.1f} ms "
            f"| {event['p50']:.2f} ms | {event['p99']:.2f} ms | {event['mean']:.2f} ms "
            f"| {event['mongo_reads_per_event']:g} | {event['mongo_writes_per_event']:g} |"
        )
    flow_keys = list(results[0]["flow_seconds"])
    lines += ["", "| patients | " + " | ".join(flow_keys) + " |", "|" + " ---: |" * (len(flow_keys) + 1)]
    for result in results:
        cells = [f"{result['flow_seconds'][key]:.3f} s" for key in flow_keys]
        lines.append(f"| {result['patients']:,} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--patients", default="10000,100000")
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench" / "metrics.json")
    parser.add_argument(
        "--rebuild-up-to",
        type=int,
        default=REBUILD_UP_TO,
        help="time the counters' full rebuild only up to this many patients (default %(default)s)",
    )
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # one size, in a process of its own
    args = parser.parse_args(argv)
    # A terminated run still stops its Redis and MongoDB wire server (the finally clauses).
    unwind_on_sigterm()
    if args.one:
        print("RESULT " + json.dumps(measure(args.one, args.rebuild_up_to)), flush=True)
        return 0
    results = []
    for patients in args.patients.split(","):
        # Each size in its own process: Django's settings are read once per process.
        with subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.metrics",
                "--one",
                patients,
                "--rebuild-up-to",
                str(args.rebuild_up_to),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        ) as child:
            assert child.stdout is not None
            for line in child.stdout:
                if line.startswith("RESULT "):
                    results.append(json.loads(line[len("RESULT ") :]))
                else:
                    print(line, end="", flush=True)
        if child.returncode != 0:
            print(f"bench: the run with {patients} patients failed", flush=True)
            return child.returncode
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2) + "\n")
        args.out.with_suffix(".md").write_text(markdown(results))
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

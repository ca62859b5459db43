"""The Socket.IO peer's change-stream reader: one message per change, on stdout.

    python -m bench.change_reader --mongo mongodb://127.0.0.1:40017/?directConnection=true \
        [--database hospital] [--department ER]

Follows the `patients` collection's change stream with pymongo (the Node MongoDB driver cannot
read nx-27017's change streams: docs/MONGODB_COMPATIBILITY.md) and, for every inserted emergency
admission of the department, prints at once one JSON line for bench/peers/socketio/relay.js:
`{"scope": "dept:<code>", "tier": "critical", "epoch": "peer", "seq": n, "data": {"patients":
{"emergency": count}, "computed_at": ...}}`, `count` kept in memory from the events. Like our
watcher, an empty poll that nx-27017 answers at once waits out
dashboard.sources.mongo_compat.EMPTY_POLL_FLOOR_S, so neither side spins. Runs until killed.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from datetime import UTC, datetime
from typing import Any

from pymongo import MongoClient

from dashboard.sources.mongo_compat import wait_out_early_empty_poll


def counts_as_emergency(event: dict[str, Any], department: str) -> bool:
    """True for the insert of an admitted emergency patient of `department`."""
    document = event.get("fullDocument")
    return (
        event.get("operationType") == "insert"
        and isinstance(document, dict)
        and document.get("department") == department
        and document.get("is_emergency") is True
    )


def follow(mongo_url: str, database: str, department: str) -> None:
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_url)
    scope = f"dept:{department}"
    count = seq = 0
    never = threading.Event()
    with client[database].patients.watch(max_await_time_ms=200) as stream:
        print("reader: stream open", file=sys.stderr, flush=True)
        while True:
            asked_at = time.monotonic()
            event = stream.try_next()
            if event is None:
                wait_out_early_empty_poll(time.monotonic() - asked_at, never)
                continue
            if not counts_as_emergency(event, department):
                continue
            count += 1
            seq += 1
            data = {"patients": {"emergency": count}, "computed_at": datetime.now(UTC).isoformat()}
            line = {"scope": scope, "tier": "critical", "epoch": "peer", "seq": seq, "data": data}
            sys.stdout.write(json.dumps(line) + "\n")
            sys.stdout.flush()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mongo", required=True)
    parser.add_argument("--database", default="hospital")
    parser.add_argument("--department", default="ER")
    args = parser.parse_args(argv)
    follow(args.mongo, args.database, args.department)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

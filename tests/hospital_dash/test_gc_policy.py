"""The web process's garbage-collection policy, in a process of its own (it changes global state)."""

from __future__ import annotations

import subprocess
import sys

from devstack.procfile import ROOT

CHECK = """
import gc, time, weakref
from hospital_dash import gc_policy

gc_policy.settle(every_s=0.5)
assert gc.get_freeze_count() > 0, "what the application loaded was not frozen"
young, middle, old = gc.get_threshold()
assert old >= 2**31 - 1, f"automatic full collections still come due: {gc.get_threshold()}"

class Connection:
    pass

collected = []
for _ in range(3):
    # A connection that lived a while (its cycle reached the oldest generation), then closed.
    connection = Connection()
    connection.self = connection
    weakref.finalize(connection, collected.append, 1)
    gc.collect(1)
    gc.collect(1)
    del connection
for _ in range(200_000):
    [[]]  # churn: young collections run, none of them full
assert not collected, "a young collection freed the old cycle; the check proves nothing"
deadline = time.monotonic() + 5
while len(collected) < 3 and time.monotonic() < deadline:
    time.sleep(0.1)
assert len(collected) == 3, f"the timed full collection freed {len(collected)} of 3 old cycles"
print("ok")
"""


def test_full_collections_run_on_the_clock_and_free_old_cycles() -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHECK], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"

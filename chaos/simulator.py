"""The demo simulator (devstack/simulate.py) in a thread, at the demo's rate or a multiple of it.

The demo steps once a second; at `speed` 10 it steps every 0.1 s, ten hospital-seconds of
writes per second. MongoDB errors (a fault stopped it) are counted and the step is retried
on the next tick, as the hospital's own application would keep trying.
"""

from __future__ import annotations

import random
import threading

from pymongo.database import Database
from pymongo.errors import PyMongoError

from devstack.simulate import STEP_S, HospitalSimulator


class SimulatorThread:
    """Steps a HospitalSimulator every STEP_S / speed seconds until `stop()`."""

    def __init__(self, db: Database, speed: float, seed: int = 15) -> None:
        self.simulator = HospitalSimulator(db, rng=random.Random(seed))
        self.interval_s = STEP_S / speed
        self.steps = 0
        self.failed_steps = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="simulator", daemon=True)

    def start(self) -> SimulatorThread:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.simulator.step()
                self.steps += 1
            except PyMongoError:
                self.failed_steps += 1

    def stop(self) -> None:
        """Stop stepping (idempotent)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(30)

"""Where a web process's CPU goes, by stage: py-spy's samples of it grouped by what they were doing.

    profile = StageProfile.start(pid, seconds=60, out=Path("var/bench/storm-daphne-web.txt"))
    ...
    shares = profile.stop()  # {"handshake: user, access, connection slot": 0.29, ...}

py-spy (a sampling profiler, requirements-dev.txt) records every thread of the process at
RATE_HZ without stopping it (`--nonblocking`), idle threads left out, and writes one line per
distinct stack with its sample count (`--format raw`). Each stack is given to the first stage
in STAGES one of whose markers occurs in it (a marker is part of a frame: a function name with
its file), so a snapshot read under Channels' consumer counts as the snapshot, not as Channels.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

RATE_HZ = 100
OTHER = "other"
# Stage name → markers, most specific first.
STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("handshake: user, access, connection slot", ("open_connection (",)),
    ("snapshot reads", ("snapshot_message (",)),
    ("replay reads", ("replay (dashboard/stream/publish.py",)),
    ("access log", ("dashboard/access/audit.py",)),
    ("source health checks", ("dashboard/sources/health.py",)),
    ("per-second ticker (leases, heartbeats)", ("dashboard/realtime/ticker.py",)),
    ("hub fan-out", ("dashboard/realtime/hub.py",)),
    ("outbox and frame writes", ("dashboard/realtime/outbox.py", "sendMessage (", "send_frame (")),
    ("consumer code (connect, subscribe, messages)", ("dashboard/realtime/consumer.py",)),
    ("channel layer (Redis pub/sub)", ("channels_redis/",)),
    ("Channels and asgiref (routing, consumer machinery, sync bridges)", ("channels/", "asgiref/")),
    (
        "the web server (HTTP upgrade, WebSocket protocol, sockets)",
        ("daphne/", "twisted/", "autobahn/", "uvicorn/", "websockets/", "h11/", "httptools/"),
    ),
    ("Django (settings, middleware, ORM)", ("django/",)),
    ("event loop", ("asyncio/", "uvloop/")),
)


# Leaf frames of threads that wait without py-spy seeing them idle (a thread-pool worker blocked on
# its queue in C): not CPU, left out of the shares.
IDLE_LEAVES = ("_worker (concurrent/futures/thread.py:",)
IDLE = "idle"


def stage_of(stack: str) -> str:
    """The stage of one py-spy stack (frames joined by `;`), IDLE or OTHER."""
    if stack.rpartition(";")[2].startswith(IDLE_LEAVES):
        return IDLE
    for name, markers in STAGES:
        if any(marker in stack for marker in markers):
            return name
    return OTHER


def shares(raw: str) -> dict[str, float]:
    """Each stage's share of the busy samples (0-1) in py-spy's raw output (`stack count` lines),
    largest first; empty when there are none."""
    counts: dict[str, int] = {}
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit() and (stage := stage_of(stack)) != IDLE:
            counts[stage] = counts.get(stage, 0) + int(count)
    total = sum(counts.values())
    ordered = sorted(counts.items(), key=lambda item: -item[1])
    return {stage: round(count / total, 3) for stage, count in ordered} if total else {}


@dataclass
class StageProfile:
    process: subprocess.Popen[bytes]
    out: Path

    @classmethod
    def start(cls, pid: int, seconds: float, out: Path) -> StageProfile:
        """Start recording `pid` for at most `seconds`; raises FileNotFoundError without py-spy."""
        binary = shutil.which("py-spy", path=str(Path(sys.executable).parent))
        if binary is None:
            raise FileNotFoundError("py-spy is not installed (make bootstrap installs it)")
        out.parent.mkdir(parents=True, exist_ok=True)
        command = [binary, "record", "--nonblocking", "--format", "raw", "--rate", str(RATE_HZ)]
        command += ["--duration", str(max(1, round(seconds))), "--output", str(out), "--pid", str(pid)]
        return cls(subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE), out)

    def stop(self) -> dict[str, float]:
        """End the recording (py-spy writes what it has on SIGINT) and return the stage shares."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        _, errors = self.process.communicate(timeout=60)
        if not self.out.exists():
            raise RuntimeError(f"py-spy wrote no profile: {errors.decode(errors='replace')[-500:]}")
        return shares(self.out.read_text())

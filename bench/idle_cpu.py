"""Idle CPU of every process of the demo, simulator on and no client connected.

    python -m bench.idle_cpu [--seconds 60] [--settle 15] [--attach DEMO_PID]

Starts `python -m devstack.demo` with its data in a temporary directory (DEMO_DIR), its web
process on a free port (DEMO_PORT) and its own embedded Redis and nx-27017 on free ports, waits
until the watcher has its six change streams open and `--settle` seconds more, then reads each
process's utime + stime from /proc at the start and the end of `--seconds` and prints one row
per process (a process's children, such as Celery's pool, count with it). The demo process
itself runs the simulator; honcho, which runs the Procfile's processes for it, has a row of
its own (with its helper processes that relay their output). It then stops the demo, which
stops everything it started, and checks that nothing is left. `--attach` measures a demo
already running instead, and stops nothing. The machine line gives the CPU all processes of
the machine used meanwhile, so a run on a shared machine says how shared it was.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.common import cpu_seconds
from devstack.procfile import ROOT
from devstack.services import free_port, unwind_on_sigterm

READY_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 30.0
READY_LINE = "6 of 6 change streams open"
DEMO_ROLE = "demo + simulator"
HONCHO_ROLE = "honcho"
HONCHO_WORD = "-m honcho start"
# Each demo process, by a word of its command line; the demo process itself runs the simulator.
ROLES = (
    (HONCHO_ROLE, HONCHO_WORD),
    ("web", "hospital_dash.web"),
    ("worker", " worker "),
    ("beat", " beat "),
    ("watcher", "watch_changes"),
    ("Redis", "redis-server"),
    ("nx-27017", "nx-27017"),
)


@dataclass(frozen=True)
class Row:
    role: str
    pids: tuple[int, ...]
    cpu_s: float
    seconds: float

    @property
    def share(self) -> float:
        """Fraction of one core."""
        return self.cpu_s / self.seconds


def _stat_fields(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def children_of() -> dict[int, list[int]]:
    """Every live process's children, from /proc."""
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int(_stat_fields(int(entry.name))[1])
        except (OSError, IndexError, ValueError):
            continue
        tree.setdefault(parent, []).append(int(entry.name))
    return tree


def descendants(pid: int, tree: dict[int, list[int]]) -> list[int]:
    found = [pid]
    for child in tree.get(pid, []):
        found.extend(descendants(child, tree))
    return found


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def roles(demo_pid: int) -> dict[str, int]:
    """The demo's processes by role: the demo (and its simulator), and the top-most descendant
    whose command line has each role's word (the Procfile's processes run under honcho)."""
    found = {DEMO_ROLE: demo_pid}
    tree = children_of()
    for member in descendants(demo_pid, tree)[1:]:
        line = f" {command_line(member)} "
        for role, word in ROLES:
            if word in line and role not in found:
                found[role] = member
    return found


def honcho_tree(honcho_pid: int, tree: dict[int, list[int]]) -> dict[int, list[int]]:
    """honcho and its helper processes only: the Procfile's processes have rows of their own."""
    helpers = [child for child in tree.get(honcho_pid, []) if HONCHO_WORD in command_line(child)]
    return {honcho_pid: helpers}


def tree_cpu(pid: int, tree: dict[int, list[int]]) -> tuple[float, tuple[int, ...]]:
    """utime + stime of `pid` and its descendants in `tree` that are alive now, in seconds."""
    total = 0.0
    alive = []
    for member in descendants(pid, tree):
        try:
            total += cpu_seconds(member)
            alive.append(member)
        except OSError:
            continue
    return total, tuple(alive)


def machine_busy_s() -> float:
    """CPU seconds every process of the machine has used since boot (all but idle and iowait)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    ticks = os.sysconf("SC_CLK_TCK")
    return (sum(fields[:8]) - fields[3] - fields[4]) / ticks


def sample(demo_pid: int, seconds: float) -> tuple[list[Row], float]:
    """CPU of each of the demo's processes over `seconds`, and the machine's own, in cores."""
    by_role = roles(demo_pid)
    missing = [role for role, _ in ROLES if role not in by_role]
    if missing:
        raise RuntimeError(f"no demo process found for {', '.join(missing)}")

    def trees() -> dict[str, dict[int, list[int]]]:
        # The demo process counts alone and honcho with its helpers: their other descendants
        # have rows of their own.
        tree = children_of()
        special = {DEMO_ROLE: {}, HONCHO_ROLE: honcho_tree(by_role[HONCHO_ROLE], tree)}
        return {role: special.get(role, tree) for role in by_role}

    before = trees()
    first = {role: tree_cpu(pid, before[role])[0] for role, pid in by_role.items()}
    machine_first, started = machine_busy_s(), time.monotonic()
    time.sleep(seconds)
    after = trees()
    elapsed = time.monotonic() - started
    machine = (machine_busy_s() - machine_first) / elapsed
    rows = []
    for role, pid in by_role.items():
        cpu, pids = tree_cpu(pid, after[role])
        rows.append(Row(role, pids, cpu - first[role], elapsed))
    return rows, machine


def table(rows: list[Row], machine: float) -> str:
    total_s, total_share = sum(r.cpu_s for r in rows), sum(r.share for r in rows)
    lines = [
        "| process | pids | CPU s | share of one core |",
        "| --- | --- | ---: | ---: |",
        *(
            f"| {row.role} | {', '.join(map(str, row.pids))} | {row.cpu_s:.1f} | {100 * row.share:.0f} % |"
            for row in rows
        ),
        f"| all of the demo | | {total_s:.1f} | {100 * total_share:.0f} % |",
    ]
    cores = os.cpu_count() or 1
    lines.append(
        f"\nover {rows[0].seconds:.0f} s; the whole machine ({cores} cores) used {machine:.2f} cores "
        f"meanwhile, load average {os.getloadavg()[0]:.2f}"
    )
    return "\n".join(lines)


def wait_ready(demo: subprocess.Popen[bytes], processes_log: Path) -> None:
    """Until the watcher's ready line is in the log honcho writes for the demo's processes."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if demo.poll() is not None:
            raise RuntimeError(f"the demo exited with {demo.returncode}")
        if processes_log.exists() and READY_LINE in processes_log.read_text(errors="replace"):
            return
        time.sleep(0.5)
    raise RuntimeError(f"the watcher did not log {READY_LINE!r} within {READY_TIMEOUT_S:.0f} s")


def stop_demo(demo: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the demo, which stops what it started; then make sure its group is gone."""
    if demo.poll() is None:
        demo.send_signal(signal.SIGTERM)
        try:
            demo.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait(STOP_TIMEOUT_S)


def measure_new_demo(seconds: float, settle: float) -> str:
    with tempfile.TemporaryDirectory(prefix="dash-idle-cpu-") as tmp:
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in {"REDIS_URL", "MONGO_URL", "DATABASE_URL"}
        }
        env.update(DEMO_DIR=tmp, DEMO_PORT=str(free_port()))
        log = Path(tmp) / "demo.log"
        with log.open("wb") as out:
            demo = subprocess.Popen(
                [sys.executable, "-m", "devstack.demo"],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        pids: tuple[int, ...] = ()
        try:
            wait_ready(demo, Path(tmp) / "logs" / "processes.log")
            time.sleep(settle)
            rows, machine = sample(demo.pid, seconds)
            pids = tuple(pid for row in rows for pid in row.pids)
            return table(rows, machine)
        except RuntimeError:
            print(log.read_text(errors="replace")[-4000:], file=sys.stderr)
            raise
        finally:
            stop_demo(demo)
            left = [pid for pid in pids if Path(f"/proc/{pid}").exists()]
            if left:
                raise RuntimeError(f"processes left behind: {left}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to sample")
    parser.add_argument("--settle", type=float, default=15.0, help="wait after the streams open")
    parser.add_argument("--attach", type=int, help="pid of a running `python -m devstack.demo`")
    args = parser.parse_args(argv)
    unwind_on_sigterm()
    if args.attach:
        rows, machine = sample(args.attach, args.seconds)
        print(table(rows, machine))
    else:
        print(measure_new_demo(args.seconds, args.settle))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

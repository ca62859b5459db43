"""The stack under test: our own Redis and MongoDB wire server, so faults can stop, freeze and
restart them, and the Procfile's processes twice over where the service runs them twice
(two web processes, two watchers), plus one Celery worker and beat. web-2 reaches Redis through
a proxy that row 11 cuts (chaos/partition.py); every other process reaches it directly.

Users: one admin, one viewer and three department users (ER; ICU; CARD and PED), each allowed
as many connections as the load needs, and a second admin for row 10's second tab.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings

from chaos.partition import Partition
from dashboard.sources import redis_store
from devstack.hospital_model import DEPARTMENTS
from devstack.seed import seed_hospital
from devstack.services import ManagedProcess, free_port, start_mongo, start_redis
from tests.support.live_stack import LiveStack

PASSWORD = "chaos-password-not-secret-1"  # noqa: S105 (throwaway users of a throwaway stack)
# username → (role, departments)
USERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "chaos_admin": ("admin", ()),
    # A second admin: row 10's second tab, so each of its three acknowledgements has its own `by`.
    "chaos_admin_2": ("admin", ()),
    "chaos_viewer": ("viewer", ()),
    "chaos_er": ("department", ("ER",)),
    "chaos_icu": ("department", ("ICU",)),
    "chaos_card_ped": ("department", ("CARD", "PED")),
}
ALL_DEPARTMENTS = tuple(code for code, _name, _weight in DEPARTMENTS)
WARM_ATTEMPTS = 5
# Every scope some user of USERS follows by default.
FOLLOWED_SCOPES = ("hospital", "dept:ER", "dept:ICU", "dept:CARD", "dept:PED")
WEB_NAMES = ("web-1", "web-2")
CHATTR = shutil.which("chattr") or "/usr/bin/chattr"
WATCHER_NAMES = ("watcher-1", "watcher-2")
# The web process whose Redis connections pass through `ChaosStack.partition`.
PARTITIONED_WEB = WEB_NAMES[1]


@dataclass
class ChaosStack:
    """A running stack; `redis_proc` and `mongo_proc` change when a fault restarts them.
    `partition` stands between PARTITIONED_WEB and Redis."""

    root: Path
    server: str
    stack: LiveStack
    redis_proc: ManagedProcess
    redis_port: int
    mongo_proc: ManagedProcess
    mongo_port: int
    partition: Partition
    tokens: dict[str, str] = field(default_factory=dict)
    # Process name → the environment it was first started with beside the stack's.
    launch_env: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def ws_urls(self) -> list[str]:
        return [f"ws://127.0.0.1:{self.stack.port_of(name)}/ws/dashboard/" for name in WEB_NAMES]

    def http_url(self, name: str = "web-1") -> str:
        return f"http://127.0.0.1:{self.stack.port_of(name)}"

    def restart(self, name: str, env: dict[str, str] | None = None) -> None:
        """Stop a Procfile process and start it again under its name, with the environment it
        was first started with (a web process's port, web-2's Redis through the partition) plus
        `env` (nothing of an earlier restart's `env`)."""
        proc = self.stack.processes[name]
        entry = name.split("-")[0]
        proc.stop()
        self.stack.start(entry, as_name=name, env={**self.launch_env.get(name, {}), **(env or {})})

    def kill(self, name: str) -> None:
        self.stack.processes[name].signal(signal.SIGKILL)

    def start_redis_empty(self) -> None:
        """Stop Redis and start an empty one on the same port (its dump deleted)."""
        self.redis_proc.stop()
        shutil.rmtree(self.root / "redis", ignore_errors=True)
        self.redis_proc, _url = start_redis(self.root / "redis", port=self.redis_port)

    def stop_mongo(self) -> None:
        self.mongo_proc.stop()

    def start_mongo(self) -> None:
        """Start the MongoDB wire server again on its port and data directory."""
        self.mongo_proc, _url = start_mongo(self.mongo_dir, port=self.mongo_port)

    @property
    def mongo_dir(self) -> Path:
        """The MongoDB wire server's data directory: one SQLite file (with its WAL) per database."""
        return self.root / "mongo"

    def mongo_storage_read_only(self) -> None:
        """Make the storage under the MongoDB wire server refuse writes: `chattr +i` on its data
        directory, each database file and each write-ahead log. The kernel then refuses every
        write to them, through the descriptors the server already holds too (EPERM), and every
        new file; reads go on. The shared-memory index (`*.db-shm`) stays writable: the server
        maps it, and readers write to it. Raises CalledProcessError when chattr fails (a file
        system without the immutable flag)."""
        files = sorted(self.mongo_dir.glob("*.db")) + sorted(self.mongo_dir.glob("*.db-wal"))
        subprocess.run([CHATTR, "+i", *map(str, files), str(self.mongo_dir)], check=True)

    def mongo_storage_writable(self) -> None:
        """Undo mongo_storage_read_only (idempotent)."""
        subprocess.run([CHATTR, "-R", "-i", str(self.mongo_dir)], check=True)

    def pids(self) -> dict[str, int]:
        """Every process of the stack by name (the Procfile processes run under `sh -c exec`)."""
        named = {name: proc.pid for name, proc in self.stack.processes.items() if proc.alive()}
        named["redis"] = self.redis_proc.pid
        named["mongo"] = self.mongo_proc.pid
        return named

    def log_lines(self) -> dict[str, list[str]]:
        """Each Procfile process's log, as lines."""
        return {
            name: proc.log_path.read_text(errors="replace").splitlines() if proc.log_path.exists() else []
            for name, proc in self.stack.processes.items()
        }


def warm(chaos: ChaosStack) -> None:
    """Ask once for the snapshot of every scope the load follows, as a first visitor would, so
    each tier is cached before many clients ask at once (beat computes the historical tier
    only 5 minutes after it starts; until then every snapshot computes it from MongoDB)."""
    for scope in FOLLOWED_SCOPES:
        for attempt in range(WARM_ATTEMPTS):
            try:
                status, body = chaos.stack.get_json(
                    f"/api/snapshot/?scope={scope}", chaos.tokens["chaos_admin"]
                )
            except OSError:  # a cold snapshot on a busy machine can outlast the client's 10 s
                assert attempt < WARM_ATTEMPTS - 1, f"no snapshot of {scope}"
                continue
            assert status == 200, (scope, status, body)
            break


def _prepare(stack: LiveStack) -> None:
    migrated = stack.manage("migrate", "--noinput")
    assert migrated.returncode == 0, migrated.stderr
    for username, (role, departments) in USERS.items():
        stack.create_user(username, PASSWORD, role, ",".join(departments))
    names = dict((code, name) for code, name, _weight in DEPARTMENTS)
    created = stack.manage(
        "shell",
        "-c",
        "from dashboard.models import Department\n"
        f"for code, name in {sorted(names.items())!r}: "
        "Department.objects.get_or_create(code=code, defaults={'name': name})",
    )
    assert created.returncode == 0, created.stderr
    seed_hospital(stack.mongo(), now=datetime.now(UTC), rng=random.Random(15))
    indexed = stack.manage("ensure_indexes")
    assert indexed.returncode == 0, indexed.stderr


def _truth_reads_redis(url: str) -> None:
    """Point this process's Redis client at the stack's Redis: the recomputed truth
    (chaos/truth.py) reads bed turnaround where the service keeps it, the cleanings the watcher
    saw end, which MongoDB does not hold."""
    settings.REDIS_URL = url
    redis_store.client.cache_clear()


@contextmanager
def chaos_stack(root: Path, server: str, *, escalate_after_s: int = 300) -> Iterator[ChaosStack]:
    """Everything started and ready on `server` (daphne or uvicorn); stopped on exit."""
    root.mkdir(parents=True, exist_ok=True)
    redis_port, mongo_port = free_port(), free_port()
    redis_proc, redis_url = start_redis(root / "redis", port=redis_port)
    mongo_proc, mongo_url = start_mongo(root / "mongo", port=mongo_port)
    stack = LiveStack(
        root=root / "stack",
        redis_url=redis_url,
        mongo_url=mongo_url,
        database_url=os.environ.get("DATABASE_URL"),
    )
    stack.env.update(
        WEB_SERVER=server,
        MAX_CONNECTIONS_PER_USER="100000",
        JWT_ACCESS_LIFETIME_S="7200",
        ALERT_ESCALATE_AFTER_S=str(escalate_after_s),
        WORKER_CONCURRENCY="2",
    )
    partition = Partition(redis_port, root / "partition.log").start()
    chaos = ChaosStack(root, server, stack, redis_proc, redis_port, mongo_proc, mongo_port, partition)
    _truth_reads_redis(stack.env["REDIS_URL"])
    try:
        _prepare(stack)
        # web-1 on the stack's own port, so LiveStack's HTTP helpers reach it.
        for name, port in zip(WEB_NAMES, (stack.web_port, free_port()), strict=True):
            env = {"PORT": str(port)}
            if name == PARTITIONED_WEB:
                direct = stack.env["REDIS_URL"]
                env["REDIS_URL"] = direct.replace(f"127.0.0.1:{redis_port}/", f"127.0.0.1:{partition.port}/")
                assert env["REDIS_URL"] != direct, direct
            stack.start("web", as_name=name, env=env)
            chaos.launch_env[name] = env
        stack.start("worker", "beat")
        for name in WATCHER_NAMES:
            stack.start("watcher", as_name=name)
        for name in WEB_NAMES:
            stack.wait_for_web(name=name, port=stack.port_of(name))
        stack.wait_for_log("worker", "ready")
        deadline = time.monotonic() + 60
        while not stack.redis().get("dash:watch:lease"):
            assert time.monotonic() < deadline, f"no watcher took the lease:\n{stack.logs()}"
            time.sleep(0.2)
        chaos.tokens = {username: stack.access_token(username, PASSWORD) for username in USERS}
        warm(chaos)
        yield chaos
    finally:
        for proc in reversed(list(stack.processes.values())):
            proc.stop()
        stack.processes.clear()
        chaos.mongo_proc.stop()
        # A row that stopped half-way may have left the storage immutable, which would keep
        # the temporary directory from being removed.
        with suppress(OSError, subprocess.CalledProcessError):
            chaos.mongo_storage_writable()
        chaos.redis_proc.stop()
        partition.stop()
        stack.database.drop()

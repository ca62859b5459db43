"""What the benchmarks share: a throwaway stack with two web processes, the Node load generator,
and readings of a process's CPU and memory. Everything runs on 127.0.0.1 and stops by itself.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devstack.procfile import ROOT
from devstack.services import free_port, start_mongo, start_redis
from tests.support.live_stack import LiveStack

LOADGEN = ROOT / "bench" / "loadgen"
PASSWORD = "bench-password-not-secret-1"  # noqa: S105 (a throwaway user of a throwaway stack)
CONNECT_RATE = 200


@dataclass
class BenchStack:
    stack: LiveStack
    urls: list[str]
    web_pids: list[int]
    token: str


PREFILL_TIERS = """
from dashboard.metrics import runner
from dashboard.protocol.tiers import TIERS
from dashboard.sources import redis_store
for scope in runner.tier_scopes():
    for tier in TIERS:
        runner.run_tier(scope, tier)
        assert redis_store.client().persist(redis_store.tier_key(scope, tier)), (scope, tier)
"""


@contextmanager
def bench_stack(layer: str, departments: list[str], server: str = "daphne") -> Iterator[BenchStack]:
    """Redis, the MongoDB wire server and two web processes of our own on `server` (daphne or
    uvicorn, the `web` entry's WEB_SERVER), with an admin user."""
    with tempfile.TemporaryDirectory(prefix="dash-bench-") as tmp:
        root = Path(tmp)
        redis_proc, redis_url = start_redis(root / "redis")
        mongo_proc, mongo_url = start_mongo(root / "mongo")
        # Django's database: a fresh one on the PostgreSQL of DATABASE_URL when given, else SQLite.
        database_url = os.environ.get("DATABASE_URL")
        stack = LiveStack(
            root=root / "stack", redis_url=redis_url, mongo_url=mongo_url, database_url=database_url
        )
        stack.env.update(
            CHANNEL_LAYER=layer,
            WEB_SERVER=server,
            MAX_CONNECTIONS_PER_USER="100000",
            JWT_ACCESS_LIFETIME_S="3600",
        )
        try:
            assert stack.manage("migrate", "--noinput").returncode == 0
            stack.create_user("bench", PASSWORD, "admin")
            created = stack.manage(
                "shell",
                "-c",
                "from dashboard.models import Department\n"
                f"for code in {departments!r}: Department.objects.get_or_create(code=code, name=code)",
            )
            assert created.returncode == 0, created.stderr
            # Every tier of every scope cached for the whole run, as beat keeps them in a deployment:
            # computed once, then kept past the cache's TTL (nothing here refreshes them; their age
            # grows, which a snapshot reports and which costs it nothing more).
            computed = stack.manage("shell", "-c", PREFILL_TIERS)
            assert computed.returncode == 0, computed.stderr
            second_port = free_port()
            stack.start("web")
            stack.start("web", as_name="web2", env={"PORT": str(second_port)})
            stack.wait_for_web()
            stack.wait_for_web(name="web2", port=second_port)
            yield BenchStack(
                stack=stack,
                urls=[stack.ws_url, f"ws://127.0.0.1:{second_port}/ws/dashboard/"],
                web_pids=[stack.processes["web"].pid, stack.processes["web2"].pid],
                token=stack.access_token("bench", PASSWORD),
            )
        finally:
            stack.stop()
            mongo_proc.stop()
            redis_proc.stop()


def ensure_npm_packages(directory: Path, package: str) -> None:
    """`npm ci` in `directory` (exact versions from its package-lock.json) unless `package` is there."""
    if not (directory / "node_modules" / package).exists():
        print(f"bench: installing the npm packages of {directory.relative_to(ROOT)}", flush=True)
        subprocess.run(
            [shutil.which("npm") or "npm", "ci", "--no-audit", "--no-fund", "--silent"],
            cwd=directory,
            check=True,
        )


def ensure_loadgen() -> None:
    ensure_npm_packages(LOADGEN, "ws")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100.0  # utime + stime, in clock ticks of 10 ms


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class NodeLoadGenerator:
    """A Node load generator script that takes PHASE, REPORT and STOP lines on stdin."""

    def __init__(self, script: Path, args: list[str]) -> None:
        self.proc = subprocess.Popen(
            [shutil.which("node") or "node", str(script), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def command(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def ask(self, line: str) -> dict[str, Any]:
        """Send a command that answers with one JSON line, and return that answer."""
        self.command(line)
        assert self.proc.stdout is not None
        return dict(json.loads(self.proc.stdout.readline()))

    def report(self) -> dict[str, Any]:
        return self.ask("REPORT")

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                self.command("STOP")
                self.proc.wait(10)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(10)


class LoadGenerator(NodeLoadGenerator):
    """Our dashboard's clients (bench/loadgen/fanout.js)."""

    def __init__(
        self, urls: list[str], token: str, clients: int, scopes: list[str], *, reconnect: bool = False
    ) -> None:
        super().__init__(
            LOADGEN / "fanout.js",
            [
                "--urls",
                ",".join(urls),
                "--token",
                token,
                "--clients",
                str(clients),
                "--scopes",
                ",".join(scopes),
                "--connect-rate",
                str(CONNECT_RATE),
                "--reconnect",
                "yes" if reconnect else "no",
            ],
        )


def write_result(out: Path, result: Any, summary: str | None = None) -> None:
    """Save a scenario's result as JSON (and its summary as Markdown beside it), and print it."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    if summary is not None:
        out.with_suffix(".md").write_text(summary)
    print(summary if summary is not None else json.dumps(result, indent=2))

"""A live stack for end-to-end tests: the Procfile's processes on free ports, our own data.

Django's database is a fresh SQLite file, or a fresh PostgreSQL database when DATABASE_URL
points at PostgreSQL; MongoDB gets a database of its own on the test wire server and Redis a
logical database of its own on the test Redis. `stop()` leaves no process and no database.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis
from pymongo import MongoClient
from pymongo.database import Database

from dashboard.sources.redis_target import RedisTarget
from devstack.procfile import ROOT, process_env, start_entry
from devstack.services import ManagedProcess, free_port

E2E_REDIS_DB = 3
READY_TIMEOUT_S = 60.0


def _with_path(url: str, path: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=path))


@dataclass
class DjangoDatabase:
    url: str
    admin_url: str | None = None
    name: str | None = None

    def drop(self) -> None:
        if self.admin_url is None:
            return
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def fresh_django_database(root: Path, database_url: str | None) -> DjangoDatabase:
    if not database_url or not database_url.startswith(("postgres://", "postgresql://")):
        return DjangoDatabase(url=f"sqlite:///{root / 'django.sqlite3'}")
    import psycopg

    name = f"dash_e2e_{uuid.uuid4().hex[:10]}"
    admin_url = _with_path(database_url, "/postgres")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return DjangoDatabase(url=_with_path(database_url, f"/{name}"), admin_url=admin_url, name=name)


@dataclass
class LiveStack:
    root: Path
    redis_url: str
    mongo_url: str
    database_url: str | None
    env: dict[str, str] = field(default_factory=dict)
    # Redis settings instead of a database of its own on `redis_url` (e.g. SentinelGroup.env()).
    redis_env: dict[str, str] | None = None
    processes: dict[str, ManagedProcess] = field(default_factory=dict)
    web_port: int = 0

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.database = fresh_django_database(self.root, self.database_url)
        self.metrics_dir = self.root / "prometheus"
        shutil.rmtree(self.metrics_dir, ignore_errors=True)
        self.metrics_dir.mkdir()
        self.mongo_db_name = f"e2e_{uuid.uuid4().hex[:10]}"
        self.web_port = free_port()
        self.env = process_env(
            {
                "DASH_ENV": "test",
                "DJANGO_SETTINGS_MODULE": "hospital_dash.settings",
                **(self.redis_env or {"REDIS_URL": _with_path(self.redis_url, f"/{E2E_REDIS_DB}")}),
                "MONGO_URL": self.mongo_url,
                "MONGO_DB": self.mongo_db_name,
                "DATABASE_URL": self.database.url,
                # Its processes are production's: on PostgreSQL they use the connection pool.
                "DATABASE_POOL": "true",
                "PORT": str(self.web_port),
                "BEAT_SCHEDULE": str(self.root / "celerybeat-schedule"),
                "WORKER_CONCURRENCY": "1",
                # One per stack like one per host in production, emptied before any process starts.
                "PROMETHEUS_MULTIPROC_DIR": str(self.metrics_dir),
            }
        )
        self.redis().flushdb()

    # --- processes ---------------------------------------------------------------------------
    def manage(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def start(self, *names: str, as_name: str | None = None, env: dict[str, str] | None = None) -> None:
        """Start Procfile entries; `as_name` runs one entry a second time under another name."""
        for name in names:
            key = as_name or name
            self.processes[key] = start_entry(
                name, {**self.env, **(env or {})}, self.root / "logs", log_name=key
            )

    def start_instances(self, entry: str, count: int) -> list[str]:
        """Start `count` runs of one Procfile entry, named `<entry>-1`…; web runs on their own ports."""
        names = [f"{entry}-{index}" for index in range(1, count + 1)]
        for name in names:
            self.start(entry, as_name=name, env={"PORT": str(free_port())} if entry == "web" else None)
        return names

    def port_of(self, name: str) -> int:
        """The port the web process `name` listens on."""
        env = self.processes[name].env or self.env
        return int(env["PORT"])

    def wait_for_log(self, name: str, text: str, timeout_s: float = READY_TIMEOUT_S) -> None:
        proc = self.processes[name]
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if text in proc.log_path.read_text(errors="replace") if proc.log_path.exists() else False:
                return
            if not proc.alive():
                raise AssertionError(f"{name} exited:\n{proc.log_tail()}")
            time.sleep(0.1)
        raise AssertionError(f"{name} did not log {text!r} within {timeout_s} s:\n{proc.log_tail()}")

    def wait_for_web(
        self, timeout_s: float = READY_TIMEOUT_S, name: str = "web", port: int | None = None
    ) -> None:
        """Until the web process `name` (on `port`, the stack's own by default) answers /healthz."""
        url = f"http://127.0.0.1:{port or self.web_port}/healthz"
        proc = self.processes[name]
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                if not proc.alive():
                    raise AssertionError(f"{name} exited:\n{proc.log_tail()}") from None
                time.sleep(0.1)
        raise AssertionError(f"{name} did not answer within {timeout_s} s:\n{proc.log_tail()}")

    def stop(self) -> None:
        for proc in reversed(list(self.processes.values())):
            proc.stop()
        self.processes.clear()
        mongo_client: MongoClient[dict[str, Any]] = MongoClient(self.mongo_url)
        with mongo_client:
            mongo_client.drop_database(self.mongo_db_name)
        self.redis().flushdb()
        self.database.drop()

    def logs(self) -> str:
        return "\n".join(f"--- {name}\n{proc.log_tail(60)}" for name, proc in self.processes.items())

    # --- clients -----------------------------------------------------------------------------
    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.web_port}/ws/dashboard/"

    def redis(self) -> redis.Redis:
        """A client of the stack's Redis: with Sentinel, of the master the sentinels name now."""
        if not self.env.get("REDIS_SENTINELS"):
            return redis.Redis.from_url(self.env["REDIS_URL"], decode_responses=True)
        sentinels = [entry.rpartition(":") for entry in self.env["REDIS_SENTINELS"].split(",")]
        target = RedisTarget(
            sentinels=tuple((host, int(port)) for host, _, port in sentinels),
            master=self.env["REDIS_SENTINEL_MASTER"],
            db=int(self.env["REDIS_DB"]),
        )
        return target.client(timeout_s=5, decode_responses=True)

    def mongo(self) -> Database:
        return MongoClient(self.mongo_url, tz_aware=True)[self.mongo_db_name]

    def post_json(
        self, path: str, body: dict[str, Any], token: str | None = None
    ) -> tuple[int, dict[str, Any]]:
        request = urllib.request.Request(
            f"{self.http_url}{path}",
            data=json.dumps(body).encode(),
            headers={
                "Content-Type": "application/json",
                **({"Authorization": f"Bearer {token}"} if token else {}),
            },
            method="POST",
        )
        return self._send(request)

    def get_json(self, path: str, token: str) -> tuple[int, dict[str, Any]]:
        request = urllib.request.Request(
            f"{self.http_url}{path}", headers={"Authorization": f"Bearer {token}"}
        )
        return self._send(request)

    @staticmethod
    def _send(request: urllib.request.Request) -> tuple[int, dict[str, Any]]:
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")

    def create_user(self, username: str, password: str, role: str, departments: str = "") -> None:
        args = ["dashboard_user", username, "--role", role]
        if departments:
            args += ["--departments", departments]
        result = self.manage(*args, stdin=password + "\n")
        assert result.returncode == 0, result.stderr

    def access_token(self, username: str, password: str) -> str:
        status, body = self.post_json("/api/auth/token/", {"username": username, "password": password})
        assert status == 200, body
        return str(body["access"])

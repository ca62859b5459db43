"""`make demo`: a live hospital on this machine, from nothing, in one command.

Uses REDIS_URL / MONGO_URL when they are set (and says so, and stops, when they do not
answer); otherwise starts the embedded Redis and MongoDB wire server with data under
var/demo, so running it again reuses the data. Then migrates, creates one user per role,
seeds and keeps simulating a hospital, and runs the Procfile's four processes with honcho
until Ctrl-C (or until one of them exits: honcho then stops the others).

What stays here rather than in honcho: the steps that must finish before the processes start
(sources, migrations, users, seed; honcho starts every entry at once, with no order or
readiness) and the simulator (a thread of this process: it is demo data, not a Procfile process).

DEMO_DIR moves the data (var/demo by default) and DEMO_PORT sets the web port (8000 when free,
else any free port), so a second demo can run beside one in use (bench/idle_cpu.py does).
"""

from __future__ import annotations

import io
import json
import os
import random
import secrets
import shutil
import signal
import socket
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from devstack.procfile import PROCFILE, ROOT, process_env
from devstack.services import ManagedProcess, free_port, start_mongo, start_redis

DEMO_DIR = Path(os.environ.get("DEMO_DIR") or ROOT / "var" / "demo")
CREDENTIALS_FILE = DEMO_DIR / "credentials.json"
DEMO_USERS = (
    ("admin", "admin", ""),
    ("viewer", "viewer", ""),
    ("er_lead", "department", "ER"),
)
PREFERRED_WEB_PORT = 8000
SOURCE_CHECK_TIMEOUT_S = 5.0
# honcho waits 5 s after SIGTERM before it kills what is left (honcho.manager.KILL_WAIT).
HONCHO_STOP_S = 15.0


def say(message: str) -> None:
    print(f"demo: {message}", flush=True)


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def sources(started: list[ManagedProcess]) -> tuple[str, str]:
    """URLs of Redis and MongoDB: the configured ones if reachable, else embedded ones."""
    from dashboard.sources.preflight import SourceUnavailable, check_mongo, check_redis
    from dashboard.sources.redis_target import RedisTarget

    def check_redis_url(url: str, timeout_s: float) -> None:
        check_redis(RedisTarget(url=url), timeout_s)

    urls = {}
    for name, variable, check, start in (
        ("Redis", "REDIS_URL", check_redis_url, start_redis),
        ("MongoDB", "MONGO_URL", check_mongo, start_mongo),
    ):
        configured = os.environ.get(variable)
        if configured:
            try:
                check(configured, SOURCE_CHECK_TIMEOUT_S)
            except SourceUnavailable as exc:
                say(f"{exc} (unset {variable} to use the embedded {name})")
                sys.exit(3)
            say(f"using {name} at {variable}")
            urls[variable] = configured
            continue
        proc, url = start(DEMO_DIR / name.lower())
        started.append(proc)
        say(f"started embedded {name} at {url} (data in {DEMO_DIR / name.lower()})")
        urls[variable] = url
    return urls["REDIS_URL"], urls["MONGO_URL"]


def credentials() -> dict[str, str]:
    """Demo passwords, made once and kept under var/demo so a rerun logs in the same way."""
    if CREDENTIALS_FILE.exists():
        stored: dict[str, str] = json.loads(CREDENTIALS_FILE.read_text())
        return stored
    made = {username: secrets.token_urlsafe(9) for username, _, _ in DEMO_USERS}
    CREDENTIALS_FILE.write_text(json.dumps(made))
    CREDENTIALS_FILE.chmod(0o600)
    return made


def prepare_database(passwords: dict[str, str]) -> None:
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", "--noinput", verbosity=0)
    from dashboard.access.users import upsert_dashboard_user

    for username, role, departments in DEMO_USERS:
        upsert_dashboard_user(
            username=username,
            role=role,
            departments=[d for d in departments.split(",") if d],
            password=passwords[username],
        )


def seed_and_index() -> None:
    from django.core.management import call_command

    from dashboard.models import Department
    from dashboard.sources import mongo
    from devstack.hospital_model import DEPARTMENTS
    from devstack.seed import seed_hospital

    db = mongo.primary_db()
    started = time.monotonic()
    report = seed_hospital(db, now=datetime.now(UTC), rng=random.Random())
    if report.reused:
        say("reusing the hospital data already in MongoDB")
    else:
        say(f"seeded a hospital in {time.monotonic() - started:.1f} s: {report}")
    department_names = {code: name for code, name, _weight in DEPARTMENTS}
    for code in sorted(db.rooms.distinct("department")):
        Department.objects.get_or_create(code=code, defaults={"name": department_names.get(code, code)})
    names = io.StringIO()
    call_command("ensure_indexes", stdout=names)
    say(f"MongoDB indexes in place: {len(names.getvalue().split())}")


def web_port() -> int:
    """DEMO_PORT when set, else 8000 when free, else any free port."""
    configured = os.environ.get("DEMO_PORT")
    if configured:
        return int(configured)
    return PREFERRED_WEB_PORT if _port_free(PREFERRED_WEB_PORT) else free_port()


def honcho(env: dict[str, str], port: int) -> ManagedProcess:
    """`honcho start` of the Procfile, every line of its processes in DEMO_DIR/logs/processes.log.

    The demo's settings go to honcho as its environment file (honcho's `.env` in the checkout is
    not read), so `honcho start -e var/demo/demo.env` runs the same processes by hand.
    """
    env_file = DEMO_DIR / "demo.env"
    names = ("DASH_ENV", "DEBUG", "DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL", "MONGO_URL")
    settings = {name: os.environ[name] for name in names}
    settings |= {name: env[name] for name in ("PORT", "BEAT_SCHEDULE", "PROMETHEUS_MULTIPROC_DIR")}
    env_file.write_text("".join(f"{name}={value}\n" for name, value in settings.items()))
    argv = [sys.executable, "-m", "honcho", "start", "--no-colour", "--procfile", str(PROCFILE)]
    argv += ["--app-root", str(ROOT), "--env", str(env_file), "--port", str(port)]
    return ManagedProcess("honcho", argv, DEMO_DIR / "logs" / "processes.log", env=env, cwd=ROOT).start()


def main() -> int:
    DEMO_DIR.mkdir(parents=True, exist_ok=True)
    infrastructure: list[ManagedProcess] = []
    processes: ManagedProcess | None = None
    stop = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        os.environ.setdefault("DASH_ENV", "demo")
        os.environ.setdefault("DEBUG", "true")
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hospital_dash.settings")
        os.environ.setdefault("DATABASE_URL", f"sqlite:///{DEMO_DIR / 'db.sqlite3'}")
        os.environ["REDIS_URL"], os.environ["MONGO_URL"] = sources(infrastructure)
        port = web_port()
        passwords = credentials()
        prepare_database(passwords)
        seed_and_index()

        from dashboard.sources import mongo
        from devstack.simulate import run_simulation

        simulator = threading.Thread(
            target=run_simulation,
            kwargs={"db": mongo.primary_db(), "stop": stop, "rng": random.Random()},
            name="simulator",
            daemon=True,
        )
        simulator.start()
        metrics_dir = DEMO_DIR / "prometheus"
        # /metrics sums every process's files there; the last run's would count twice.
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir()
        env = process_env(
            {
                "PORT": str(port),
                "BEAT_SCHEDULE": str(DEMO_DIR / "celerybeat-schedule"),
                "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
                "DJANGO_SETTINGS_MODULE": "hospital_dash.settings",
            }
        )
        processes = honcho(env, port)
        say(f"honcho runs web, worker, beat and watcher; their logs: {processes.log_path}")
        for username, role, departments in DEMO_USERS:
            scope = f" ({departments})" if departments else ""
            say(f"log in as {username} / {passwords[username]}  [{role}{scope}]")
        say(
            f"dashboard at http://127.0.0.1:{port}/   API snapshot: http://127.0.0.1:{port}/api/snapshot/?scope=hospital"
        )
        say("simulating a hospital day; press Ctrl-C to stop everything")
        while not stop.wait(1.0):
            if not processes.alive():
                say(f"a process exited and honcho stopped the others; last lines:\n{processes.log_tail()}")
                stop.set()
        return 0
    finally:
        say("stopping")
        stop.set()
        if processes is not None:
            processes.stop(HONCHO_STOP_S)
        for proc in reversed(infrastructure):
            proc.stop()
        say("stopped; nothing left running")


if __name__ == "__main__":
    sys.exit(main())

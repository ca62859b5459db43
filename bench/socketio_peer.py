"""The Socket.IO peer of bench.compare, as the original design would have built the fan-out.

Its own Redis (devstack's embedded one), two Socket.IO server processes of bench/peers/socketio
sharing it through @socket.io/redis-adapter, a publisher that emits to the department's room
through that Redis with @socket.io/redis-emitter, and a load generator that measures its
clients as bench/loadgen measures ours. Everything listens on 127.0.0.1 and is stopped at the end.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from bench.common import CONNECT_RATE, NodeLoadGenerator, ensure_npm_packages
from bench.fanout import measure_rate, wait_subscribed
from devstack.procfile import ROOT
from devstack.services import ManagedProcess, free_port, start_redis

PEER = ROOT / "bench" / "peers" / "socketio"
SERVERS = 2
ROOM = "dept:ER"
START_TIMEOUT_S = 20.0


@dataclass
class PeerStack:
    redis_url: str
    urls: list[str]
    server_pids: list[int]


def ensure_peer() -> None:
    ensure_npm_packages(PEER, "socket.io")


def node() -> str:
    return shutil.which("node") or "node"


def wait_listening(server: ManagedProcess) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while "listening" not in server.log_tail():
        if not server.alive() or time.monotonic() > deadline:
            raise RuntimeError(f"{server.name} did not start:\n{server.log_tail()}")
        time.sleep(0.1)


@contextmanager
def peer_stack() -> Iterator[PeerStack]:
    with tempfile.TemporaryDirectory(prefix="dash-peer-") as tmp:
        root = Path(tmp)
        redis_proc, redis_url = start_redis(root / "redis")
        servers: list[ManagedProcess] = []
        try:
            ports = [free_port() for _ in range(SERVERS)]
            servers = [
                ManagedProcess(
                    f"socket.io server {number}",
                    [node(), str(PEER / "server.js"), "--port", str(port), "--redis", redis_url],
                    root / f"server-{number}.log",
                    cwd=PEER,
                )
                for number, port in enumerate(ports, start=1)
            ]
            for server in servers:
                server.start()
            for server in servers:
                wait_listening(server)
            yield PeerStack(
                redis_url=redis_url,
                urls=[f"http://127.0.0.1:{port}" for port in ports],
                server_pids=[server.pid for server in servers],
            )
        finally:
            for server in servers:
                server.stop()
            redis_proc.stop()


class PeerLoadGenerator(NodeLoadGenerator):
    def __init__(self, urls: list[str], clients: int, room: str = ROOM) -> None:
        super().__init__(
            PEER / "loadgen.js",
            [
                "--urls",
                ",".join(urls),
                "--clients",
                str(clients),
                "--scope",
                room,
                "--connect-rate",
                str(CONNECT_RATE),
            ],
        )


def publish(redis_url: str, rate: float, seconds: float) -> None:
    done = subprocess.run(
        [
            node(),
            str(PEER / "publisher.js"),
            "--redis",
            redis_url,
            "--room",
            ROOM,
            "--rate",
            str(rate),
            "--seconds",
            str(seconds),
        ],
        cwd=PEER,
        capture_output=True,
        text=True,
        timeout=seconds * 4 + 60,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"socket.io publisher exited with {done.returncode}: {done.stderr[-2000:]}")


def run(clients: int, rate: float, seconds: float) -> dict[str, Any]:
    """The peer's figures for one department of `clients` at `rate`, as bench.fanout's rows."""
    with peer_stack() as peer:
        loadgen = PeerLoadGenerator(peer.urls, clients)
        try:
            connected = wait_subscribed(loadgen, clients)
            print(
                f"bench: socket.io peer: {connected['subscribed']} of {clients} subscribed; "
                f"handshake-to-join p50 {connected['handshake_p50_ms']} ms, "
                f"p99 {connected['handshake_p99_ms']} ms",
                flush=True,
            )
            publish_all = partial(publish, peer.redis_url, rate, seconds)
            return {
                "clients": connected["subscribed"],
                **measure_rate(loadgen, peer.server_pids, clients, rate, seconds, publish_all),
                "handshake_p50_ms": connected["handshake_p50_ms"],
                "handshake_p99_ms": connected["handshake_p99_ms"],
            }
        finally:
            loadgen.stop()

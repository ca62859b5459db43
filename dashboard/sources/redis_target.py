"""Where Redis is: one URL, or a master found through Redis Sentinel.

Every Redis client of the service is built from one `RedisTarget`: the process-wide client
(`redis_store.client()`), the start-up and health checks, and, in the settings, the channel
layer's hosts and Celery's broker. With Sentinel each of them asks the sentinels for the
current master when it connects, so a promoted replica is followed without a restart
(docs/OPERATIONS.md, "Redis with Sentinel").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import redis
from django.conf import settings
from redis.sentinel import Sentinel

from dashboard.sources.url_redaction import redact


@dataclass(frozen=True)
class RedisTarget:
    """A Redis URL, or (when `sentinels` is not empty) the master `master` in database `db`."""

    url: str = ""
    sentinels: tuple[tuple[str, int], ...] = ()
    master: str = ""
    db: int = 0
    # The data nodes' password (requirepass), and the sentinels' own one.
    password: str | None = None
    sentinel_password: str | None = None

    @property
    def uses_sentinel(self) -> bool:
        return bool(self.sentinels)

    def describe(self) -> str:
        """For messages and logs, without passwords."""
        if not self.uses_sentinel:
            return redact(self.url)
        nodes = ",".join(f"{host}:{port}" for host, port in self.sentinels)
        return f"the master {self.master!r} of the sentinels {nodes}"

    def _sentinel_kwargs(self, timeout_s: float) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"socket_timeout": timeout_s, "socket_connect_timeout": timeout_s}
        if self.sentinel_password:
            kwargs["password"] = self.sentinel_password
        return kwargs

    def client(self, *, timeout_s: float, **options: Any) -> redis.Redis:
        """A client of the master; with Sentinel it looks the master up again on every reconnect."""
        options = {"socket_timeout": timeout_s, "socket_connect_timeout": timeout_s, **options}
        if not self.uses_sentinel:
            return redis.Redis.from_url(self.url, **options)
        sentinel = Sentinel(list(self.sentinels), sentinel_kwargs=self._sentinel_kwargs(timeout_s))
        return sentinel.master_for(self.master, db=self.db, password=self.password, **options)

    def channel_layer_host(self, *, socket_timeout_s: float) -> dict[str, Any]:
        """One `hosts` entry for channels_redis, read by both layers' `create_pool` (utils.py)."""
        if not self.uses_sentinel:
            return {"address": self.url, "socket_timeout": socket_timeout_s}
        return {
            "sentinels": list(self.sentinels),
            "master_name": self.master,
            "sentinel_kwargs": self._sentinel_kwargs(socket_timeout_s),
            "db": self.db,
            "password": self.password,
            "socket_timeout": socket_timeout_s,
        }

    def celery_broker(self) -> tuple[str, dict[str, Any]]:
        """Celery's broker_url and broker_transport_options (kombu's `sentinel://` transport)."""
        if not self.uses_sentinel:
            return self.url, {}
        auth = f":{quote(self.password, safe='')}@" if self.password else ""
        url = ";".join(f"sentinel://{auth}{host}:{port}/{self.db}" for host, port in self.sentinels)
        options: dict[str, Any] = {"master_name": self.master}
        if self.sentinel_password:
            options["sentinel_kwargs"] = {"password": self.sentinel_password}
        return url, options


def configured() -> RedisTarget:
    """The target the settings name (read at each call, so a test's override counts)."""
    return RedisTarget(
        url=settings.REDIS_URL,
        sentinels=tuple(settings.REDIS_SENTINELS),
        master=settings.REDIS_SENTINEL_MASTER,
        db=settings.REDIS_DB,
        password=settings.REDIS_PASSWORD or None,
        sentinel_password=settings.REDIS_SENTINEL_PASSWORD or None,
    )

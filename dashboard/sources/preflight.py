"""Start-up checks: every process says which source URL failed and what to do, not a traceback."""

from __future__ import annotations

import sys

import redis
from django.conf import settings
from pymongo.errors import PyMongoError

from dashboard.sources import redis_target
from dashboard.sources.mongo import make_client
from dashboard.sources.redis_target import RedisTarget
from dashboard.sources.url_redaction import redact

EXIT_SOURCE_UNAVAILABLE = 3


class SourceUnavailable(Exception):
    """The message names the source's address (password hidden); `reason` is only the
    driver's exception class, for answers that must hold no address."""

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason


def check_redis(target: RedisTarget, timeout_s: float) -> None:
    """PING the server, or with Sentinel the master the sentinels name now."""
    try:
        client = target.client(timeout_s=timeout_s)
        client.ping()
        client.close()
    except (redis.RedisError, OSError) as exc:
        setting = "REDIS_SENTINELS and REDIS_SENTINEL_MASTER" if target.uses_sentinel else "REDIS_URL"
        raise SourceUnavailable(
            f"cannot reach Redis at {target.describe()} ({exc.__class__.__name__}: {exc}). "
            f"Start Redis there, or set {setting} to a reachable server.",
            reason=exc.__class__.__name__,
        ) from None


def check_mongo(url: str, timeout_s: float) -> None:
    try:
        with make_client(url, timeout_ms=int(timeout_s * 1000)) as client:
            client.admin.command("ping")
    except PyMongoError as exc:
        reason = str(exc).split(",")[0][:200]
        raise SourceUnavailable(
            f"cannot reach MongoDB at {redact(url)} ({exc.__class__.__name__}: {reason}). "
            "Start MongoDB there, or set MONGO_URL to a reachable server.",
            reason=exc.__class__.__name__,
        ) from None


def require_sources(process: str, *, redis_needed: bool = True, mongo_needed: bool = True) -> None:
    """Exit with a one-line message per unreachable source; within SOURCE_CONNECT_TIMEOUT_S each."""
    timeout_s = settings.SOURCE_CONNECT_TIMEOUT_S
    failures = []
    checks = [
        check for needed, check in ((redis_needed, _check_redis), (mongo_needed, _check_mongo)) if needed
    ]
    for check in checks:
        try:
            check(timeout_s)
        except SourceUnavailable as exc:
            failures.append(str(exc))
    if failures:
        for failure in failures:
            print(f"{process}: {failure}", file=sys.stderr, flush=True)
        sys.exit(EXIT_SOURCE_UNAVAILABLE)


def _check_redis(timeout_s: float) -> None:
    check_redis(redis_target.configured(), timeout_s)


def _check_mongo(timeout_s: float) -> None:
    check_mongo(settings.MONGO_URL, timeout_s)

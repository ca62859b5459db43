"""Start-up checks: every process says which source URL failed and what to do, not a traceback."""

from __future__ import annotations

import sys

import redis
from django.conf import settings
from pymongo.errors import PyMongoError

from dashboard.sources.mongo import make_client
from dashboard.sources.url_redaction import redact

EXIT_SOURCE_UNAVAILABLE = 3


class SourceUnavailable(Exception):
    """The message names the source's address (password hidden); `reason` is only the
    driver's exception class, for answers that must hold no address."""

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason


def check_redis(url: str, timeout_s: float) -> None:
    try:
        client = redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
        client.ping()
        client.close()
    except (redis.RedisError, OSError) as exc:
        raise SourceUnavailable(
            f"cannot reach Redis at {redact(url)} ({exc.__class__.__name__}: {exc}). "
            "Start Redis there, or set REDIS_URL to a reachable server.",
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
    for needed, check, url in (
        (redis_needed, check_redis, settings.REDIS_URL),
        (mongo_needed, check_mongo, settings.MONGO_URL),
    ):
        if not needed:
            continue
        try:
            check(url, timeout_s)
        except SourceUnavailable as exc:
            failures.append(str(exc))
    if failures:
        for failure in failures:
            print(f"{process}: {failure}", file=sys.stderr, flush=True)
        sys.exit(EXIT_SOURCE_UNAVAILABLE)

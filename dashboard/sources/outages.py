"""A data-source outage, told to clients as `unavailable` rather than as a driver's exception."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pymongo.errors import PyMongoError
from redis.exceptions import RedisError

from dashboard.protocol.errors import Unavailable
from dashboard.telemetry import instruments

MONGO_DOWN = "the hospital database is not answering"
REDIS_DOWN = "the dashboard's cache is not answering"


@contextmanager
def unavailable_on_outage() -> Iterator[None]:
    """Turn a PyMongoError or RedisError raised inside into `Unavailable` (code `unavailable`)."""
    try:
        yield
    except PyMongoError as exc:
        instruments.SOURCE_ERRORS.labels("mongo", "request").inc()
        raise Unavailable(MONGO_DOWN) from exc
    except RedisError as exc:
        instruments.SOURCE_ERRORS.labels("redis", "request").inc()
        raise Unavailable(REDIS_DOWN) from exc

"""Shared fixtures. `make test` (devstack.testrun) starts Redis and MongoDB and sets their URLs."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from pymongo.database import Database

from dashboard import mongo
from tests.e2e.stack import LiveStack
from tests.ws_support import ws_users  # noqa: F401  (a fixture for the consumer tests)


@pytest.fixture(scope="session")
def test_tmp() -> Path:
    return Path(os.environ["DASH_TEST_TMP"])


@pytest.fixture
def mongo_db(settings) -> Iterator[Database]:
    """A fresh, empty hospital database on the test MongoDB wire server, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    settings.MONGO_DB = name
    db = mongo.primary_db(name)
    yield db
    mongo.client().drop_database(name)


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    """The test Redis, flushed before and after each test that asks for it."""
    client = redis.Redis.from_url(os.environ["REDIS_URL"], decode_responses=True)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture(autouse=True)
def _no_access_log_between_tests() -> Iterator[None]:
    """Entries buffered by one test must not be written into the next test's database."""
    yield
    from dashboard import audit

    with audit._lock:
        audit._buffer.clear()


@pytest.fixture(scope="module")
def live_stack(test_tmp: Path) -> Iterator[LiveStack]:
    stack = LiveStack(
        root=test_tmp / f"stack-{uuid.uuid4().hex[:8]}",
        redis_url=os.environ["REDIS_URL"],
        mongo_url=os.environ["MONGO_URL"],
        database_url=os.environ.get("DATABASE_URL"),
    )
    try:
        migrated = stack.manage("migrate", "--noinput")
        assert migrated.returncode == 0, migrated.stderr
        yield stack
    finally:
        stack.stop()

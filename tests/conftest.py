"""Shared fixtures. `make test` (devstack.testrun) starts Redis and MongoDB and sets their URLs."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from pymongo.database import Database

from dashboard.sources import mongo
from tests.support.live_stack import LiveStack
from tests.support.ws import ws_users  # noqa: F401  (a fixture for the consumer tests)


@pytest.fixture(autouse=True)
def fresh_access_cache() -> None:
    """Each test has a database of its own: nothing a web process kept of an earlier one's users."""
    from dashboard.access import access_cache

    access_cache.clear()


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


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    """Before any fixture is torn down (the database flush among them), let the one database
    thread finish what a test's connection ticker gave it, and drop what is still buffered.

    On PostgreSQL an access-log write still running there deadlocks with the flush's TRUNCATE;
    entries buffered by one test must not be written into the next test's database either.
    """
    from asgiref.sync import SyncToAsync

    from dashboard.access import audit

    SyncToAsync.single_thread_executor.submit(lambda: None).result(timeout=60)
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

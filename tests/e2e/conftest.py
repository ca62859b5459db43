from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.stack import LiveStack


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

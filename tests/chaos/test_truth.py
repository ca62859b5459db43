"""The fault matrix's truth: every scope from one read equals each scope's own recomputation.

Real MongoDB wire server and Redis, with the documents, valid and invalid, of the service's own
one-read test (tests/metrics/test_critical_batch.py).
"""

from __future__ import annotations

import pytest
from pymongo.database import Database

from chaos import truth
from tests.metrics.test_critical_batch import NOW, seed

pytestmark = pytest.mark.django_db


def test_every_scope_from_one_read_equals_its_own_recomputation(mongo_db: Database, redis_client) -> None:
    seed(mongo_db)
    scopes = ["hospital", "dept:ER", "dept:ICU", "dept:CARD", "dept:PEDS"]
    assert truth.recompute_critical(mongo_db, scopes, now=NOW) == {
        scope: truth.recompute(mongo_db, scope, "critical", with_revenue=True, now=NOW) for scope in scopes
    }

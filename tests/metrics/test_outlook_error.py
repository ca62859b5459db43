"""`python manage.py outlook_error` on the demo's seeded history (nine weeks, random.Random(7))."""

from __future__ import annotations

import io
import random
from datetime import UTC, datetime

from django.core.management import call_command

from devstack.seed import seed_hospital


def test_outlook_error_replays_the_last_14_days_of_the_seeded_demo(mongo_db, redis_client, capsys) -> None:
    seed_hospital(mongo_db, now=datetime.now(UTC), rng=random.Random(7))
    out = io.StringIO()
    call_command("outlook_error", "--days", "14", "--departments", "ER,ICU", stdout=out)
    lines = out.getvalue().splitlines()
    with capsys.disabled():
        print("\n" + out.getvalue())
    assert [line.split()[0] for line in lines[1:]] == ["hospital", "ER", "ICU"]
    for line in lines[1:]:
        _scope, origins, mae, *by_hour, baseline = line.split()
        # Every hour of 14 days whose 4 projected hours have passed: 14 * 24 - 4 (+1 when on the hour).
        assert int(origins) in (332, 333), line
        assert 0 <= float(mae) < float(baseline) * 2, line
        assert len(by_hour) == 4

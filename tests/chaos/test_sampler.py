"""The fault matrix's sampler: a tile is judged by MongoDB as at its own `computed_at`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chaos import checks
from chaos.client import Client, ScopeState

SCOPE = "dept:ER"
BOARDING_SINCE = datetime(2030, 1, 1, 8, 0, tzinfo=UTC)


def tile(computed_at: datetime, admitted: int) -> dict[str, Any]:
    minutes = round((computed_at - BOARDING_SINCE).total_seconds() / 60, 1)
    return {
        "computed_at": computed_at.isoformat(),
        "patients": {"admitted": admitted},
        "flow": {"boarding_longest_min": minutes},
    }


def client(index: int, shown: dict[str, Any], scope: str = SCOPE) -> Client:
    found = Client(index, f"user{index}", "department", ("ER",), "token", [], [], 0, connected=True)
    found.scopes[scope] = ScopeState(epoch="e", seq=1, resyncing=False, tiers={"critical": shown})
    return found


@pytest.fixture
def admitted_in_mongo(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """MongoDB as the fake recomputation sees it: `admitted` patients, one boarding since 08:00."""
    held = {"admitted": 12}

    def recompute_critical(_db: Any, scopes: list[str], *, now: datetime | None) -> dict[str, dict]:
        return {
            scope: checks.without_time(tile(now or datetime.now(UTC), held["admitted"])) for scope in scopes
        }

    monkeypatch.setattr(checks, "recompute_critical", recompute_critical)
    return held


def test_two_computations_shown_at_once_are_each_right_as_at_their_own_time(
    admitted_in_mongo: dict[str, int],
) -> None:
    # Six seconds apart, the longest boarding reads 0.1 min more in the newer one.
    older = datetime.now(UTC) - timedelta(seconds=7)
    newer = older + timedelta(seconds=6)
    assert tile(older, 12)["flow"] != tile(newer, 12)["flow"]
    clients = [client(0, tile(older, 12)), client(1, tile(newer, 12))]
    sampler = checks.Sampler(db=None, clients=clients)  # type: ignore[arg-type]
    sampler.sample([SCOPE])
    assert sampler.open_runs == {}


def test_a_count_a_tile_missed_is_still_wrong_as_at_its_own_time(admitted_in_mongo: dict[str, int]) -> None:
    computed = datetime.now(UTC) - timedelta(seconds=3)
    clients = [client(0, tile(computed, 11)), client(1, tile(computed, 12))]
    sampler = checks.Sampler(db=None, clients=clients)  # type: ignore[arg-type]
    sampler.sample([SCOPE])
    assert list(sampler.open_runs) == [(0, SCOPE)]
    assert "patients.admitted 11≠12" in sampler.open_runs[(0, SCOPE)].differing


def test_a_window_tells_how_the_tile_differed_when_it_began_and_when_it_ended(
    admitted_in_mongo: dict[str, int],
) -> None:
    computed = datetime.now(UTC) - timedelta(seconds=3)
    wrong = client(0, tile(computed, 11))
    sampler = checks.Sampler(db=None, clients=[wrong, client(1, tile(computed, 12))])  # type: ignore[arg-type]
    sampler.sample([SCOPE])
    wrong.scopes[SCOPE].tiers["critical"] = tile(computed, 10)
    sampler.sample([SCOPE])
    sampler.stop()
    [window] = sampler.windows
    assert "patients.admitted 11≠12" in window.described
    assert "at its end: patients.admitted 10≠12" in window.described
    assert window.described.startswith(f"from {datetime.now(UTC):%Y-%m-%d}T")


def test_an_older_time_gets_no_truth_of_its_own_when_every_tile_matches_already(
    admitted_in_mongo: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    computed = datetime.now(UTC) - timedelta(seconds=3)
    asked: list[datetime | None] = []
    recompute_critical = checks.recompute_critical

    def counted(*args: Any, now: datetime | None = None) -> dict:
        asked.append(now)
        return recompute_critical(*args, now=now)

    monkeypatch.setattr(checks, "recompute_critical", counted)
    # Two times whose numbers are the same: the clock moves no number between them.
    clients = [client(0, tile(computed, 12)), client(1, tile(computed + timedelta(milliseconds=5), 12))]
    sampler = checks.Sampler(db=None, clients=clients)  # type: ignore[arg-type]
    sampler.sample([SCOPE])
    assert asked == [computed + timedelta(milliseconds=5)]
    assert sampler.open_runs == {}


def test_the_rounds_are_timed(admitted_in_mongo: dict[str, int], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checks, "SAMPLE_S", 0.05)
    computed = datetime.now(UTC) - timedelta(seconds=3)
    sampler = checks.Sampler(db=None, clients=[client(0, tile(computed, 12))])  # type: ignore[arg-type]
    assert sampler.round_s() is None
    sampler.start()
    deadline = datetime.now(UTC) + timedelta(seconds=5)
    while sampler.samples < 4 and datetime.now(UTC) < deadline:
        sampler._stop.wait(0.05)
    sampler.stop()
    round_s = sampler.round_s()
    assert round_s is not None
    assert 0.04 <= round_s <= 1.0


def test_every_scope_is_judged_from_one_read_per_time(
    admitted_in_mongo: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    computed = datetime.now(UTC) - timedelta(seconds=3)
    asked: list[list[str]] = []
    recompute_critical = checks.recompute_critical

    def counted(db: Any, scopes: list[str], *, now: datetime | None = None) -> dict:
        asked.append(scopes)
        return recompute_critical(db, scopes, now=now)

    monkeypatch.setattr(checks, "recompute_critical", counted)
    clients = [client(0, tile(computed, 12)), client(1, tile(computed, 11), scope="hospital")]
    sampler = checks.Sampler(db=None, clients=clients)  # type: ignore[arg-type]
    sampler.sample(["hospital", SCOPE])
    assert asked == [["hospital", SCOPE]]
    assert list(sampler.open_runs) == [(1, "hospital")]


def test_a_tile_that_arrives_during_the_round_is_judged_as_at_its_own_time(
    admitted_in_mongo: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    older = datetime.now(UTC) - timedelta(seconds=9.5)
    newer = older + timedelta(seconds=9)
    assert tile(older, 12)["flow"] != tile(newer, 12)["flow"]
    # Shown since before a write MongoDB has now (11 admitted of 12), then replaced by a newer one.
    moving = client(0, tile(older, 11))
    asked: list[datetime | None] = []
    recompute_critical = checks.recompute_critical

    def arriving(db: Any, scopes: list[str], *, now: datetime | None = None) -> dict:
        asked.append(now)
        moving.scopes[SCOPE].tiers["critical"] = tile(newer, 12)  # pushed while MongoDB was read
        return recompute_critical(db, scopes, now=now)

    monkeypatch.setattr(checks, "recompute_critical", arriving)
    sampler = checks.Sampler(db=None, clients=[moving])  # type: ignore[arg-type]
    sampler.sample([SCOPE])
    assert asked == [older, newer]
    assert sampler.open_runs == {}

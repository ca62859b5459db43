"""A reduced fan-out run in every `make test`: 500 clients, correctness only.

The figures are `make bench`'s business (docs/BENCHMARKS.md); here every update must reach
every client, in order, with nothing lost, through two real web processes, on each server the
`web` entry supports.
"""

from __future__ import annotations

import pytest

from bench.common import ensure_loadgen
from bench.fanout import LAYOUTS, run_layer

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("server", ["daphne", "uvicorn"])
def test_500_clients_get_every_update_in_order(server: str) -> None:
    ensure_loadgen()
    rows = run_layer("pubsub", LAYOUTS["one"], clients=500, rates=[5.0, 10.0], seconds=10.0, server=server)
    for row in rows:
        assert row["clients"] == 500, row
        assert row["lost"] == 0, row
        assert row["gaps"] == 0, row
        assert row["out_of_order"] == 0, row
        assert row["delivered"] == row["expected"], row

"""Reduced runs of make bench's scenarios 1 and 2 in every `make test`: 500 clients, correctness only.

The figures are `make bench`'s business (docs/BENCHMARKS.md); here every client must connect
and stay connected, and every update must reach every client, in order, with nothing lost,
through two real web processes, on each server the `web` entry supports.
"""

from __future__ import annotations

import pytest

from bench import connections
from bench.common import ensure_loadgen
from bench.fanout import LAYOUTS, run_layer
from hospital_dash.web import SERVERS

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("server", SERVERS)
def test_500_clients_get_every_update_in_order(server: str) -> None:
    ensure_loadgen()
    rows = run_layer("pubsub", LAYOUTS["one"], clients=500, rates=[5.0, 10.0], seconds=10.0, server=server)
    for row in rows:
        assert row["clients"] == 500, row
        assert row["lost"] == 0, row
        assert row["gaps"] == 0, row
        assert row["out_of_order"] == 0, row
        assert row["delivered"] == row["expected"], row


@pytest.mark.parametrize("server", SERVERS)
def test_500_connections_are_held_and_every_broadcast_arrives(server: str) -> None:
    ensure_loadgen()
    result = connections.run(500, idle_seconds=5.0, server=server)
    assert result["subscribed"] == 500, result
    assert result["closes"] == {}, result
    assert [window["done"] for window in result["handshake_windows"]] == [500], result
    broadcast = result["broadcast"]
    assert broadcast["lost"] == 0, broadcast
    assert broadcast["gaps"] == 0, broadcast
    assert broadcast["out_of_order"] == 0, broadcast
    assert broadcast["delivered"] == broadcast["expected"] == 500 * 10, broadcast

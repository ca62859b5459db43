"""daphne's protocol subclass: a push that meets a closing or closed socket is dropped quietly.

Seen in a soak: a client's close frame arrived between the hub choosing its members and the
write, autobahn raised `Disconnected`, and the hub logged a traceback at ERROR for every push.
"""

from __future__ import annotations

import pytest
from autobahn.exception import Disconnected

from dashboard.realtime.daphne_protocol import OutboxWebSocketProtocol, _SendGate
from dashboard.realtime.outbox import Outbox


def protocol_in(state: int) -> OutboxWebSocketProtocol:
    protocol = OutboxWebSocketProtocol()
    protocol.outbox = Outbox()
    protocol.too_slow = False
    protocol.gate = _SendGate(protocol)
    protocol.client_addr = None
    protocol.state = state
    return protocol


CLOSING_OR_CLOSED = [OutboxWebSocketProtocol.STATE_CLOSING, OutboxWebSocketProtocol.STATE_CLOSED]


@pytest.mark.parametrize("state", CLOSING_OR_CLOSED)
def test_a_push_to_a_closing_or_closed_socket_is_dropped_without_an_error(state: int) -> None:
    protocol = protocol_in(state)
    protocol.serverSend('{"type": "update"}', False)
    assert not protocol.outbox


def test_the_parent_class_would_raise_so_the_guard_is_what_drops_it() -> None:
    protocol = protocol_in(OutboxWebSocketProtocol.STATE_CLOSING)
    with pytest.raises(Disconnected):
        protocol._write_text('{"type": "update"}')

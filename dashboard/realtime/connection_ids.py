"""Connection ids: unique across processes and hosts, cheap enough for a reconnect storm.

A random prefix per process (64 bits) and a counter, instead of a uuid4 per connection. A
forked child makes a prefix of its own. The id keys a connection's lease in Redis
(dashboard/realtime/connection_limit.py) and is bound to its log lines.
"""

from __future__ import annotations

import itertools
import os
import secrets

_id_prefix = secrets.token_hex(8)
_id_counter = itertools.count(1)


def _new_id_prefix() -> None:
    global _id_prefix, _id_counter
    _id_prefix, _id_counter = secrets.token_hex(8), itertools.count(1)


os.register_at_fork(after_in_child=_new_id_prefix)


def new_connection_id() -> str:
    """A connection's id, unique across processes and hosts: `<16 hex digits>-<counter in hex>`."""
    return f"{_id_prefix}-{next(_id_counter):x}"

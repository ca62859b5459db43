"""A web process's short memory of users' access, for the handshakes of a reconnect storm.

A WebSocket handshake with a token or ticket needs the user's access (one query) and, for an
admin or viewer, the active departments (another). A reconnect storm runs thousands of
handshakes at once, many of them of the same users (every tab and wall display of a ward). This
module keeps each access read in this process (by a handshake, or by the ticker's read of every
connected user every ACCESS_CHECK_EVERY_S, dashboard/realtime/ticker.py) and the list of active
departments, each for FRESH_S.

What that costs in currency: a connection may open on an access read up to FRESH_S ago, and the
ticker reads it again within its ACCESS_CHECK_EVERY_S (2 s), so a change written to the database
reaches it within FRESH_S + 2 s = 4 s (contract §2 allows 5 s). A change made through this
service (dashboard/access/signals.py) forgets the user's entry at once. Only users with access
are kept: a handshake that would be refused reads the database every time.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from dashboard.access import permissions
from dashboard.access.permissions import Access
from dashboard.protocol.scopes import Scope

FRESH_S = 2.0
# Past this many users remembered, entries older than FRESH_S are dropped when more are added.
PRUNE_ABOVE = 10_000

_accesses: dict[int, tuple[float, Access]] = {}
_departments: tuple[float, tuple[str, ...]] | None = None


def remember(accesses: Mapping[int, Access], read_at: float) -> None:
    """Keep `accesses` (user id → access) as read at `read_at` (time.monotonic() when the read began)."""
    for user_id, access in accesses.items():
        _accesses[user_id] = (read_at, access)
    if len(_accesses) > PRUNE_ABOVE:
        oldest = time.monotonic() - FRESH_S
        for user_id in [user_id for user_id, (at, _access) in _accesses.items() if at < oldest]:
            _accesses.pop(user_id, None)


def forget(user_id: int) -> None:
    """Drop what is kept of the user's access (it changed)."""
    _accesses.pop(user_id, None)


def access_by_id(user_id: int) -> Access | None:
    """The user's access as read here within FRESH_S, else read from the database now and kept
    when the user has one. None for a user without access. Raises DatabaseError."""
    kept = _accesses.get(user_id)
    if kept is not None and time.monotonic() - kept[0] <= FRESH_S:
        return kept[1]
    read_at = time.monotonic()
    access = permissions.load_access_by_id(user_id)
    if access is not None:
        remember({user_id: access}, read_at)
    return access


def known_scopes(access: Access) -> list[Scope]:
    """`permissions.known_scopes`, the active departments read at most once every FRESH_S."""
    global _departments
    if _departments is None or time.monotonic() - _departments[0] > FRESH_S:
        read_at = time.monotonic()
        _departments = (read_at, tuple(permissions.active_department_codes()))
    return permissions.known_scopes(access, department_codes=_departments[1])


def clear() -> None:
    """Forget everything (a new database: the test suite's, between tests)."""
    global _departments
    _accesses.clear()
    _departments = None

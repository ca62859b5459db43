"""What every log line says about where it came from: the process's role, and the request,
connection and user it was written for.

The role is set once per process by its entry point (`set_role`). The ids live in context
variables, bound by the edges: the HTTP middleware (`dashboard.web.middleware`), the API's
permission check and the WebSocket consumer. Context variables follow each asyncio task (one
per request and per connection under both servers) and are copied into the threads asgiref
runs synchronous code in, so a line logged from a view or a database call carries the ids of
the request or connection it serves. `ContextFilter`, installed on the log handlers by
`hospital_dash.logging_config`, copies them onto every record.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from typing import Literal

Role = Literal["web", "worker", "beat", "watcher", "manage"]

# Any process that no entry point claimed is a management command (migrate, dashboard_user…).
_role: Role = "manage"
_request_id: ContextVar[str | None] = ContextVar("dash_request_id", default=None)
_connection_id: ContextVar[str | None] = ContextVar("dash_connection_id", default=None)
_user_id: ContextVar[int | None] = ContextVar("dash_user_id", default=None)


def set_role(role: Role) -> None:
    """Name this process on every line it logs from now on; called once by each entry point."""
    global _role
    _role = role


def bind(
    *, request_id: str | None = None, connection_id: str | None = None, user_id: int | None = None
) -> None:
    """Set the given ids for the current task (and the threads it hands work to); others stay."""
    if request_id is not None:
        _request_id.set(request_id)
    if connection_id is not None:
        _connection_id.set(connection_id)
    if user_id is not None:
        _user_id.set(user_id)


def clear(**_signal: object) -> None:
    """Forget every id of the current context: the end of an HTTP request (Django's
    request_finished), so a thread that served it logs nothing in its name afterwards."""
    _request_id.set(None)
    _connection_id.set(None)
    _user_id.set(None)


class ContextFilter(logging.Filter):
    """Puts `role`, and `request_id`, `connection_id` and `user_id` where they are known, on
    every record, and `context`, the same ids as one short text for the plain format."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.role = _role
        ids = {
            "request_id": _request_id.get(),
            "connection_id": _connection_id.get(),
            "user_id": _user_id.get(),
        }
        known = {name: value for name, value in ids.items() if value is not None}
        for name, value in known.items():
            setattr(record, name, value)
        record.context = "".join(f" {name}={value}" for name, value in known.items())
        return True

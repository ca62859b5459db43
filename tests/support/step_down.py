"""A primary stepping down, injected where pymongo would receive it: `Connection.command`.

nx-27017 is one standalone server: it cannot elect, and it accepts `configureFailPoint`
without acting on it. So the fault goes in one layer above the wire: the next `count` runs of
the named commands raise the NotPrimaryError (code 10107, label RetryableWriteError) a replica
set member sends after a step-down, before anything is sent. pymongo's own retry logic above
that layer runs unchanged. `as_replica_set_primary` makes pymongo treat the server as a
replica-set primary, the only kind of server it retries writes on (the server accepts the
`txnNumber` a retryable write carries).
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any
from unittest import mock

from pymongo.errors import NotPrimaryError
from pymongo.server_description import ServerDescription
from pymongo.synchronous.pool import Connection

NOT_PRIMARY = {"ok": 0, "code": 10107, "errmsg": "not primary", "errorLabels": ["RetryableWriteError"]}


@contextmanager
def stepping_down(
    commands: dict[str, int], *, as_replica_set_primary: bool = False
) -> Iterator[dict[str, int]]:
    """Fail the next runs of each command (name → how many); yields how many were failed."""
    real = Connection.command
    failed = dict.fromkeys(commands, 0)

    def command(
        self: Connection, dbname: str, spec: MutableMapping[str, Any], *args: Any, **kwargs: Any
    ) -> Any:
        name = next(iter(spec))
        if failed.get(name, 0) < commands.get(name, 0):
            failed[name] += 1
            raise NotPrimaryError("not primary (injected step-down)", dict(NOT_PRIMARY))
        return real(self, dbname, spec, *args, **kwargs)

    with mock.patch.object(Connection, "command", command):
        if not as_replica_set_primary:
            yield failed
            return
        with mock.patch.object(ServerDescription, "retryable_writes_supported", True):
            yield failed

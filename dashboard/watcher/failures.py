"""Transient or deterministic: whether trying the same thing again can succeed.

A transient failure is the network, server selection or a primary stepping down (pymongo's
ConnectionFailure family, an OperationFailure MongoDB labels or codes as retryable) or Redis
being unreachable: the same item is retried until it succeeds. Anything else is deterministic
(bad data, a decode error such as `bson.errors.InvalidBSON`, a bug): trying again gives the
same answer, so it is tried a few times (MAX_DETERMINISTIC_TRIES) and then set aside.
"""

from __future__ import annotations

import traceback

from pymongo.errors import ConnectionFailure, OperationFailure
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

MAX_DETERMINISTIC_TRIES = 3

# Server codes the retryable-reads/writes specifications retry: not primary, node recovering
# or shutting down, host unreachable, network timeout, time limit exceeded, read concern not
# yet available. pymongo turns most into NotPrimaryError; a raw OperationFailure may still carry one.
RETRYABLE_SERVER_CODES = frozenset(
    {6, 7, 89, 91, 134, 189, 262, 9001, 10058, 10107, 11600, 11602, 13435, 13436}
)
RETRYABLE_LABELS = ("ResumableChangeStreamError", "RetryableWriteError", "TransientTransactionError")


def is_transient(exc: BaseException) -> bool:
    """True when `exc` says a data source is unreachable for now, so the same work can succeed later."""
    if isinstance(exc, ConnectionFailure | RedisConnectionError | RedisTimeoutError):
        return True
    if isinstance(exc, OperationFailure):
        return exc.code in RETRYABLE_SERVER_CODES or any(map(exc.has_error_label, RETRYABLE_LABELS))
    return False


def describe(exc: BaseException) -> str:
    """`ExceptionClass at file.py:line`: what failed and where, without the exception's message.

    A message can quote the document's values (a patient's name in a ValueError); the class
    and the innermost frame say enough to find the cause and never carry data.
    """
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return exc.__class__.__name__
    last = frames[-1]
    return f"{exc.__class__.__name__} at {last.filename.rsplit('/', 1)[-1]}:{last.lineno}"

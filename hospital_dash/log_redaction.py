"""The safety net under every log line: credentials that slipped into a record are scrubbed.

The service's own code never logs a token, a ticket, a password, a cookie or a document's
values (docs/OPERATIONS.md, "Logs"); libraries are kept from logging what they carry by the
levels in `hospital_dash.logging_config`. This filter, on the handler every line goes
through, catches what gets past both: it renders the record's message with its arguments,
the traceback and the stack, and any extra attribute a library attached (Django's `request`,
whose text includes the query string), then replaces

- anything that looks like a JWT (base64url starting `eyJ`, the encoding of `{"`, with up
  to three dot-separated segments: a cut-off token is caught too),
- the value of `ticket=`, `token=`, `password=`, `sessionid=`, `csrftoken=` and the like,
  in query strings, form bodies, dict and JSON text,
- the value of an Authorization, Cookie or Set-Cookie header,

with `[redacted]`. It cannot recognise a patient's name: no code may log a document.
"""

from __future__ import annotations

import logging
import re

from pythonjsonlogger.core import RESERVED_ATTRS

REDACTED = "[redacted]"
# The value classes stop at quotes and backslashes, so a scrubbed JSON or repr string stays whole.
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}(?:\.[A-Za-z0-9_-]*){0,2}")
_HEADER = re.compile(
    r"(?i)(?<![a-z0-9])((?:set-)?cookie|authorization)(['\"]?\s*[:=,]\s*(?-i:b)?['\"]?)[^'\"\\\r\n]+"
)
_KEYED = re.compile(
    r"(?i)(?<![a-z0-9])(password\d?|passwd|ticket|token|access_token|refresh_token|sessionid"
    r"|csrftoken|csrfmiddlewaretoken|secret)(['\"]?\s*[:=]\s*)(?!\[redacted\])"
    r"(?:(['\"])(?:(?!\3)[^\\\r\n])*|[^\s'\"\\&,;)}\]]+)"
)
_FORMATTER = logging.Formatter()


def scrub(text: str) -> str:
    """`text` with every credential-like value replaced by [redacted]."""
    text = _JWT.sub(REDACTED, text)
    text = _KEYED.sub(rf"\1\2\3{REDACTED}", text)
    return _HEADER.sub(rf"\1\2{REDACTED}", text)


def _message(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except Exception:  # a malformed call must not stop the line; its parts are kept as text
        return f"{record.msg!s} {record.args!r}"


class RedactSecrets(logging.Filter):
    """Scrubs the record in place (message, traceback, stack, extras); lets every record through."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = scrub(_message(record))
        record.args = None
        if record.exc_info:
            record.exc_text = _FORMATTER.formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        for name, value in list(vars(record).items()):
            if name in RESERVED_ATTRS or value is None or isinstance(value, bool | int | float):
                continue
            setattr(record, name, scrub(value if isinstance(value, str) else str(value)))
        return True

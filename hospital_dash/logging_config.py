"""The LOGGING setting: one handler on stderr that every line of every process goes through.

`LOG_FORMAT=json` (production's default) writes one JSON object per line with `timestamp`,
`level`, `logger`, `message` and `role`, and `request_id`, `connection_id`, `user_id` when
the line was logged for a request or a connection (`dashboard.sources.log_context`);
`exc_info` carries a traceback. `LOG_FORMAT=plain` (every other environment's default) writes
the same fields as readable text. On both, `hospital_dash.log_redaction` scrubs what looks
like a credential before the line is formatted.

`LOG_LEVEL` is the level of everything except the libraries that would log what they carry:
at DEBUG, Django's `django.db.backends` prints SQL with its parameters (session keys,
password hashes; only with DEBUG=true), pymongo its commands and replies (whole patient
documents), uvicorn its WebSocket frames (a `reauth` carries a token). They stay at INFO or
above whatever LOG_LEVEL says; docs/OPERATIONS.md, "Logs".
"""

from __future__ import annotations

import logging
import logging.config
from typing import Any

from pythonjsonlogger.core import RESERVED_ATTRS

LOG_FORMATS = ("json", "plain")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# Loggers whose DEBUG lines carry secrets or documents, and what each would print.
NEVER_DEBUG = (
    "django.db.backends",  # SQL parameters: session keys, password hashes
    "pymongo",  # commands and replies: documents
    "uvicorn.error",  # WebSocket frames: tokens in reauth messages
    "websockets",  # the same frames, when another logger is not given
)


def build_logging(log_format: str, level: str) -> dict[str, Any]:
    """The dictConfig for `log_format` (json or plain) at `level` (a LOG_LEVELS name)."""
    floor = logging.getLevelName(max(logging.getLevelName(level), logging.INFO))
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "context": {"()": "dashboard.sources.log_context.ContextFilter"},
            "redact": {"()": "hospital_dash.log_redaction.RedactSecrets"},
        },
        "formatters": {
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": "%(levelname)s %(name)s %(message)s",
                "rename_fields": {"levelname": "level", "name": "logger"},
                "timestamp": True,
                # `context` is the plain format's text of the ids, which JSON has as fields;
                # uvicorn's `color_message` repeats its message with terminal colours.
                "reserved_attrs": [*RESERVED_ATTRS, "context", "taskName", "color_message"],
            },
            "plain": {"format": "%(asctime)s %(levelname)s %(role)s %(name)s%(context)s: %(message)s"},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": log_format,
                "filters": ["context", "redact"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # Django's own console and mail handlers would write a second, unformatted line.
            "django": {"handlers": [], "level": level, "propagate": True},
            "django.server": {"handlers": [], "propagate": True},
            # daphne's access log prints query strings; ?ticket= values must not reach logs.
            "django.channels.server": {"level": "WARNING"},
            **{name: {"level": floor} for name in NEVER_DEBUG},
        },
    }


def configure(config: dict[str, Any]) -> None:
    """Django's LOGGING_CONFIG: the dictConfig, and Python's warnings as lines of `py.warnings`
    (otherwise they are printed to stderr as they are, not as JSON)."""
    logging.config.dictConfig(config)
    logging.captureWarnings(True)

"""LOGGING: the JSON and plain lines, their context fields, the redaction and the level floors."""

from __future__ import annotations

import contextvars
import io
import json
import logging
import logging.config
from collections.abc import Iterator

import pytest
from django.http import HttpResponse
from django.test import RequestFactory

from dashboard.sources import log_context
from dashboard.web.middleware import RequestContextMiddleware
from hospital_dash.log_redaction import scrub
from hospital_dash.logging_config import NEVER_DEBUG, build_logging

JWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ1c2VyX2lkIjo0Mn0.c2lnbmF0dXJlLXZhbHVlLWhlcmU"


@pytest.fixture
def capture() -> Iterator[tuple[io.StringIO, logging.Logger]]:
    """A logger wired through the console handler of LOGGING, into a buffer; Django's LOGGING after."""
    from django.conf import settings

    stream = io.StringIO()
    config = build_logging("json", "DEBUG")
    config["handlers"]["console"]["stream"] = stream
    logging.config.dictConfig(config)
    yield stream, logging.getLogger("dashboard.test_logging")
    logging.config.dictConfig(settings.LOGGING)


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_json_line_has_the_fields_and_the_ids_bound_in_its_context(capture) -> None:
    stream, logger = capture

    def in_a_request() -> None:
        log_context.bind(request_id="req-1", user_id=7)
        logger.info("served %s", "/api/snapshot/")

    contextvars.copy_context().run(in_a_request)
    logger.warning("outside")
    served, outside = lines(stream)
    assert served["message"] == "served /api/snapshot/"
    assert served["level"] == "INFO"
    assert served["logger"] == "dashboard.test_logging"
    assert served["role"] == "manage"
    assert (served["request_id"], served["user_id"]) == ("req-1", 7)
    assert "timestamp" in served
    assert "context" not in served
    assert "request_id" not in outside
    assert "user_id" not in outside


def test_credentials_in_messages_arguments_extras_and_tracebacks_are_scrubbed(capture) -> None:
    stream, logger = capture
    logger.warning("Authorization: Bearer %s", JWT)
    logger.warning("GET /ws/dashboard/?ticket=%s", "tk-secret-1")
    logger.warning("form %s", {"username": "ann", "password": "pw secret 2"})
    logger.warning("headers", extra={"scope": [(b"cookie", b"sessionid=sess-secret-3")]})
    try:
        raise ValueError(f"token={JWT[:40]}")
    except ValueError:
        logger.exception("failed")
    text = stream.getvalue()
    for secret in (JWT, JWT[:40], "tk-secret-1", "pw secret 2", "sess-secret-3"):
        assert secret not in text
    assert "ann" in text
    assert all(
        "[redacted]" in line["message"] + line.get("scope", "") + line.get("exc_info", "")
        for line in lines(stream)
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("password=pw1&next=/", "password=[redacted]&next=/"),
        ("{'password': 'a b'}", "{'password': '[redacted]'}"),
        ("Cookie: sessionid=a; csrftoken=b", "Cookie: [redacted]"),
        ("token: " + JWT + " ok", "token: [redacted] ok"),
        (
            "dashboard.realtime.consumer saved 6 resume tokens",
            "dashboard.realtime.consumer saved 6 resume tokens",
        ),
    ],
)
def test_scrub(text: str, expected: str) -> None:
    assert scrub(text) == expected


def test_libraries_that_would_log_documents_or_frames_stay_at_info_when_debug_is_asked() -> None:
    loggers = build_logging("json", "DEBUG")["loggers"]
    assert {name: loggers[name]["level"] for name in NEVER_DEBUG} == dict.fromkeys(NEVER_DEBUG, "INFO")
    assert build_logging("json", "ERROR")["loggers"]["pymongo"]["level"] == "ERROR"


def test_plain_lines_carry_the_role_and_ids_as_text(capture) -> None:
    stream = io.StringIO()
    config = build_logging("plain", "INFO")
    config["handlers"]["console"]["stream"] = stream
    logging.config.dictConfig(config)
    log_context.bind(connection_id="c1")
    logging.getLogger("dashboard.test_logging").info("hello")
    assert stream.getvalue().rstrip().endswith("INFO manage dashboard.test_logging connection_id=c1: hello")


def test_the_middleware_keeps_a_safe_request_id_and_replaces_any_other() -> None:
    seen: list[str | None] = []

    def view(request):
        seen.append(log_context._request_id.get())
        return HttpResponse()

    middleware = RequestContextMiddleware(view)
    factory = RequestFactory()
    kept = contextvars.copy_context().run(middleware, factory.get("/", HTTP_X_REQUEST_ID="abc-123"))
    replaced = contextvars.copy_context().run(
        middleware, factory.get("/", HTTP_X_REQUEST_ID="x\nforged line password=1")
    )
    assert kept["X-Request-ID"] == seen[0] == "abc-123"
    assert replaced["X-Request-ID"] == seen[1]
    assert len(seen[1] or "") == 32
    assert "\n" not in (seen[1] or "")

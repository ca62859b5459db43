"""Client messages of the WebSocket protocol (contract §4): parsed and validated in one place.

`parse_client_message` turns one text frame into a typed message or raises DashboardError
with the contract's code; it never dispatches a type by name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from dashboard.protocol.errors import DashboardError, ErrorCode
from dashboard.protocol.scopes import InvalidScope, Scope, parse_scope

MAX_CLIENT_FRAME_BYTES = 4096
MAX_REQUEST_ID_CHARS = 64
MAX_TOKEN_CHARS = 2048
MAX_ALERT_ID_CHARS = 64
MAX_EPOCH_CHARS = 64
# Integers a client sends (`request_id`, `since.seq`) stay below this magnitude: the largest a
# JavaScript client holds exactly.
INTEGER_BOUND = 2**53
# The non-empty string fields of client messages and their length limits.
BOUNDED_STRINGS: dict[str, int] = {"alert_id": MAX_ALERT_ID_CHARS, "token": MAX_TOKEN_CHARS}
# JSON nested deeper than this is refused before it reaches json.loads' recursion.
MAX_JSON_DEPTH = 8


@dataclass(frozen=True)
class Since:
    epoch: str
    seq: int


@dataclass(frozen=True)
class Subscribe:
    scope: Scope
    since: Since | None
    request_id: str | int | None


@dataclass(frozen=True)
class Unsubscribe:
    scope: Scope
    request_id: str | int | None


@dataclass(frozen=True)
class AckAlert:
    alert_id: str
    request_id: str | int


@dataclass(frozen=True)
class Reauth:
    token: str
    request_id: str | int | None


@dataclass(frozen=True)
class Ping:
    request_id: str | int


ClientMessage = Subscribe | Unsubscribe | AckAlert | Reauth | Ping

# Each client `type` and the dataclass it parses to (the JSON Schemas in docs/protocol/client/
# are generated from these, dashboard/protocol/json_schema.py).
CLIENT_MESSAGE_TYPES: dict[str, type] = {
    "subscribe": Subscribe,
    "unsubscribe": Unsubscribe,
    "ack_alert": AckAlert,
    "reauth": Reauth,
    "ping": Ping,
}


def _json_depth_ok(text: str) -> bool:
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return False
        elif char in "]}":
            depth -= 1
    return True


def _request_id(body: dict[str, Any]) -> str | int | None:
    value = body.get("request_id")
    if value is None:
        return None
    if isinstance(value, str) and len(value) <= MAX_REQUEST_ID_CHARS:
        return value
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) < INTEGER_BOUND:
        return value
    raise DashboardError(
        ErrorCode.BAD_REQUEST,
        f"request_id must be a string of at most {MAX_REQUEST_ID_CHARS} characters or an integer.",
    )


def _scope(body: dict[str, Any], request_id: str | int | None) -> Scope:
    try:
        return parse_scope(body.get("scope"))
    except InvalidScope as exc:
        raise DashboardError(ErrorCode.BAD_REQUEST, str(exc), request_id) from None


def _since(value: object, request_id: str | int | None) -> Since | None:
    if value is None:
        return None
    if (
        isinstance(value, dict)
        and isinstance(value.get("epoch"), str)
        and len(value["epoch"]) <= MAX_EPOCH_CHARS
        and isinstance(value.get("seq"), int)
        and not isinstance(value.get("seq"), bool)
        and 0 <= value["seq"] < INTEGER_BOUND
    ):
        return Since(epoch=value["epoch"], seq=value["seq"])
    raise DashboardError(
        ErrorCode.BAD_REQUEST, "since must be {epoch: string, seq: non-negative integer}.", request_id
    )


def _bounded_string(body: dict[str, Any], field: str, request_id: str | int | None) -> str:
    """The non-empty string `field` within its BOUNDED_STRINGS limit; DashboardError `bad_request` if not."""
    limit = BOUNDED_STRINGS[field]
    value = body.get(field)
    if not isinstance(value, str) or not value or len(value) > limit:
        raise DashboardError(
            ErrorCode.BAD_REQUEST,
            f"{field} must be a non-empty string of at most {limit} characters.",
            request_id,
        )
    return value


def _parse_subscribe(body: dict[str, Any], rid: str | int | None) -> ClientMessage:
    return Subscribe(scope=_scope(body, rid), since=_since(body.get("since"), rid), request_id=rid)


def _parse_unsubscribe(body: dict[str, Any], rid: str | int | None) -> ClientMessage:
    return Unsubscribe(scope=_scope(body, rid), request_id=rid)


def _required_request_id(rid: str | int | None, kind: str) -> str | int:
    if rid is None:
        raise DashboardError(ErrorCode.BAD_REQUEST, f"{kind} needs a request_id, echoed in the reply")
    return rid


def _parse_ack_alert(body: dict[str, Any], rid: str | int | None) -> ClientMessage:
    return AckAlert(
        alert_id=_bounded_string(body, "alert_id", rid), request_id=_required_request_id(rid, "ack_alert")
    )


def _parse_reauth(body: dict[str, Any], rid: str | int | None) -> ClientMessage:
    return Reauth(token=_bounded_string(body, "token", rid), request_id=rid)


def _parse_ping(body: dict[str, Any], rid: str | int | None) -> ClientMessage:
    return Ping(request_id=_required_request_id(rid, "ping"))


_PARSERS = {
    "subscribe": _parse_subscribe,
    "unsubscribe": _parse_unsubscribe,
    "ack_alert": _parse_ack_alert,
    "reauth": _parse_reauth,
    "ping": _parse_ping,
}


def too_large(text: str) -> bool:
    """A client frame over 4 KiB: the consumer closes with 1009 rather than parsing it."""
    return len(text.encode("utf-8", "surrogatepass")) > MAX_CLIENT_FRAME_BYTES


def parse_client_message(text: str) -> ClientMessage:
    """Validate one client text frame of at most 4 KiB; raises DashboardError with the contract's code."""
    if not _json_depth_ok(text):
        raise DashboardError(ErrorCode.BAD_REQUEST, "message nested too deeply")
    try:
        body = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise DashboardError(ErrorCode.BAD_REQUEST, "message is not valid JSON") from None
    if not isinstance(body, dict):
        raise DashboardError(ErrorCode.BAD_REQUEST, "message must be a JSON object")
    if not encodable(body):
        # Not echoed: a request_id that cannot be encoded could not be sent back either.
        raise DashboardError(ErrorCode.BAD_REQUEST, "message has a string that is not valid Unicode")
    request_id = _request_id(body)
    kind = body.get("type")
    if not isinstance(kind, str):
        raise DashboardError(ErrorCode.BAD_REQUEST, "message needs a string type", request_id)
    parser = _PARSERS.get(kind)
    if parser is None:
        raise DashboardError(ErrorCode.UNKNOWN_TYPE, "unknown message type", request_id)
    return parser(body, request_id)


def encodable(value: object) -> bool:
    """True when every string in the parsed JSON (keys included) can be encoded as UTF-8.

    JSON's `\\ud800` escapes decode to lone surrogates, which no UTF-8 text can carry: a
    message holding one is refused before any of its strings is used or echoed.
    """
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, dict):
        return all(encodable(key) and encodable(item) for key, item in value.items())
    if isinstance(value, list):
        return all(encodable(item) for item in value)
    return True


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")

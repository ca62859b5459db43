"""Server messages of the WebSocket protocol (contract §4): one TypedDict per type.

Every server message is built by a function here, typed so that mypy checks each one where
it is built; `SERVER_MESSAGE_TYPES` maps each `type` to its TypedDict, from which
`dashboard.protocol.json_schema` generates the JSON Schemas of docs/protocol/server/ that the
tests check every message they receive against.
"""

# No `from __future__ import annotations`: TypedDict must see NotRequired[...] (Python 3.11).
import json
from datetime import UTC, datetime
from typing import Any, Literal, NotRequired, TypedDict

from dashboard.protocol.errors import ErrorCode
from dashboard.protocol.scopes import Scope

PROTOCOL_VERSION = 1

SourceState = Literal["ok", "down"]
UnsubscribeReason = Literal["requested", "forbidden"]
AckFailure = Literal["not_found", "forbidden", "unavailable"]


class UserSummary(TypedDict):
    username: str
    role: str
    departments: list[str]


class Hello(TypedDict):
    type: Literal["hello"]
    protocol: int
    user: UserSummary
    scopes: list[str]
    subscribed: list[str]


class Subscribed(TypedDict):
    type: Literal["subscribed"]
    scope: str
    recovered: bool


class Unsubscribed(TypedDict):
    type: Literal["unsubscribed"]
    scope: str
    reason: UnsubscribeReason


class _Stream(TypedDict):
    """The fields of every message of a scope's ordered stream."""

    scope: str
    epoch: str
    seq: int
    generated_at: str
    stale: bool


class Snapshot(_Stream):
    type: Literal["snapshot"]
    data: dict[str, Any]
    age_s: NotRequired[float]


class Update(_Stream):
    type: Literal["update"]
    tier: str
    data: dict[str, Any]


class AlertPayload(TypedDict):
    id: str
    department: str
    severity: str
    kind: str
    message: str
    created_at: str
    escalated: NotRequired[bool]


class AlertMessage(_Stream):
    type: Literal["alert"]
    alert: AlertPayload


class AlertAcknowledged(_Stream):
    type: Literal["alert_acknowledged"]
    alert_id: str
    by: str
    at: str


class AckResult(TypedDict):
    type: Literal["ack_result"]
    request_id: str | int
    ok: bool
    reason: NotRequired[AckFailure]


class Heartbeat(TypedDict):
    type: Literal["heartbeat"]
    scope: str
    epoch: str
    seq: int


class Status(TypedDict):
    type: Literal["status"]
    sources: dict[str, SourceState]


class Pong(TypedDict):
    type: Literal["pong"]
    request_id: str | int | None


class Error(TypedDict):
    type: Literal["error"]
    code: str
    message: str
    request_id: NotRequired[str | int]


StreamMessage = Snapshot | Update | AlertMessage | AlertAcknowledged
ServerMessage = (
    Hello | Subscribed | Unsubscribed | StreamMessage | AckResult | Heartbeat | Status | Pong | Error
)

SERVER_MESSAGE_TYPES: dict[str, type] = {
    "hello": Hello,
    "subscribed": Subscribed,
    "snapshot": Snapshot,
    "update": Update,
    "alert": AlertMessage,
    "alert_acknowledged": AlertAcknowledged,
    "unsubscribed": Unsubscribed,
    "ack_result": AckResult,
    "heartbeat": Heartbeat,
    "status": Status,
    "pong": Pong,
    "error": Error,
}


def utc_now_iso() -> str:
    return iso(datetime.now(UTC))


def iso(moment: datetime) -> str:
    """An aware datetime as ISO 8601 UTC with milliseconds and `Z` (`2030-01-01T00:00:00.000Z`)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def encode(message: ServerMessage | dict[str, Any]) -> str:
    """Compact JSON text; ValueError for a non-finite number (JSON has none)."""
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def hello(*, user: UserSummary, scopes: list[str], subscribed: list[str]) -> Hello:
    return {
        "type": "hello",
        "protocol": PROTOCOL_VERSION,
        "user": user,
        "scopes": scopes,
        "subscribed": subscribed,
    }


def subscribed(scope: Scope, *, recovered: bool) -> Subscribed:
    return {"type": "subscribed", "scope": scope.name, "recovered": recovered}


def unsubscribed(scope: Scope, *, reason: UnsubscribeReason) -> Unsubscribed:
    return {"type": "unsubscribed", "scope": scope.name, "reason": reason}


def snapshot(
    scope: Scope, *, epoch: str, seq: int, stale: bool, data: dict[str, Any], age_s: float
) -> Snapshot:
    """All three tiers of a scope; `age_s` is the age of its oldest tier in seconds."""
    return {
        "type": "snapshot",
        "scope": scope.name,
        "epoch": epoch,
        "seq": seq,
        "generated_at": utc_now_iso(),
        "stale": stale,
        "data": data,
        "age_s": age_s,
    }


def update(scope: Scope, *, epoch: str, seq: int, tier: str, data: dict[str, Any]) -> Update:
    return {
        "type": "update",
        "scope": scope.name,
        "epoch": epoch,
        "seq": seq,
        "generated_at": utc_now_iso(),
        "stale": False,
        "tier": tier,
        "data": data,
    }


def alert(scope: Scope, *, epoch: str, seq: int, payload: AlertPayload) -> AlertMessage:
    return {
        "type": "alert",
        "scope": scope.name,
        "epoch": epoch,
        "seq": seq,
        "generated_at": utc_now_iso(),
        "stale": False,
        "alert": payload,
    }


def alert_acknowledged(
    scope: Scope, *, epoch: str, seq: int, alert_id: str, by: str, at: str
) -> AlertAcknowledged:
    return {
        "type": "alert_acknowledged",
        "scope": scope.name,
        "epoch": epoch,
        "seq": seq,
        "generated_at": utc_now_iso(),
        "stale": False,
        "alert_id": alert_id,
        "by": by,
        "at": at,
    }


def ack_result(request_id: str | int, *, failure: AckFailure | None = None) -> AckResult:
    """The answer to `ack_alert`: `ok: true`, or `ok: false` with the reason nothing was recorded."""
    if failure is None:
        return {"type": "ack_result", "request_id": request_id, "ok": True}
    return {"type": "ack_result", "request_id": request_id, "ok": False, "reason": failure}


def heartbeat(scope: Scope, *, epoch: str, seq: int) -> Heartbeat:
    return {"type": "heartbeat", "scope": scope.name, "epoch": epoch, "seq": seq}


def status(sources: dict[str, SourceState]) -> Status:
    return {"type": "status", "sources": dict(sources)}


def pong(request_id: str | int | None) -> Pong:
    return {"type": "pong", "request_id": request_id}


def error(code: ErrorCode, message: str, request_id: str | int | None = None) -> Error:
    assert code is not ErrorCode.UNAVAILABLE, "an outage is told by status or ack_result, not error"
    body: Error = {"type": "error", "code": str(code), "message": message}
    if request_id is not None:
        body["request_id"] = request_id
    return body

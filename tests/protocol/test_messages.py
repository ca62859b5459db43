"""Client message validation: every hostile shape gets the contract's error, never a crash."""

import json

import pytest

from dashboard.protocol.client_messages import (
    AckAlert,
    Ping,
    Subscribe,
    Unsubscribe,
    parse_client_message,
)
from dashboard.protocol.errors import DashboardError
from dashboard.protocol.scopes import HOSPITAL_SCOPE, Scope


def error_code(text: str) -> str:
    with pytest.raises(DashboardError) as info:
        parse_client_message(text)
    return info.value.code


def test_subscribe_with_since_is_parsed() -> None:
    message = parse_client_message(
        json.dumps({"type": "subscribe", "scope": "dept:ER", "since": {"epoch": "e1", "seq": 7}})
    )
    assert isinstance(message, Subscribe)
    assert message.scope == Scope("ER")
    assert message.since is not None
    assert message.since.seq == 7


def test_each_client_type_parses_to_its_own_class() -> None:
    assert isinstance(parse_client_message('{"type":"unsubscribe","scope":"hospital"}'), Unsubscribe)
    assert isinstance(parse_client_message('{"type":"ping","request_id":"r1"}'), Ping)
    ack = parse_client_message('{"type":"ack_alert","alert_id":"abc","request_id":3}')
    assert isinstance(ack, AckAlert)
    assert ack.request_id == 3
    assert parse_client_message('{"type":"subscribe","scope":"hospital"}').scope == HOSPITAL_SCOPE  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[1,2]",
        '"a string"',
        "{}",
        '{"type": 5}',
        '{"type":"subscribe"}',
        '{"type":"subscribe","scope":"dept:er"}',
        '{"type":"subscribe","scope":"dept:ABCDEFGHIJKLMNOPQ"}',
        '{"type":"subscribe","scope":{"$ne":null}}',
        '{"type":"subscribe","scope":"hospital","since":{"epoch":"e","seq":-1}}',
        '{"type":"subscribe","scope":"hospital","since":{"epoch":"e","seq":true}}',
        '{"type":"subscribe","scope":"hospital","since":{"epoch":"e","seq":1e400}}',
        '{"type":"ack_alert","alert_id":{"$ne":null}}',
        '{"type":"ack_alert","alert_id":""}',
        '{"type":"ack_alert","alert_id":"abc"}',
        '{"type":"ping"}',
        '{"type":"ping","request_id":{"a":1}}',
        '{"type":"ping","request_id":123456789012345678901234567890}',
        '{"type":"ping","request_id":NaN}',
        "[" * 5000 + "]" * 5000,
    ],
)
def test_malformed_messages_are_bad_requests(text: str) -> None:
    assert error_code(text) == "bad_request"


@pytest.mark.parametrize(
    "kind", ["dashboard.push", "dashboard_push", "websocket.disconnect", "connect", "hello", "__init__"]
)
def test_types_that_name_internal_handlers_are_unknown(kind: str) -> None:
    assert error_code(json.dumps({"type": kind})) == "unknown_type"


def test_frames_over_4_kib_are_refused() -> None:
    assert error_code(json.dumps({"type": "ping", "request_id": "x" * 5000})) == "bad_request"


def test_request_id_is_echoed_on_errors() -> None:
    with pytest.raises(DashboardError) as info:
        parse_client_message('{"type":"subscribe","scope":"nowhere","request_id":"r-9"}')
    assert info.value.request_id == "r-9"

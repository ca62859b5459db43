"""The protocol's JSON Schemas in docs/protocol/: generated from the code, and agreeing with the parser."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.management import call_command
from jsonschema import Draft202012Validator

from dashboard.management.commands.protocol_schema import protocol_dir, stale_files
from dashboard.protocol.client_messages import CLIENT_MESSAGE_TYPES, parse_client_message
from dashboard.protocol.errors import DashboardError
from dashboard.protocol.json_schema import schema_files
from dashboard.protocol.messages import SERVER_MESSAGE_TYPES

VALID_CLIENT_MESSAGES = [
    {"type": "subscribe", "scope": "dept:ICU_2", "since": {"epoch": "9f2c4e1ab07d3c55", "seq": 1288}},
    {"type": "subscribe", "scope": "hospital", "since": None, "request_id": None},
    {"type": "unsubscribe", "scope": "hospital", "request_id": -(2**53 - 1)},
    {"type": "ack_alert", "alert_id": "65f2c0a9e4b0c1d2e3f4a5b6", "request_id": "a" * 64},
    {"type": "reauth", "token": "t" * 2048},
    {"type": "ping", "request_id": 0, "extra": "ignored"},
]
INVALID_CLIENT_MESSAGES = [
    {"type": "subscribe"},
    {"type": "subscribe", "scope": "dept:er"},
    {"type": "subscribe", "scope": "dept:ABCDEFGHIJKLMNOPQ"},
    {"type": "subscribe", "scope": "hospital", "since": {"epoch": "e", "seq": -1}},
    {"type": "subscribe", "scope": "hospital", "since": {"epoch": "e" * 65, "seq": 1}},
    {"type": "subscribe", "scope": "hospital", "since": {"epoch": "e", "seq": 2**53}},
    {"type": "subscribe", "scope": "hospital", "since": {"epoch": "e", "seq": True}},
    {"type": "unsubscribe", "scope": "hospital", "request_id": "r" * 65},
    {"type": "unsubscribe", "scope": "hospital", "request_id": 2**53},
    {"type": "ack_alert", "alert_id": "", "request_id": 1},
    {"type": "ack_alert", "alert_id": "a" * 65, "request_id": 1},
    {"type": "ack_alert", "alert_id": "abc"},
    {"type": "reauth", "token": "t" * 2049},
    {"type": "ping"},
    {"type": "ping", "request_id": None},
]


def client_validator(kind: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads(schema_files()[f"client/{kind}.json"]))


def test_the_committed_files_are_what_the_generator_writes_now() -> None:
    assert stale_files(protocol_dir(), schema_files()) == [], "run: python manage.py protocol_schema"


def test_the_check_command_passes_on_the_committed_files() -> None:
    call_command("protocol_schema", "--check")


def test_there_is_one_valid_schema_per_message_type() -> None:
    files = schema_files()
    assert set(files) == {f"server/{kind}.json" for kind in SERVER_MESSAGE_TYPES} | {
        f"client/{kind}.json" for kind in CLIENT_MESSAGE_TYPES
    }
    for text in files.values():
        Draft202012Validator.check_schema(json.loads(text))


def test_a_changed_or_extra_file_is_reported(tmp_path: Path) -> None:
    files = schema_files()
    for path, text in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text, encoding="utf-8")
    (tmp_path / "server/pong.json").write_text("{}", encoding="utf-8")
    (tmp_path / "server/gossip.json").write_text("{}", encoding="utf-8")
    assert stale_files(tmp_path, files) == ["server/gossip.json", "server/pong.json"]


@pytest.mark.parametrize("message", VALID_CLIENT_MESSAGES, ids=lambda m: m["type"])
def test_what_the_schema_accepts_the_parser_accepts(message: dict) -> None:
    client_validator(message["type"]).validate(message)
    assert isinstance(parse_client_message(json.dumps(message)), CLIENT_MESSAGE_TYPES[message["type"]])


@pytest.mark.parametrize("message", INVALID_CLIENT_MESSAGES, ids=lambda m: m["type"])
def test_what_the_schema_refuses_the_parser_refuses(message: dict) -> None:
    assert not client_validator(message["type"]).is_valid(message)
    with pytest.raises(DashboardError):
        parse_client_message(json.dumps(message))

"""Every server message a test receives is checked against the protocol's JSON Schema of its type.

The schemas are the committed files of docs/protocol/server/, which a test keeps equal to what
`dashboard.protocol.json_schema` generates from the TypedDicts of `dashboard.protocol.messages`
(the one definition of each message, which mypy checks where messages are built). They are
checked closed: a key the schema does not name fails, as a key the TypedDict lacks would.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

SERVER_SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "protocol" / "server"


def closed(schema: Any) -> Any:
    """A copy of `schema` in which every object with named properties allows no other key.

    The published schemas are open (clients ignore fields they do not know); the tests close
    them so that a field the server sends without documenting it fails.
    """
    if isinstance(schema, list):
        return [closed(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {key: closed(value) for key, value in schema.items()}
    if "properties" in result and "additionalProperties" not in result:
        result["additionalProperties"] = False
    return result


@functools.cache
def _validators() -> dict[str, Draft202012Validator]:
    validators = {}
    for path in sorted(SERVER_SCHEMAS.glob("*.json")):
        schema = closed(json.loads(path.read_text(encoding="utf-8")))
        Draft202012Validator.check_schema(schema)
        validators[path.stem] = Draft202012Validator(schema)
    return validators


def problems(message: dict[str, Any]) -> list[str]:
    """What in `message` does not match the schema of its type: missing, unknown or mistyped keys."""
    kind = message.get("type")
    validator = _validators().get(kind) if isinstance(kind, str) else None
    if validator is None:
        return [f"unlisted message type {kind!r}"]
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '(message)'}: {error.message}"
        for error in validator.iter_errors(message)
    ]


def check_schema(message: dict[str, Any]) -> None:
    found = problems(message)
    assert not found, f"{message.get('type')} {'; '.join(found)}: {message}"

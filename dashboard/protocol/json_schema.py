"""JSON Schemas (draft 2020-12) of the WebSocket protocol, generated from its own definitions.

Server messages come from the TypedDicts of `dashboard.protocol.messages` (SERVER_MESSAGE_TYPES),
client messages from the dataclasses of `dashboard.protocol.client_messages`
(CLIENT_MESSAGE_TYPES) and the limits its parser applies. `schema_files()` is what
`python manage.py protocol_schema` writes to docs/protocol/; a test keeps those files equal to it.

Objects are left open (no `additionalProperties: false`): clients must ignore fields they do
not know, and the server ignores unknown fields of client messages (docs/API_REFERENCE.md).
The tests close them to check that the server sends no field the schemas do not name.
"""

from __future__ import annotations

import dataclasses
import json
import types
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints, is_typeddict

from dashboard.protocol.client_messages import (
    BOUNDED_STRINGS,
    CLIENT_MESSAGE_TYPES,
    INTEGER_BOUND,
    MAX_CLIENT_FRAME_BYTES,
    MAX_EPOCH_CHARS,
    MAX_JSON_DEPTH,
    MAX_REQUEST_ID_CHARS,
    Since,
)
from dashboard.protocol.messages import PROTOCOL_VERSION, SERVER_MESSAGE_TYPES
from dashboard.protocol.scopes import SCOPE_PATTERN, Scope

DIALECT = "https://json-schema.org/draft/2020-12/schema"
Schema = dict[str, Any]

_PLAIN_TYPES: dict[Any, str] = {str: "string", int: "integer", float: "number", bool: "boolean"}
_PLAIN_TYPES[type(None)] = "null"

_REQUEST_ID: Schema = {
    "type": ["string", "integer"],
    "maxLength": MAX_REQUEST_ID_CHARS,
    "minimum": -(INTEGER_BOUND - 1),
    "maximum": INTEGER_BOUND - 1,
}
_CLIENT_RULES = (
    f"A text frame of at most {MAX_CLIENT_FRAME_BYTES} bytes of UTF-8, JSON nested at most "
    f"{MAX_JSON_DEPTH} levels deep, every string valid Unicode; fields not named here are ignored."
)


def _union(options: tuple[Any, ...]) -> Schema:
    if all(option in _PLAIN_TYPES for option in options):
        return {"type": [_PLAIN_TYPES[option] for option in options]}
    return {"anyOf": [annotation_schema(option) for option in options]}


def annotation_schema(annotation: Any) -> Schema:
    """The JSON Schema of one type annotation of a server message's TypedDict."""
    origin = get_origin(annotation)
    if annotation is Any:
        return {}
    if annotation in _PLAIN_TYPES:
        return {"type": _PLAIN_TYPES[annotation]}
    if origin is Literal:
        values = list(get_args(annotation))
        return {"const": values[0]} if len(values) == 1 else {"enum": values}
    if origin in (Union, types.UnionType):
        return _union(get_args(annotation))
    if origin is list:
        return {"type": "array", "items": annotation_schema(get_args(annotation)[0])}
    if origin is dict:
        values = get_args(annotation)[1]
        if values is Any:
            return {"type": "object"}
        return {"type": "object", "additionalProperties": annotation_schema(values)}
    if is_typeddict(annotation):
        return typed_dict_schema(annotation)
    raise TypeError(f"no JSON Schema for {annotation!r}")


def typed_dict_schema(typed_dict: Any) -> Schema:
    """An object with the TypedDict's keys, in declaration order, and its required ones."""
    hints = get_type_hints(typed_dict)
    return {
        "type": "object",
        "properties": {key: annotation_schema(value) for key, value in hints.items()},
        "required": [key for key in hints if key in typed_dict.__required_keys__],
    }


def server_message_schema(kind: str) -> Schema:
    """The schema of the server message `kind` (a key of SERVER_MESSAGE_TYPES), without `$schema`."""
    return {
        "title": f"{kind} (server to client, protocol {PROTOCOL_VERSION})",
        **typed_dict_schema(SERVER_MESSAGE_TYPES[kind]),
    }


def _nullable(schema: Schema) -> Schema:
    kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    return {**schema, "type": [*kinds, "null"]}


def _client_field_schema(name: str, annotation: Any) -> Schema:
    if annotation is Scope:
        return {"type": "string", "pattern": SCOPE_PATTERN}
    if annotation is Since:
        return {
            "type": "object",
            "properties": {
                "epoch": {"type": "string", "maxLength": MAX_EPOCH_CHARS},
                "seq": {"type": "integer", "minimum": 0, "maximum": INTEGER_BOUND - 1},
            },
            "required": ["epoch", "seq"],
        }
    if name == "request_id":
        return _REQUEST_ID
    if annotation is str and name in BOUNDED_STRINGS:
        return {"type": "string", "minLength": 1, "maxLength": BOUNDED_STRINGS[name]}
    raise TypeError(f"no JSON Schema for the client field {name}: {annotation!r}")


def client_message_schema(kind: str) -> Schema:
    """The schema of the client message `kind` (a key of CLIENT_MESSAGE_TYPES), without `$schema`.

    A field whose dataclass type admits None is optional and may be null; the others are required.
    """
    message_class = CLIENT_MESSAGE_TYPES[kind]
    hints = get_type_hints(message_class)
    properties: Schema = {"type": {"const": kind}}
    required = ["type"]
    for field in dataclasses.fields(message_class):
        options = get_args(hints[field.name]) if get_origin(hints[field.name]) is types.UnionType else ()
        optional = type(None) in options
        present = [option for option in options if option is not type(None)]
        annotation = present[0] if optional and len(present) == 1 else hints[field.name]
        schema = _client_field_schema(field.name, annotation)
        properties[field.name] = _nullable(schema) if optional else schema
        if not optional:
            required.append(field.name)
    return {
        "title": f"{kind} (client to server, protocol {PROTOCOL_VERSION})",
        "description": _CLIENT_RULES,
        "type": "object",
        "properties": properties,
        "required": required,
    }


def schema_files() -> dict[str, str]:
    """Each file of docs/protocol/'s generated schemas, by its path there, with its text."""
    documents = {f"server/{kind}.json": server_message_schema(kind) for kind in SERVER_MESSAGE_TYPES}
    documents |= {f"client/{kind}.json": client_message_schema(kind) for kind in CLIENT_MESSAGE_TYPES}
    return {
        path: json.dumps({"$schema": DIALECT, **schema}, indent=2, ensure_ascii=False) + "\n"
        for path, schema in documents.items()
    }

"""Every server message a test receives is checked against the protocol's TypedDict of its type.

The TypedDicts of `dashboard.protocol.messages` are the one definition of each message: mypy
checks them where messages are built, and this check holds what arrives on a socket to them.
"""

from __future__ import annotations

import types
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints, is_typeddict

from dashboard.protocol.messages import SERVER_MESSAGE_TYPES


def _conforms(value: Any, annotation: Any) -> bool:
    origin = get_origin(annotation)
    if annotation is Any:
        return True
    if origin is Literal:
        return value in get_args(annotation)
    if origin in (Union, types.UnionType):
        return any(_conforms(value, option) for option in get_args(annotation))
    if annotation is type(None):
        return value is None
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if annotation is str:
        return isinstance(value, str)
    if origin is list:
        return isinstance(value, list) and all(_conforms(item, get_args(annotation)[0]) for item in value)
    if origin is dict:
        return isinstance(value, dict) and all(
            _conforms(item, get_args(annotation)[1]) for item in value.values()
        )
    if is_typeddict(annotation):
        return isinstance(value, dict) and not problems(value, annotation)
    raise TypeError(f"no runtime check for {annotation!r}")


def problems(message: dict[str, Any], schema: Any) -> list[str]:
    """What in `message` does not match the TypedDict `schema`: missing, unknown or mistyped keys."""
    hints = get_type_hints(schema)
    found = [f"lacks {key}" for key in sorted(schema.__required_keys__ - message.keys())]
    found += [f"has unknown {key}" for key in sorted(message.keys() - hints.keys())]
    found += [
        f"{key} is not {hints[key]}"
        for key in sorted(message.keys() & hints.keys())
        if not _conforms(message[key], hints[key])
    ]
    return found


def check_schema(message: dict[str, Any]) -> None:
    kind = message.get("type")
    assert kind in SERVER_MESSAGE_TYPES, f"unlisted message type: {message}"
    found = problems(message, SERVER_MESSAGE_TYPES[kind])
    assert not found, f"{kind} {', '.join(found)}: {message}"

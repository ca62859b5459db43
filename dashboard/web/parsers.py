"""JSON request bodies with a string that cannot be encoded as UTF-8 are a bad request (400).

JSON's `\\ud800` escapes decode to lone surrogates; passed on, they fail deep inside a
database driver (a 500). Refused here, at the edge, as the socket refuses them (§8).
"""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from dashboard.protocol.client_messages import encodable


class UnicodeJSONParser(JSONParser):
    """DRF's JSON parser, refusing any string (key or value) that is not valid Unicode."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        data = super().parse(stream, media_type, parser_context)
        if not encodable(data):
            raise ParseError("a string in the request is not valid Unicode")
        return data

"""Web origins (contract §4): what an `Origin` header or a `WS_ALLOWED_ORIGINS` entry names.

An origin is a scheme, a host and a port. Two origins are the same when all three are equal;
the port a scheme implies counts as written (`https://dash.example` is
`https://dash.example:443`), and host names compare without case, as browsers send them.
"""

from __future__ import annotations

from typing import NamedTuple
from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}


class Origin(NamedTuple):
    scheme: str  # "http" or "https"
    host: str  # lower case; an IPv6 address without its brackets
    port: int


def parse_origin(text: str) -> Origin | None:
    """The origin `scheme://host[:port]` names; None for anything else.

    None for `null`, a scheme other than http and https, a missing host, a port out of range,
    user information, or any path, query or fragment (an Origin header never has them).
    """
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    if "@" in parts.netloc or parts.path or parts.query or parts.fragment or text.endswith(("?", "#")):
        return None
    return Origin(parts.scheme, parts.hostname, DEFAULT_PORTS[parts.scheme] if port is None else port)

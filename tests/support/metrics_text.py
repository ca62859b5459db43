"""Reading a web process's /metrics in the end-to-end tests."""

from __future__ import annotations

import socket
import urllib.request

from prometheus_client.parser import text_string_to_metric_families


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return str(response.read().decode())


def samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    """Every sample of `name` in an exposition: (labels, value)."""
    return [
        (dict(sample.labels), sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    ]


def open_connections(text: str, port: int | None = None) -> int:
    """dash_ws_connections summed over roles: of the web process on `port`, or of every one."""
    server = None if port is None else f"{socket.gethostname()}:{port}"
    return int(
        sum(
            value
            for labels, value in samples(text, "dash_ws_connections")
            if server is None or labels["server"] == server
        )
    )

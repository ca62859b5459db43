"""The partition proxy of row 11 (chaos/partition.py): forwards, blackholes while cut, and
delivers what it held once healed."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaos.partition import Partition

SILENT_S = 0.5


@pytest.fixture
def echo_port() -> Iterator[int]:
    """A server on 127.0.0.1 that sends back every byte it gets, one thread per connection."""
    listener = socket.create_server(("127.0.0.1", 0))

    def echo(conn: socket.socket) -> None:
        with conn:
            try:
                while data := conn.recv(4096):
                    conn.sendall(data)
            except ConnectionResetError:
                return  # a test gave the connection up (reset by the proxy or the client)

    def accept() -> None:
        while True:
            try:
                conn, _addr = listener.accept()
            except OSError:
                return
            threading.Thread(target=echo, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    yield listener.getsockname()[1]
    listener.close()


@pytest.fixture
def proxy(echo_port: int, tmp_path: Path) -> Iterator[Partition]:
    partition = Partition(echo_port, tmp_path / "partition.log").start()
    yield partition
    partition.stop()


def _connect(port: int) -> socket.socket:
    conn = socket.create_connection(("127.0.0.1", port), timeout=5)
    conn.settimeout(5)
    return conn


def _silent(conn: socket.socket) -> bool:
    """Whether nothing, not even the end of the connection, arrives within SILENT_S."""
    conn.settimeout(SILENT_S)
    try:
        conn.recv(4096)
    except TimeoutError:
        return True
    finally:
        conn.settimeout(5)
    return False


def test_it_forwards_both_ways(proxy: Partition) -> None:
    with _connect(proxy.port) as conn:
        conn.sendall(b"PING\r\n")
        assert conn.recv(4096) == b"PING\r\n"


def test_while_cut_nothing_passes_and_nobody_is_told(proxy: Partition) -> None:
    with _connect(proxy.port) as before:
        before.sendall(b"one")
        assert before.recv(4096) == b"one"
        proxy.cut()
        before.sendall(b"two")
        assert _silent(before)
        with _connect(proxy.port) as during:  # accepted, as the caller cannot tell the cut
            during.sendall(b"three")
            assert _silent(during)
            proxy.heal()
            assert during.recv(4096) == b"three"
        assert before.recv(4096) == b"two"


def test_a_connection_given_up_while_cut_leaves_the_proxy_serving_after_the_heal(
    proxy: Partition,
) -> None:
    proxy.cut()
    given_up = _connect(proxy.port)
    given_up.sendall(b"lost")
    given_up.close()
    proxy.heal()
    with _connect(proxy.port) as after:
        after.sendall(b"again")
        assert after.recv(4096) == b"again"

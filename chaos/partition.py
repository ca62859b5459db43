"""A TCP proxy on 127.0.0.1 that a fault can cut and heal: a network partition between one
process and a server (row 11: a web process and Redis).

While cut it is a blackhole, as a real partition is: packets are lost, nobody answers and
nobody is told. Existing connections stay open and carry nothing (bytes already read are held,
the rest wait in the kernel's buffers); a new connection is accepted and then carries nothing
either, as a SYN that gets no answer leaves the caller to its own timeout. Closing connections
or refusing new ones would be kinder than a partition: the caller would learn at once that the
server is gone (an RST), while behind a partition it learns only from its own timeouts, and
those are what the fault tests. On heal the held bytes are delivered, as TCP's retransmissions
deliver them once the path is back; a connection its caller gave up on meanwhile is closed
through to the server then.

It runs as a process of its own (`python -m chaos.partition LISTEN_PORT TARGET_PORT`), so the
traffic it forwards does not compete with the load's clients for one interpreter: SIGUSR1 cuts,
SIGUSR2 heals, SIGTERM stops; it prints `listening`, `cut` and `healed` when each is done.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from devstack.procfile import ROOT
from devstack.services import ManagedProcess, free_port

CHUNK = 65536
READY_TIMEOUT_S = 15.0


class Blackhole:
    """The proxy inside one event loop: forwards connections to 127.0.0.1:`target_port`."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.passing = asyncio.Event()
        self.passing.set()

    async def connected(
        self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        """One accepted connection, forwarded until either side ends (a callback of start_server)."""
        await self.passing.wait()
        try:
            server_reader, server_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            client_writer.transport.abort()
            return
        await asyncio.gather(
            self._pump(client_reader, server_writer),
            self._pump(server_reader, client_writer),
            return_exceptions=True,
        )

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Copy until one side ends, then end the other; a chunk read while cut waits for the heal."""
        try:
            while chunk := await reader.read(CHUNK):
                await self.passing.wait()
                writer.write(chunk)
                await writer.drain()
        finally:
            await self.passing.wait()
            writer.transport.abort()


async def serve(listen_port: int, target_port: int) -> None:
    """Forward 127.0.0.1:`listen_port` to `target_port` until SIGTERM; SIGUSR1 cuts, SIGUSR2 heals."""
    proxy = Blackhole(target_port)
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()

    def cut() -> None:
        proxy.passing.clear()
        print("cut", flush=True)

    def heal() -> None:
        proxy.passing.set()
        print("healed", flush=True)

    loop.add_signal_handler(signal.SIGUSR1, cut)
    loop.add_signal_handler(signal.SIGUSR2, heal)
    loop.add_signal_handler(signal.SIGTERM, stopped.set)
    server = await asyncio.start_server(proxy.connected, "127.0.0.1", listen_port)
    print("listening", flush=True)
    async with server:
        await stopped.wait()


@dataclass
class Partition:
    """The proxy process between a client on 127.0.0.1:`port` and 127.0.0.1:`target_port`.

    `cut()` and `heal()` return once the proxy has done it (OSError when it does not say so
    within READY_TIMEOUT_S); `stop()` ends it (idempotent).
    """

    target_port: int
    log_path: Path
    port: int = 0
    proc: ManagedProcess | None = None

    def start(self) -> Partition:
        self.port = self.port or free_port()
        self.proc = ManagedProcess(
            "partition",
            [sys.executable, "-m", "chaos.partition", str(self.port), str(self.target_port)],
            self.log_path,
            cwd=ROOT,
        ).start()
        self._wait_for("listening", 1)
        return self

    def cut(self) -> None:
        self._signal(signal.SIGUSR1, "cut")

    def heal(self) -> None:
        self._signal(signal.SIGUSR2, "healed")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()

    def _signal(self, signum: int, said: str) -> None:
        assert self.proc is not None, "start() first"
        before = self._lines().count(said)
        self.proc.signal(signum)
        self._wait_for(said, before + 1)

    def _lines(self) -> list[str]:
        try:
            return self.log_path.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return []

    def _wait_for(self, said: str, times: int) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + READY_TIMEOUT_S
        while self._lines().count(said) < times:
            if not self.proc.alive() or time.monotonic() > deadline:
                raise OSError(f"the partition proxy did not say {said!r}: {self.proc.log_tail()}")
            time.sleep(0.05)


def main(argv: list[str] | None = None) -> None:
    """`python -m chaos.partition LISTEN_PORT TARGET_PORT`."""
    listen_port, target_port = (int(arg) for arg in (argv if argv is not None else sys.argv[1:]))
    asyncio.run(serve(listen_port, target_port))


if __name__ == "__main__":
    main()

"""The notifications_throughput bench's SMTP sink: a real aiosmtpd server that counts what it accepts and keeps
each message's envelope and exact bytes (no parsing), run in a process of its own or in a thread.

    python -m bench.machinery.smtp_sink [--host 127.0.0.1] [--port 0]

As a process it prints `ready <port>` once listening, then answers one command per line on stdin, one line
on stdout each:

    wait N      → `count <n>` once at least N messages were accepted
    stats       → `stats <messages> <bytes> <cpu seconds of this process>`
    dump PATH   → `dumped <n>` once every message kept so far is pickled into PATH as (from, [to], bytes)
    (end of input) → the process exits

`ProcessSink` starts it and speaks that protocol; `ThreadSink` runs the same handler on aiosmtpd's
Controller thread inside the caller's process (the in-process mode), behind the same interface.
"""

from __future__ import annotations

import argparse
import asyncio
import pickle
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import Envelope, Session

Mail = tuple[str, list[str], bytes]
_REPOSITORY = Path(__file__).resolve().parents[2]


class CountingHandler:
    """Accepts every message, keeping its envelope and the bytes as received (dot-unstuffed, CRLF)."""

    def __init__(self) -> None:
        self.mails: list[Mail] = []
        self.bytes = 0
        self._waiters: list[tuple[int, asyncio.Future[int]]] = []

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        self.mails.append((str(envelope.mail_from), list(envelope.rcpt_tos), content))
        self.bytes += len(content)
        self._wake()
        return "250 Message accepted for delivery"

    async def wait(self, count: int) -> int:
        """Returns once at least `count` messages were accepted (on the server's own loop)."""
        if len(self.mails) >= count:
            return len(self.mails)
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._waiters.append((count, future))
        return await future

    def _wake(self) -> None:
        received = len(self.mails)
        pending = []
        for count, future in self._waiters:
            if received >= count:
                if not future.done():
                    future.set_result(received)
            else:
                pending.append((count, future))
        self._waiters = pending


async def _serve(host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    handler = CountingHandler()
    server = await loop.create_server(
        lambda: SMTPServer(handler, hostname="bench-sink", enable_SMTPUTF8=True, loop=loop), host, port
    )
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    out = sys.stdout
    out.write(f"ready {server.sockets[0].getsockname()[1]}\n")
    out.flush()
    try:
        while line := (await reader.readline()).decode().strip():
            command, _, argument = line.partition(" ")
            if command == "wait":
                answer = f"count {await handler.wait(int(argument))}"
            elif command == "stats":
                answer = f"stats {len(handler.mails)} {handler.bytes} {time.process_time():.6f}"
            elif command == "dump":
                Path(argument).write_bytes(pickle.dumps(handler.mails))
                answer = f"dumped {len(handler.mails)}"
            else:
                answer = f"error unknown command {command!r}"
            out.write(answer + "\n")
            out.flush()
    finally:
        server.close()
        await server.wait_closed()


class ProcessSink:
    """The sink in a child process (`python -m bench.machinery.smtp_sink`), as the embedded run deploys its
    SMTP sink."""

    hostname = "127.0.0.1"

    def __init__(self) -> None:
        self.port = 0
        self._process: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()

    async def __aenter__(self) -> ProcessSink:
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.machinery.smtp_sink",
            "--host",
            self.hostname,
            "--port",
            "0",
            cwd=_REPOSITORY,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        word, port = (await self._read_line()).split()
        if word != "ready":
            raise RuntimeError(f"SMTP sink did not start: {word} {port}")
        self.port = int(port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._process is not None and self._process.stdin is not None
        self._process.stdin.close()
        try:
            await asyncio.wait_for(self._process.wait(), timeout=10)
        except TimeoutError:
            self._process.kill()
            await self._process.wait()

    async def _read_line(self) -> str:
        assert self._process is not None and self._process.stdout is not None
        line = (await self._process.stdout.readline()).decode().strip()
        if not line:
            raise RuntimeError(f"SMTP sink exited (code {await self._process.wait()})")
        return line

    async def _ask(self, command: str) -> list[str]:
        assert self._process is not None and self._process.stdin is not None
        async with self._lock:
            self._process.stdin.write(f"{command}\n".encode())
            await self._process.stdin.drain()
            return (await self._read_line()).split()

    async def wait_for(self, count: int) -> int:
        """Returns once the sink accepted at least `count` messages (it answers then; no polling)."""
        return int((await self._ask(f"wait {count}"))[1])

    async def stats(self) -> tuple[int, int, float]:
        """Messages and bytes accepted so far, and the sink process's CPU seconds."""
        _, messages, size, cpu = await self._ask("stats")
        return int(messages), int(size), float(cpu)

    async def mails(self) -> list[Mail]:
        """Every message accepted so far: (from, [to], bytes as received)."""
        with tempfile.NamedTemporaryFile(prefix="bench-sink-", suffix=".pickle") as dump:
            await self._ask(f"dump {dump.name}")
            mails: list[Mail] = pickle.loads(Path(dump.name).read_bytes())
        return mails


class ThreadSink:
    """The same handler on aiosmtpd's Controller thread, in the caller's process (shares its GIL)."""

    hostname = "127.0.0.1"

    def __init__(self) -> None:
        self.handler = CountingHandler()
        with socket.socket() as probe:  # Controller checks it is up by connecting: it needs a real port
            probe.bind((self.hostname, 0))
            self.port = int(probe.getsockname()[1])
        self._controller = Controller(
            self.handler, hostname=self.hostname, port=self.port, server_hostname="bench-sink"
        )

    async def __aenter__(self) -> ThreadSink:
        await asyncio.to_thread(self._controller.start)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self._controller.stop)

    async def wait_for(self, count: int) -> int:
        """Returns once the sink accepted at least `count` messages (awaited on the sink's own loop)."""
        return await asyncio.wrap_future(
            asyncio.run_coroutine_threadsafe(self.handler.wait(count), self._controller.loop)
        )

    async def stats(self) -> tuple[int, int, float]:
        """Messages and bytes accepted so far; CPU is the whole process's (the sink has none of its own)."""
        return len(self.handler.mails), self.handler.bytes, time.process_time()

    async def mails(self) -> list[Mail]:
        return list(self.handler.mails)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.machinery.smtp_sink", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: a free port, printed in the `ready` line")
    args: Any = parser.parse_args(argv)
    asyncio.run(_serve(args.host, args.port))


if __name__ == "__main__":
    main()

"""The load generator: keep N connections busy on a server for a time, cycling over paths, and measure what it
answered (requests/s, latencies) and what it cost (CPU per request of the server process, of the PostgreSQL
backends of the bench database, and of the load generator itself)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.machinery.http_clients import HttpxClient, RawHttpClient
from bench.machinery.postgres import ADMIN_URL, plain_url
from bench.machinery.servers import HOST, ServerProcess, process_cpu_seconds


@dataclass
class Measurement:
    label: str
    requests: int = 0
    errors: int = 0
    elapsed: float = 0.0
    latencies: list[float] = field(default_factory=list)
    response_bytes: int = 0
    server_cpu: float = 0.0
    postgres_cpu: float = 0.0
    new_sessions: int = 0
    client_cpu: float = 0.0
    error_samples: list[str] = field(default_factory=list)

    @property
    def rps(self) -> float:
        return self.requests / self.elapsed if self.elapsed else 0.0

    def quantile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    def per_request_ms(self, seconds: float) -> float:
        return seconds * 1000 / self.requests if self.requests else float("nan")

    def line(self) -> str:
        text = (
            f"{self.label:<28} {self.rps:8.1f} req/s  p50 {self.quantile(0.5):6.1f} ms  "
            f"p95 {self.quantile(0.95):6.1f} ms  n={self.requests:<6}  "
            f"cpu/req: server {self.per_request_ms(self.server_cpu):5.2f} ms, "
            f"postgres {self.per_request_ms(self.postgres_cpu):5.2f} ms, "
            f"client {self.per_request_ms(self.client_cpu):4.2f} ms; new PG sessions {self.new_sessions}"
        )
        if self.errors:
            text += f"  ERRORS {self.errors} (e.g. {self.error_samples[:1]})"
        return text


@dataclass
class Target:
    """A server under load: how to reach it and which paths to cycle over."""

    server: ServerProcess
    paths: list[str]
    headers: dict[str, str]


class LoadGenerator:
    """`concurrency` keep-alive connections of the `client` kind ("raw" or "httpx"); with `watch_postgres`,
    the CPU of the bench database's PostgreSQL backends is counted too."""

    def __init__(self, concurrency: int, client: str = "raw") -> None:
        self.concurrency = concurrency
        self.client = client
        self.database_name: str | None = None
        self.admin: Any = None  # asyncpg connection to the admin database (CPU accounting)

    async def watch_postgres(self, database_name: str) -> None:
        """Count the CPU and new sessions of this database's backends in each measurement."""
        import asyncpg

        self.database_name = database_name
        self.admin = await asyncpg.connect(plain_url(ADMIN_URL))

    async def close(self) -> None:
        if self.admin is not None:
            await self.admin.close()
            self.admin = None

    async def _postgres_pids(self) -> list[int]:
        if self.admin is None:
            return []
        rows = await self.admin.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1", self.database_name
        )
        return [row["pid"] for row in rows]

    async def _sessions(self) -> int:
        """Sessions ever opened on the bench database (PostgreSQL >= 14; counted when backends flush stats)."""
        if self.admin is None:
            return 0
        with contextlib.suppress(Exception):
            return int(
                await self.admin.fetchval(
                    "SELECT sessions FROM pg_stat_database WHERE datname = $1", self.database_name
                )
                or 0
            )
        return 0

    async def _watch_backends(self, cpu: dict[int, list[float]], stop: asyncio.Event) -> None:
        """CPU of the bench database's backends, polled every 100 ms so that short-lived ones (a pool opening
        and closing connections) are mostly counted too: pid -> [CPU at first sight or 0 if new, last CPU]."""
        first = True
        while True:
            for pid in await self._postgres_pids():
                now = process_cpu_seconds(pid)
                if pid in cpu:
                    cpu[pid][1] = max(cpu[pid][1], now)
                else:
                    cpu[pid] = [now if first else 0.0, now]
            first = False
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.1)
                return

    async def measure(
        self,
        target: Target,
        label: str,
        *,
        warmup: float,
        duration: float,
        on_measure_start: Callable[[], None] | None = None,
        concurrency: int | None = None,
    ) -> Measurement:
        """Warm up, then load `target` for `duration` seconds with `concurrency` connections."""
        paths = target.paths
        concurrency = concurrency or self.concurrency
        httpx_client = None
        if self.client == "httpx":
            import httpx

            httpx_client = httpx.AsyncClient(
                base_url=f"http://{HOST}:{target.server.port}",
                headers=target.headers,
                timeout=30,
                limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
            )
            clients: list[Any] = [HttpxClient(httpx_client) for _ in range(concurrency)]
        else:
            clients = [RawHttpClient(HOST, target.server.port, target.headers) for _ in range(concurrency)]
        try:
            for client in clients:
                await client.connect()
            counter = itertools.count()
            if warmup > 0:
                await self._drive(clients, paths, counter, warmup, Measurement("warm-up"))
            result = Measurement(label)
            backends: dict[int, list[float]] = {}
            stop = asyncio.Event()
            sessions_before = await self._sessions()
            watcher = asyncio.create_task(self._watch_backends(backends, stop))
            await asyncio.sleep(0)
            server_before = target.server.cpu_seconds()
            client_before = time.process_time()
            if on_measure_start is not None:
                on_measure_start()
            await self._drive(clients, paths, counter, duration, result)
            result.client_cpu = time.process_time() - client_before
            result.server_cpu = target.server.cpu_seconds() - server_before
            stop.set()
            await watcher
            result.postgres_cpu = sum(last - first for first, last in backends.values())
            result.new_sessions = await self._sessions() - sessions_before
            return result
        finally:
            for client in clients:
                await client.close()
            if httpx_client is not None:
                await httpx_client.aclose()

    async def _drive(
        self, clients: Sequence[Any], paths: list[str], counter: Any, duration: float, result: Measurement
    ) -> None:
        started = time.perf_counter()
        deadline = started + duration

        async def worker(client: Any) -> None:
            while time.perf_counter() < deadline:
                path = paths[next(counter) % len(paths)]
                sent = time.perf_counter()
                try:
                    status, body = await client.get(path)
                except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    result.errors += 1
                    result.error_samples.append(repr(exc))
                    with contextlib.suppress(Exception):
                        await client.close()
                        await client.connect()
                    continue
                if status != 200:
                    result.errors += 1
                    result.error_samples.append(f"HTTP {status}: {body[:200]!r}")
                    continue
                result.latencies.append(time.perf_counter() - sent)
                result.requests += 1
                result.response_bytes += len(body)

        await asyncio.wait_for(asyncio.gather(*(worker(client) for client in clients)), duration + 60)
        result.elapsed = time.perf_counter() - started

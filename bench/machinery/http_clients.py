"""The load generator's HTTP clients, behind one interface (`connect`, `get`, `close`): a minimal HTTP/1.1
keep-alive client, about 0.08 ms of CPU a request, and httpx for comparison (about 2.3 ms a request here,
which caps it below what the baselines serve)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any


class RawHttpClient:
    """A minimal HTTP/1.1 keep-alive client (GET only): far cheaper per request than httpx, so that on a
    2-core machine the load generator takes as little CPU as possible from the servers it measures."""

    def __init__(self, host: str, port: int, headers: dict[str, str]) -> None:
        self.host, self.port = host, port
        self.extra = b"".join(f"{name}: {value}\r\n".encode("latin-1") for name, value in headers.items())
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def connect(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port, limit=1 << 20)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()
            self.writer = None

    async def get(self, path: str) -> tuple[int, bytes]:
        status, _headers, body = await self.request("GET", path)
        return status, body

    async def request(
        self, method: str, path: str, json_body: bytes | None = None
    ) -> tuple[int, dict[bytes, bytes], bytes]:
        """One request (a JSON body for a POST); the status, the headers (lower-cased) and the body."""
        assert self.reader is not None and self.writer is not None
        body_headers = (
            b""
            if json_body is None
            else (
                b"Content-Type: application/json\r\nContent-Length: " + str(len(json_body)).encode() + b"\r\n"
            )
        )
        self.writer.write(
            method.encode()
            + b" "
            + path.encode("latin-1")
            + b" HTTP/1.1\r\nHost: "
            + self.host.encode()
            + b"\r\n"
            + self.extra
            + body_headers
            + b"\r\n"
            + (json_body or b"")
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        headers = {}
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name:
                headers[name.strip().lower()] = value.strip().lower()
        if b"content-length" in headers:
            body = await self.reader.readexactly(int(headers[b"content-length"]))
        elif headers.get(b"transfer-encoding") == b"chunked":
            chunks = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
                if size == 0:
                    await self.reader.readuntil(b"\r\n")
                    break
                chunks.append((await self.reader.readexactly(size + 2))[:-2])
            body = b"".join(chunks)
        else:
            body = await self.reader.read()
        if headers.get(b"connection") == b"close" or (
            b"content-length" not in headers and b"transfer-encoding" not in headers
        ):
            await self.close()
            await self.connect()
        return status, headers, body


class HttpxClient:
    """The same interface over one shared httpx.AsyncClient."""

    def __init__(self, client: Any) -> None:
        self.client = client

    async def connect(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def get(self, path: str) -> tuple[int, bytes]:
        response = await self.client.get(path)
        return response.status_code, response.content

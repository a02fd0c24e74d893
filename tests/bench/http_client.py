"""A minimal HTTP/1.1 keep-alive client for load generation.

httpx spends more CPU per request than the small servers it would measure, on a machine
whose cores the server and PostgreSQL need too. This client writes prepared request bytes
and reads the status line, the headers and a `Content-Length` (or chunked) body: enough
for uvicorn, and about an order of magnitude cheaper per request than httpx.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from tests.bench.drivers import AsyncAppend

_HEADER_END = b"\r\n\r\n"
_READ_LIMIT = 16 * 1024 * 1024


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes


class HttpConnection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    @classmethod
    async def open(cls, host: str, port: int) -> HttpConnection:
        reader, writer = await asyncio.open_connection(host, port, limit=_READ_LIMIT)
        return cls(reader, writer)

    async def exchange(self, request: bytes) -> Response:
        self._writer.write(request)
        head = await self._reader.readuntil(_HEADER_END)
        status = int(head[9:12])
        headers = head.lower()
        length = _header(headers, b"content-length")
        if length is not None:
            return Response(status, await self._reader.readexactly(int(length)))
        if _header(headers, b"transfer-encoding") == b"chunked":
            return Response(status, await self._chunked())
        return Response(status, b"")

    async def _chunked(self) -> bytes:
        parts = []
        while True:
            size = int((await self._reader.readuntil(b"\r\n")).split(b";")[0], 16)
            parts.append((await self._reader.readexactly(size + 2))[:-2])
            if size == 0:
                return b"".join(parts)

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(ConnectionError):
            await self._writer.wait_closed()


def _header(head: bytes, name: bytes) -> bytes | None:
    start = head.find(b"\r\n" + name + b":")
    if start < 0:
        return None
    start += len(name) + 3
    return head[start : head.index(b"\r\n", start)].strip()


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    token: str | None = None

    def request(
        self,
        method: str,
        path: str,
        body: bytes,
        content_type: str,
        headers: Mapping[str, str] | None = None,
    ) -> bytes:
        lines = [
            f"{method} {path} HTTP/1.1",
            f"Host: {self.host}:{self.port}",
            f"Content-Type: {content_type}",
            f"Content-Length: {len(body)}",
        ]
        if self.token:
            lines.append(f"Authorization: Bearer {self.token}")
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@dataclass(frozen=True)
class Call:
    """One request, and how to tell from the answer how many events the server stored."""

    request: bytes
    stored: Callable[[Response], int]


CallFactory = Callable[[], Call]
"""Makes the next request of a workload."""


@dataclass
class Tally:
    """What the server answered, over every call of one measurement."""

    statuses: Counter[int] = field(default_factory=Counter)

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    @property
    def failures(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 300)


class Clients:
    """`size` open connections to one endpoint; each makes an `AsyncAppend` for the drivers."""

    def __init__(self, connections: list[HttpConnection], tally: Tally) -> None:
        self._connections = connections
        self.tally = tally

    @classmethod
    async def open(cls, endpoint: Endpoint, size: int) -> Clients:
        connections = [await HttpConnection.open(endpoint.host, endpoint.port) for _ in range(size)]
        return cls(connections, Tally())

    def appends(self, calls: CallFactory) -> list[AsyncAppend]:
        return [self._append(c, calls) for c in self._connections]

    def _append(self, connection: HttpConnection, calls: CallFactory) -> AsyncAppend:
        async def append() -> int:
            call = calls()
            response = await connection.exchange(call.request)
            self.tally.statuses[response.status] += 1
            return call.stored(response)

        return append

    async def close(self) -> None:
        for connection in self._connections:
            await connection.close()

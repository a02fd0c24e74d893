"""Our append path, exactly as a service uses it: `create_engine`, `engine.begin()`,
`PostgresEventStore.append` with the expected version, events and outbox in one transaction."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import create_engine
from shared.eventstore.model import NO_STREAM
from shared.eventstore.store import event_store_for
from shared.migrations import migrate
from tests.bench.drivers import AsyncAppend
from tests.bench.payloads import Payload, new_event, payload_stream
from tests.bench.tables import Stored, TableAdmin

STREAM_LENGTH = 10
"""Events per contributor stream before a writer moves on to a new contributor."""


class OurStore:
    name = "ours (PostgresEventStore)"
    outbox = True

    def __init__(self, url: str, schema: str, admin: TableAdmin) -> None:
        self.url = url
        self.schema = schema
        self._admin = admin
        self._store = event_store_for("postgresql")

    async def create(self) -> None:
        engine = create_engine(self.url, schema=self.schema, pool_size=1)
        try:
            await migrate(engine, self.schema)
        finally:
            await engine.dispose()

    async def reset(self) -> None:
        await self._admin.truncate(self.schema, "events", "outbox")

    async def stored(self) -> Stored:
        return await self._admin.stored(self.schema, "events", "outbox")

    @asynccontextmanager
    async def pool(self, connections: int) -> AsyncIterator[OurWriters]:
        engine = create_engine(self.url, schema=self.schema, pool_size=connections)
        try:
            yield OurWriters(engine, self)
        finally:
            await engine.dispose()


class OurWriters:
    def __init__(self, engine: AsyncEngine, bench: OurStore) -> None:
        self._engine = engine
        self._store = bench._store

    def single(self) -> AsyncAppend:
        """Appends one event per transaction to this writer's own streams."""
        return self.batch(1, STREAM_LENGTH)

    def batch(self, size: int, stream_length: int | None = None) -> AsyncAppend:
        """Appends `size` events per call; a new stream every `stream_length` events (by
        default each call starts a new stream)."""
        length = stream_length or size
        payloads = payload_stream()
        versions = _stream_versions(length)

        async def append() -> int:
            stream_id, expected = next(versions)
            batch = [new_event(_next(payloads)) for _ in range(size)]
            async with self._engine.begin() as conn:
                await self._store.append(conn, stream_id, batch, expected)
            versions.send(size)
            return size

        return append


def _next(payloads: Iterator[Payload]) -> Payload:
    return next(payloads)


def _stream_versions(length: int) -> _Versions:
    return _Versions(length)


class _Versions:
    """The writer's current stream and the version it must be at; `send(n)` records n
    appended events and moves to a new stream once this one is `length` long."""

    def __init__(self, length: int) -> None:
        self._length = length
        self._stream = ""
        self._version = length

    def __iter__(self) -> _Versions:
        return self

    def __next__(self) -> tuple[str, int]:
        if self._version >= self._length:
            self._stream, self._version = f"contributor-{uuid.uuid4()}", NO_STREAM
        return self._stream, self._version

    def send(self, appended: int) -> None:
        self._version += appended

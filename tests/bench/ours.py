"""Our append path, exactly as a service uses it: `create_engine`, `engine.begin()`,
`PostgresEventStore.append` with the expected version, events and outbox in one transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import create_engine
from shared.eventstore.store import EventStore, event_store_for
from shared.migrations import migrate
from tests.bench.drivers import AsyncAppend
from tests.bench.tables import Stored, TableAdmin
from tests.bench.workload import STREAM_LENGTH, Streams, new_event, payload_stream


class OurStore:
    name = "ours"

    def __init__(self, url: str, schema: str, admin: TableAdmin) -> None:
        self.schema = schema
        self._url = url
        self._admin = admin

    async def create(self) -> None:
        engine = create_engine(self._url, schema=self.schema, pool_size=1)
        try:
            await migrate(engine, self.schema)
        finally:
            await engine.dispose()

    async def reset(self) -> None:
        await self._admin.truncate(self.schema, "events", "outbox")

    async def stored(self) -> Stored:
        return await self._admin.stored(self.schema, "events", "outbox")

    @asynccontextmanager
    async def writers(self, connections: int) -> AsyncIterator[OurWriters]:
        engine = create_engine(self._url, schema=self.schema, pool_size=connections)
        try:
            yield OurWriters(engine, event_store_for("postgresql"))
        finally:
            await engine.dispose()


class OurWriters:
    def __init__(self, engine: AsyncEngine, store: EventStore) -> None:
        self._engine = engine
        self._store = store

    def single(self) -> AsyncAppend:
        return self.batch(1, STREAM_LENGTH)

    def batch(self, size: int, stream_length: int | None = None) -> AsyncAppend:
        """Each call appends `size` events in one transaction; by default to a new stream."""
        payloads = payload_stream()
        streams = Streams(stream_length or size)

        async def append() -> int:
            stream, expected = streams.claim(size)
            batch = [new_event(next(payloads)) for _ in range(size)]
            async with self._engine.begin() as conn:
                await self._store.append(conn, str(stream), batch, expected)
            return size

        return append

"""Our append paths, exactly as a service uses them: `create_engine`, `engine.begin()`,
`PostgresEventStore.append` with the expected version, events and outbox in one transaction;
and concurrent appends sharing transactions through `GroupCommit`, as the registry writes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncEngine

from shared.batching import GroupCommit
from shared.db import create_engine
from shared.eventstore.model import RecordedEvent
from shared.eventstore.store import EventStore, StreamAppend, event_store_for
from shared.migrations import migrate
from tests.bench.drivers import AsyncAppend
from tests.bench.tables import STORE_HISTORY, Stored, TableAdmin
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
        await self._admin.restart(self.schema, "events", "outbox", history=STORE_HISTORY)

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
        self._group = GroupCommit("bench", self._commit)

    def single(self) -> AsyncAppend:
        return self.batch(1, STREAM_LENGTH)

    def grouped(self) -> AsyncAppend:
        """Each call appends one event and returns once it is committed; calls that arrive
        while a transaction is in flight share the next one (`GroupCommit`'s defaults, as
        the registry's REST and CloudEvents writes use them)."""
        payloads = payload_stream()
        streams = Streams(STREAM_LENGTH)

        async def append() -> int:
            stream, expected = streams.claim(1)
            await self._group.submit(
                StreamAppend(str(stream), [new_event(next(payloads))], expected)
            )
            return 1

        return append

    async def _commit(self, appends: Sequence[StreamAppend]) -> list[list[RecordedEvent]]:
        async with self._engine.begin() as conn:
            return await self._store.append_streams(conn, appends)

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

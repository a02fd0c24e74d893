"""The floor: hand-written asyncpg into tables identical to ours (the same migration creates
them), each writer on a dedicated connection, no ORM, no version check beyond the
`UNIQUE (stream_id, version)` constraint. With `outbox=True` each transaction also writes the
outbox rows, as ours must; without, it is the bare INSERT."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg

from shared.db import create_engine
from shared.migrations import migrate
from tests.bench.drivers import AsyncAppend
from tests.bench.tables import STORE_HISTORY, Stored, TableAdmin, asyncpg_dsn
from tests.bench.workload import STREAM_LENGTH, Streams, payload_stream, serialized

COLUMNS = [
    "event_id",
    "stream_id",
    "version",
    "type",
    "data",
    "metadata",
    "effective_time",
    "recorded_time",
]
INSERT = f"INSERT INTO events ({', '.join(COLUMNS)}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
INSERT_RETURNING = f"{INSERT} RETURNING position"
INSERT_OUTBOX = "INSERT INTO outbox (position, stream_id) VALUES ($1, $2)"
# executemany and COPY return no positions: the rows this transaction wrote are found by the
# transaction id the events table records anyway (and indexes, with the position).
OUTBOX_FROM_TRANSACTION = (
    "INSERT INTO outbox (position, stream_id) SELECT position, stream_id FROM events"
    " WHERE tx_id = pg_current_xact_id()::text::bigint"
)

Record = tuple[Any, ...]


class RawAsyncpg:
    def __init__(self, url: str, schema: str, admin: TableAdmin, *, outbox: bool) -> None:
        self.name = "raw+outbox" if outbox else "raw bare"
        self.outbox = outbox
        self.schema = schema
        self._url = url
        self._admin = admin

    async def create(self) -> None:
        # The migration that makes our tables makes these: identical by construction.
        engine = create_engine(self._url, schema=self.schema, pool_size=1)
        try:
            await migrate(engine, self.schema)
        finally:
            await engine.dispose()

    async def reset(self) -> None:
        await self._admin.restart(self.schema, "events", "outbox", history=STORE_HISTORY)

    async def stored(self) -> Stored:
        stored = await self._admin.stored(self.schema, "events", "outbox")
        return stored if self.outbox else Stored(stored.events, None)

    @asynccontextmanager
    async def writers(self, connections: int) -> AsyncIterator[RawWriters]:
        settings = {"search_path": self.schema}
        dsn = asyncpg_dsn(self._url)
        opened = await asyncio.gather(
            *(asyncpg.connect(dsn, server_settings=settings) for _ in range(connections))
        )
        try:
            yield RawWriters(opened, outbox=self.outbox)
        finally:
            for conn in opened:
                await conn.close()


class RawWriters:
    """Hands out the connections in turn: one writer per connection."""

    def __init__(self, connections: list[asyncpg.Connection], *, outbox: bool) -> None:
        self._connections = connections
        self._handed_out = 0
        self._outbox = outbox

    def _next_connection(self) -> asyncpg.Connection:
        conn = self._connections[self._handed_out % len(self._connections)]
        self._handed_out += 1
        return conn

    def single(self) -> AsyncAppend:
        conn = self._next_connection()
        rows = _Rows(STREAM_LENGTH)

        async def append_bare() -> int:
            # A lone statement is its own transaction: one round trip.
            await conn.execute(INSERT, *rows.take(1)[0])
            return 1

        async def append_with_outbox() -> int:
            record = rows.take(1)[0]
            async with conn.transaction():
                position = await conn.fetchval(INSERT_RETURNING, *record)
                await conn.execute(INSERT_OUTBOX, position, record[1])
            return 1

        return append_with_outbox if self._outbox else append_bare

    def executemany(self, size: int) -> AsyncAppend:
        conn = self._next_connection()
        rows = _Rows(size)

        async def append() -> int:
            async with conn.transaction():
                await conn.executemany(INSERT, rows.take(size))
                if self._outbox:
                    await conn.execute(OUTBOX_FROM_TRANSACTION)
            return size

        return append

    def copy(self, size: int) -> AsyncAppend:
        conn = self._next_connection()
        rows = _Rows(size)

        async def append() -> int:
            async with conn.transaction():
                await conn.copy_records_to_table("events", records=rows.take(size), columns=COLUMNS)
                if self._outbox:
                    await conn.execute(OUTBOX_FROM_TRANSACTION)
            return size

        return append


class _Rows:
    """One writer's next rows, serialised as they are taken (that cost is the writer's)."""

    def __init__(self, stream_length: int) -> None:
        self._payloads = payload_stream()
        self._streams = Streams(stream_length)

    def take(self, n: int) -> list[Record]:
        stream, at = self._streams.claim(n)
        now = datetime.now(UTC)
        rows = []
        for version in range(at + 1, at + n + 1):
            p = next(self._payloads)
            data, metadata = serialized(p.data), serialized(p.metadata)
            rows.append(
                (uuid.uuid4(), str(stream), version, p.type, data, metadata, p.effective_time, now)
            )
        return rows

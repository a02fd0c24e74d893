"""One administrative connection for the harness: schemas, truncation between measurements,
row counts to check that every appended event was stored, and the server's settings."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.bench.workload import PAYLOADS, STREAM_LENGTH, serialized


def asyncpg_dsn(url: str) -> str:
    """The libpq form of a SQLAlchemy `postgresql+asyncpg://` URL."""
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@dataclass(frozen=True)
class Stored:
    events: int
    outbox: int | None
    """Outbox rows, for implementations that write an outbox."""

    def __add__(self, other: Stored) -> Stored:
        outbox = None if self.outbox is None or other.outbox is None else self.outbox + other.outbox
        return Stored(self.events + other.events, outbox)


@dataclass(frozen=True)
class ServerFacts:
    version: str
    synchronous_commit: str
    fsync: str

    @property
    def durable(self) -> bool:
        return self.synchronous_commit == "on" and self.fsync == "on"


def _name(schema: str, table: str) -> str:
    return f'"{schema}"."{table}"'


HISTORY_PAYLOAD = PAYLOADS[0]
HISTORY = 20_000
"""Events in a table before each measurement: a store in service holds history."""

STORE_HISTORY = f"""
    INSERT INTO {{table}} (event_id, stream_id, version, type, data, metadata, effective_time,
                          recorded_time)
    SELECT gen_random_uuid(), 'history-' || g / {STREAM_LENGTH}, g % {STREAM_LENGTH} + 1,
           {{type}}, {{data}}, {{metadata}}, now(), now()
    FROM generate_series(0, $1 - 1) AS g
"""
"""History for tables made by our migration (ours and raw asyncpg): short streams of a
typical payload."""


async def checkpoint(engine: AsyncEngine) -> None:
    """Writes out every page earlier work dirtied (set-up, the measurement before), so that
    no measurement pays for an earlier one's checkpoint: a run that writes a lot of WAL
    has PostgreSQL checkpoint every half minute or so, and a checkpoint's writes compete
    with the services' commits (B4: a freshness run that overlapped one, p99 1,040 ms; the
    next one, without: 264 ms)."""
    async with engine.begin() as conn:
        await conn.execute(sa.text("CHECKPOINT"))


def sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class TableAdmin:
    def __init__(self, connection: asyncpg.Connection, history: int) -> None:
        self._conn = connection
        self.history = history

    @classmethod
    async def connect(cls, url: str, history: int = HISTORY) -> TableAdmin:
        return cls(await asyncpg.connect(asyncpg_dsn(url)), history)

    async def close(self) -> None:
        await self._conn.close()

    async def create_schema(self, schema: str) -> None:
        await self._conn.execute(f'CREATE SCHEMA "{schema}"')

    async def drop_schema(self, schema: str) -> None:
        await self._conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')

    async def restart(self, schema: str, events: str, *others: str, history: str) -> None:
        """Empties the tables, then gives the events table `self.history` events of history
        and analyses them. `history` is an INSERT of `$1` rows into `{table}`, made of one
        payload's `{type}`, `{data}` and `{metadata}` (or its `{state}`, as the eventsourcing
        library stores it). Every measurement thus starts from the same state, and not an
        empty one: on a table the planner believes empty, cached plans keep sequential scans
        that grow slower with every row appended, which no store in service sees."""
        names = ", ".join(_name(schema, t) for t in (events, *others))
        await self._conn.execute(f"TRUNCATE {names} RESTART IDENTITY")
        payload = HISTORY_PAYLOAD
        insert = history.format(
            table=_name(schema, events),
            type=sql_literal(payload.type),
            data=sql_literal(serialized(payload.data)),
            metadata=sql_literal(serialized(payload.metadata)),
            state=sql_literal(
                serialized(
                    {
                        "data": payload.data,
                        "metadata": payload.metadata,
                        "effective_time": payload.effective_time.isoformat(),
                    }
                )
            ),
        )
        await self._conn.execute(insert, self.history)
        await self._conn.execute(f"ANALYZE {names}")

    async def analyze(self, schema: str) -> None:
        """Every table of the schema."""
        tables = await self._conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = $1", schema
        )
        await self._conn.execute(
            "ANALYZE " + ", ".join(_name(schema, row["tablename"]) for row in tables)
        )

    async def count(self, schema: str, table: str) -> int:
        return int(await self._conn.fetchval(f"SELECT count(*) FROM {_name(schema, table)}"))

    async def stored(self, schema: str, events: str, outbox: str | None = None) -> Stored:
        """What was appended since the last `restart`."""
        return Stored(
            await self.count(schema, events) - self.history,
            await self.count(schema, outbox) if outbox else None,
        )

    @classmethod
    async def server_facts_at(cls, url: str) -> ServerFacts:
        admin = await cls.connect(url)
        try:
            return await admin.server_facts()
        finally:
            await admin.close()

    async def server_facts(self) -> ServerFacts:
        row = await self._conn.fetchrow(
            "SELECT current_setting('server_version') AS version,"
            " current_setting('synchronous_commit') AS synchronous_commit,"
            " current_setting('fsync') AS fsync"
        )
        assert row is not None
        return ServerFacts(row["version"], row["synchronous_commit"], row["fsync"])

"""One administrative connection for the harness: schemas, truncation between measurements,
row counts to check that every appended event was stored, and the server's settings."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
import sqlalchemy as sa


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


class TableAdmin:
    def __init__(self, connection: asyncpg.Connection) -> None:
        self._conn = connection

    @classmethod
    async def connect(cls, url: str) -> TableAdmin:
        return cls(await asyncpg.connect(asyncpg_dsn(url)))

    async def close(self) -> None:
        await self._conn.close()

    async def create_schema(self, schema: str) -> None:
        await self._conn.execute(f'CREATE SCHEMA "{schema}"')

    async def drop_schema(self, schema: str) -> None:
        await self._conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')

    async def truncate(self, schema: str, *tables: str) -> None:
        # Every measurement starts from empty tables and indexes, so none pays for the
        # rows an earlier one left behind.
        names = ", ".join(_name(schema, t) for t in tables)
        await self._conn.execute(f"TRUNCATE {names} RESTART IDENTITY")

    async def count(self, schema: str, table: str) -> int:
        return int(await self._conn.fetchval(f"SELECT count(*) FROM {_name(schema, table)}"))

    async def stored(self, schema: str, events: str, outbox: str | None = None) -> Stored:
        return Stored(
            await self.count(schema, events),
            await self.count(schema, outbox) if outbox else None,
        )

    async def server_facts(self) -> ServerFacts:
        row = await self._conn.fetchrow(
            "SELECT current_setting('server_version') AS version,"
            " current_setting('synchronous_commit') AS synchronous_commit,"
            " current_setting('fsync') AS fsync"
        )
        assert row is not None
        return ServerFacts(row["version"], row["synchronous_commit"], row["fsync"])

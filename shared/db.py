"""Engines for both backends, configured once.

PostgreSQL: asyncpg, the service's schema first on `search_path`. SQLite: WAL, a busy
timeout, and `BEGIN IMMEDIATE` so that writers take the database lock up front instead of
failing with "database is locked" when a read transaction later tries to write.

SQLite has one writer at a time and every transaction here begins IMMEDIATE, so each holds
that lock while it runs. Left to SQLite, the pooled connections of a busy process would
wait for it in SQLite's busy handler, which sleeps and retries with no queue: under a
sustained load (`wfe demo` against `wfe dev`) a waiter can lose every retry for the whole
busy timeout and fail with "database is locked". So the transactions of one engine first
queue, first come first served, on an asyncio lock; SQLite's own busy timeout is left to
other processes (`wfe replay`, `wfe token`) that touch the same files now and then.
"""

from __future__ import annotations

import asyncio
import functools
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from pydantic_core import to_json
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.util import await_


def is_postgres(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "postgresql"


async def driver_connection(conn: AsyncConnection) -> Any:
    """The asyncpg connection under a PostgreSQL `conn`, for the few statements where
    SQLAlchemy's compile and result machinery cost more than the statement itself (or
    that SQLAlchemy cannot say, such as COPY). Its errors are asyncpg's, not DBAPIError."""
    driver = (await conn.get_raw_connection()).driver_connection
    assert driver is not None
    return driver


def create_engine(url: str, *, schema: str, pool_size: int = 40) -> AsyncEngine:
    if url.startswith("postgresql"):
        return create_async_engine(
            url,
            pool_size=pool_size,
            # No overflow: an overflow connection is closed as soon as it is returned, so under
            # a steady 32 concurrent requests a pool of 20 + 20 opened and closed a PostgreSQL
            # connection (a server process) for a dozen of them, again and again.
            max_overflow=0,
            # No pre-ping: it costs three round trips per checkout. A connection broken by a
            # server restart fails its request (503) and is discarded; the next one is fresh.
            pool_recycle=1800,
            connect_args={"server_settings": {"search_path": schema}},
        )
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": SQLITE_BUSY_SECONDS})
        _configure_sqlite(engine)
        return engine
    raise ValueError(f"unsupported database URL scheme: {url.split(':', 1)[0]}")


SQLITE_BUSY_SECONDS = 30
SQLITE_QUEUE_SECONDS = 120
"""How long a transaction waits for its turn in the process's queue: far longer than any
transaction of ours takes even on a loaded machine (a lane of `wfe demo` posts 500 events in
one), so reaching it means something is stuck, e.g. a transaction waiting on another one of
the same engine."""


def _configure_sqlite(engine: AsyncEngine) -> None:
    write_lock = asyncio.Lock()
    holders: set[sa.Connection] = set()

    @sa.event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the driver so BEGIN IMMEDIATE below is ours.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_SECONDS * 1000}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @sa.event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        # Listeners run inside SQLAlchemy's greenlet, where `await_` may wait on the loop.
        try:
            await_(asyncio.wait_for(write_lock.acquire(), SQLITE_QUEUE_SECONDS))
        except TimeoutError as exc:
            # What SQLite itself would have said: callers treat both alike (503, retry).
            locked = sqlite3.OperationalError("database is locked")
            raise sa.exc.OperationalError("BEGIN IMMEDIATE", None, locked) from exc
        holders.add(connection)
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            _release(connection)
            raise

    # Both fire just before the COMMIT or ROLLBACK is sent; the next transaction's BEGIN
    # IMMEDIATE then waits those few milliseconds in SQLite's busy handler, alone.
    @sa.event.listens_for(engine.sync_engine, "commit")
    @sa.event.listens_for(engine.sync_engine, "rollback")
    def _release(connection: sa.Connection) -> None:
        if connection in holders:
            holders.discard(connection)
            write_lock.release()


def json_text(value: Any) -> str:
    """Compact JSON, for values sent as text (arrays of them cast to jsonb in SQL). Encoded
    by pydantic-core: every event appended has its data and metadata encoded, and this is
    four times as fast as the standard library's encoder on them (0.6 against 2.5 µs for a
    decision's data). Non-ASCII characters are written as such, not escaped."""
    return to_json(value).decode()


def text_array(name: str) -> sa.BindParameter[Any]:
    """A text-array parameter (PostgreSQL), for statements built once: a list matched
    with `column == sa.any_(text_array("ids"))` (an `IN` list costs a statement built,
    cache-keyed and rendered on every call, and a prepared statement per list length), or
    a column of rows inserted together through `unnest`."""
    return sa.bindparam(name, type_=ARRAY(sa.Text()))


async def upsert(
    conn: AsyncConnection, table: sa.Table, rows: Sequence[Mapping[str, Any]], keys: Sequence[str]
) -> None:
    """Insert rows, replacing the non-key columns of rows whose keys already exist."""
    if not rows:
        return
    statement = _upsert(conn.dialect.name, table, tuple(rows[0]), tuple(keys))
    await conn.execute(statement, rows)


@functools.cache
def _upsert(
    dialect: str, table: sa.Table, columns: tuple[str, ...], keys: tuple[str, ...]
) -> sa.Executable:
    """Built once per shape: building it (its `excluded` columns) cost more per call than
    executing it from SQLAlchemy's compiled cache."""
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    updates = {c: insert.excluded[c] for c in columns if c not in keys}
    return insert.on_conflict_do_update(index_elements=list(keys), set_=updates)

"""The projection's tables in a database: load the facts of a batch's contributors, apply the
row operations, note progress — always on the caller's connection, so all of it commits
with the consumer's offsets or not at all."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.reporting.adapters.tables import TABLES, consumer_progress, contributor_facts
from services.reporting.projections import (
    ContributorFacts,
    Delete,
    RowOp,
    Upsert,
    facts_from_row,
)
from services.reporting.projections.derive import RowSet
from services.reporting.projections.facts import History
from services.reporting.projections.model import Key
from services.reporting.projections.tables import PROJECTED_TABLES, Column, ColumnType, Table
from services.reporting.projections.tables import TABLES as DEFINITIONS
from shared.db import driver_connection, json_text, upsert
from shared.transport.base import TopicPartition

_KEY_NAMES = {name: t.key_names for name, t in DEFINITIONS.items()}


async def load_facts(
    conn: AsyncConnection, contributor_ids: Iterable[str]
) -> dict[str, ContributorFacts]:
    """The facts the current rows of these contributors were derived from."""
    ids = sorted(set(contributor_ids))
    if not ids:
        return {}
    rows = await conn.execute(
        sa.select(contributor_facts.c.contributor_id, contributor_facts.c.history).where(
            contributor_facts.c.contributor_id.in_(ids)
        )
    )
    return {cid: facts_from_row(cid, {"history": history}) for cid, history in rows}


async def apply(conn: AsyncConnection, ops: Sequence[RowOp]) -> None:
    """What `MemoryTables.apply` does, per table in one statement each.

    Deletes go first: within one contributor a delete and an upsert never share a key, and
    every key belongs to one contributor, so the order between tables does not matter.
    """
    deletes: dict[str, list[Key]] = defaultdict(list)
    upserts: dict[str, list[Upsert]] = defaultdict(list)
    for op in ops:
        match op:
            case Delete():
                deletes[op.table].append(op.key)
            case Upsert():
                upserts[op.table].append(op)
    if conn.dialect.name == "postgresql":
        for name, keys in deletes.items():
            await _PG_STATEMENTS[name].delete(conn, keys)
        for name, rows in upserts.items():
            await _PG_STATEMENTS[name].upsert(conn, rows)
        return
    for name, keys in deletes.items():
        table, names = TABLES[name], _KEY_NAMES[name]
        condition = [table.c[n] == sa.bindparam(f"key_{n}") for n in names]
        await conn.execute(
            table.delete().where(*condition),
            [{f"key_{n}": v for n, v in zip(names, key, strict=True)} for key in keys],
        )
    for name, rows in upserts.items():
        names = _KEY_NAMES[name]
        await upsert(
            conn,
            TABLES[name],
            [{**dict(zip(names, op.key, strict=True)), **op.values} for op in rows],
            names,
        )


async def write_contributors(engine: AsyncEngine, rows: RowSet, replacing: Sequence[str]) -> None:
    """Writes `rows`, which are all the rows of the contributors they are about, in a
    transaction of its own; the tables' rows of `replacing` (contributors among them whose
    rows the tables already hold) are deleted first. PostgreSQL only: a rebuild's writes.

    With the driver's binary COPY: nothing in the tables can conflict, so the upserts' plan,
    conflict checks and array encoding are cost for nothing (they took as long as deriving
    the rows did).
    """
    records: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for (name, key), values in rows.items():
        columns = DEFINITIONS[name].values
        records[name].append((*key, *(_value(c, values[c.name]) for c in columns)))
    async with engine.connect() as conn:
        driver = await driver_connection(conn)
        async with driver.transaction():
            if replacing:
                for table in PROJECTED_TABLES:
                    await driver.execute(
                        f'DELETE FROM "{table.name}" WHERE contributor_id = ANY($1::text[])',
                        list(replacing),
                    )
            for name, table_records in records.items():
                await driver.copy_records_to_table(
                    name, records=table_records, columns=_COLUMN_NAMES[name]
                )


_COLUMN_NAMES = {name: [*t.key_names, *t.value_names] for name, t in DEFINITIONS.items()}


def _value(column: Column, value: Any) -> Any:
    return _json(value) if column.type == "json" else value


_ARRAY_TYPES: dict[ColumnType, sa.types.TypeEngine[Any]] = {
    "text": sa.Text(),
    "integer": sa.Integer(),
    "boolean": sa.Boolean(),
    "date": sa.Date(),
    "timestamp": sa.DateTime(timezone=True),
    # Sent as text and cast in the statement: asyncpg has no codec for jsonb arrays.
    "json": sa.Text(),
}


@dataclass(frozen=True)
class _SetStatements:
    """One table's upserts and deletes in PostgreSQL as single statements over arrays, one
    array per column (`unnest`): the server parses, plans and checks constraints once per
    table and batch rather than once per row, and the driver sends a few arrays rather
    than thousands of bound rows."""

    definition: Table
    insert: sa.TextClause
    remove: sa.TextClause

    @classmethod
    def of(cls, definition: Table) -> _SetStatements:
        columns = (*definition.key, *definition.values)
        names = ", ".join(f'"{c.name}"' for c in columns)
        selected = ", ".join(
            f'u."{c.name}"::jsonb' if c.type == "json" else f'u."{c.name}"' for c in columns
        )
        arrays = ", ".join(f":c{i}" for i in range(len(columns)))
        keys = ", ".join(f'"{n}"' for n in definition.key_names)
        updates = ", ".join(f'"{n}" = excluded."{n}"' for n in definition.value_names)
        insert = sa.text(
            f'INSERT INTO "{definition.name}" ({names}) SELECT {selected} '
            f"FROM unnest({arrays}) AS u({names}) "
            f"ON CONFLICT ({keys}) DO UPDATE SET {updates}"
        ).bindparams(*_arrays("c", columns))
        matched = " AND ".join(f'"{definition.name}"."{n}" = d."{n}"' for n in definition.key_names)
        remove = sa.text(
            f'DELETE FROM "{definition.name}" USING '
            f"unnest({', '.join(f':k{i}' for i in range(len(definition.key)))}) AS d({keys}) "
            f"WHERE {matched}"
        ).bindparams(*_arrays("k", definition.key))
        return cls(definition, insert, remove)

    async def upsert(self, conn: AsyncConnection, rows: Sequence[Upsert]) -> None:
        keys = [list(c) for c in zip(*(op.key for op in rows), strict=True)]
        values = [
            _column(column, [op.values[column.name] for op in rows])
            for column in self.definition.values
        ]
        await conn.execute(self.insert, {f"c{i}": c for i, c in enumerate((*keys, *values))})

    async def delete(self, conn: AsyncConnection, keys: Sequence[Key]) -> None:
        await conn.execute(
            self.remove, {f"k{i}": list(c) for i, c in enumerate(zip(*keys, strict=True))}
        )


def _arrays(prefix: str, columns: Sequence[Column]) -> list[sa.BindParameter[Any]]:
    """One array parameter per column, named by prefix and position."""
    return [
        sa.bindparam(f"{prefix}{i}", type_=ARRAY(_ARRAY_TYPES[c.type]))
        for i, c in enumerate(columns)
    ]


def _column(column: Column, values: list[Any]) -> list[Any]:
    if column.type != "json":
        return values
    return [_json(v) for v in values]


def _json(value: Any) -> str | None:
    if isinstance(value, History):
        return value.json
    return None if value is None else json_text(value)


_PG_STATEMENTS = {name: _SetStatements.of(t) for name, t in DEFINITIONS.items()}


async def lock_contributors(conn: AsyncConnection, contributor_ids: Iterable[str]) -> None:
    """Serialise transactions that touch the same contributor.

    Two instances may own one contributor's partition of the registry topic and of the
    policy topic at once (the group assigns the topics' partitions independently), and each
    would otherwise read the same facts and write back only its own event. Keys are taken
    in one order, so two batches cannot deadlock (and if PostgreSQL ever reports one, the
    consumer retries from its stored offsets). SQLite has one writer at a time anyway.
    """
    if conn.dialect.name != "postgresql":
        return
    keys = sorted({_lock_key(cid) for cid in contributor_ids})
    if keys:
        await conn.execute(
            sa.text("SELECT pg_advisory_xact_lock(k) FROM unnest(CAST(:keys AS bigint[])) AS k"),
            {"keys": keys},
        )


def _lock_key(contributor_id: str) -> int:
    digest = hashlib.blake2b(f"reporting:{contributor_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


async def record_progress(
    conn: AsyncConnection, consumer: str, last_event_times: Mapping[TopicPartition, datetime]
) -> None:
    await upsert(
        conn,
        consumer_progress,
        [
            {
                "consumer": consumer,
                "topic": tp.topic,
                "partition": tp.partition,
                "last_event_time": t,
            }
            for tp, t in sorted(last_event_times.items())
        ],
        ["consumer", "topic", "partition"],
    )


async def last_event_times(conn: AsyncConnection, consumer: str) -> dict[TopicPartition, datetime]:
    rows = await conn.execute(
        sa.select(
            consumer_progress.c.topic,
            consumer_progress.c.partition,
            consumer_progress.c.last_event_time,
        ).where(consumer_progress.c.consumer == consumer)
    )
    return {TopicPartition(topic, partition): at for topic, partition, at in rows}

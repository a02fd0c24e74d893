"""The projection's tables in a database: load the facts of a batch's contributors, apply the
row operations, note progress — always on the caller's connection, so all of it commits
with the consumer's offsets or not at all."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.reporting.adapters.tables import TABLES, consumer_progress, contributor_facts
from services.reporting.projections import (
    ContributorFacts,
    Delete,
    RowOp,
    Upsert,
    facts_from_row,
)
from services.reporting.projections.tables import TABLES as DEFINITIONS
from shared.db import upsert
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
    deletes: dict[str, list[dict[str, Any]]] = defaultdict(list)
    upserts: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for op in ops:
        names = _KEY_NAMES[op.table]
        match op:
            case Delete():
                deletes[op.table].append(
                    {f"key_{n}": v for n, v in zip(names, op.key, strict=True)}
                )
            case Upsert():
                upserts[op.table].append({**dict(zip(names, op.key, strict=True)), **op.values})
    for name, keys in deletes.items():
        table = TABLES[name]
        condition = [table.c[n] == sa.bindparam(f"key_{n}") for n in _KEY_NAMES[name]]
        await conn.execute(table.delete().where(*condition), keys)
    for name, rows in upserts.items():
        await upsert(conn, TABLES[name], rows, _KEY_NAMES[name])


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

"""Reporting's store on PostgreSQL and SQLite: the row operations, applied to real tables
batch by batch with facts loaded back from them, give exactly the in-memory tables that
define what the operations mean."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from services.reporting.adapters import store
from services.reporting.adapters.tables import PROJECTED
from services.reporting.projections import MemoryTables, ProjectedEvent, project_batch
from tests.databases import fresh_database
from tests.unit.reporting.ecosystem import scripted

EVENTS = scripted().events


@pytest.fixture(params=["postgres", "sqlite"])
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    url = request.getfixturevalue("postgres_admin_url") if request.param == "postgres" else ""
    async with fresh_database(str(request.param), url, tmp_path, "reporting@head") as database:
        yield database.engine


async def project_in_batches(engine: AsyncEngine, events: list[ProjectedEvent], size: int) -> None:
    """What the consumer's handler does, one transaction per batch."""
    for i in range(0, len(events), size):
        batch = events[i : i + size]
        async with engine.begin() as conn:
            await store.lock_contributors(conn, {e.subject for e in batch})
            facts = await store.load_facts(conn, {e.subject for e in batch})
            await store.apply(conn, project_batch(facts, batch)[1])


async def stored(engine: AsyncEngine) -> dict[str, list[dict[str, Any]]]:
    async with engine.connect() as conn:
        return {
            t.name: [
                dict(r)
                for r in (
                    await conn.execute(sa.select(t).order_by(*t.primary_key.columns))
                ).mappings()
            ]
            for t in PROJECTED
        }


def in_memory(events: list[ProjectedEvent]) -> dict[str, list[dict[str, Any]]]:
    tables = MemoryTables()
    tables.apply(project_batch({}, events)[1])
    return {t.name: tables.rows(t.name) for t in PROJECTED}


async def test_batches_in_a_database_give_the_in_memory_tables(engine: AsyncEngine) -> None:
    await project_in_batches(engine, EVENTS, size=7)

    assert await stored(engine) == in_memory(EVENTS)


async def test_replaying_everything_changes_nothing(engine: AsyncEngine) -> None:
    await project_in_batches(engine, EVENTS, size=50)
    before = await stored(engine)

    await project_in_batches(engine, EVENTS[::-1], size=13)

    assert await stored(engine) == before
    assert sum(len(rows) for rows in before.values()) > len(EVENTS)

"""Fresh, migrated databases for tests: a new PostgreSQL schema or a new SQLite file each."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import create_engine
from shared.migrations import SHARED_TABLES, migrate


@dataclass(frozen=True)
class FreshDatabase:
    engine: AsyncEngine
    url: str
    schema: str


@asynccontextmanager
async def fresh_database(
    backend: str, postgres_url: str, tmp_dir: Path, target: str = SHARED_TABLES
) -> AsyncIterator[FreshDatabase]:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    url = postgres_url if backend == "postgres" else f"sqlite+aiosqlite:///{tmp_dir / schema}.db"
    engine = create_engine(url, schema=schema, pool_size=40)
    await migrate(engine, schema, target)
    try:
        yield FreshDatabase(engine, url, schema)
    finally:
        if backend == "postgres":
            async with engine.begin() as conn:
                await conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        await engine.dispose()

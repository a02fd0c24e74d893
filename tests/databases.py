"""Fresh, migrated databases for tests: a new PostgreSQL schema or a new SQLite file each."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import create_engine
from shared.migrations import migrate


@asynccontextmanager
async def fresh_database(
    backend: str, postgres_url: str, tmp_dir: Path, target: str = "eventstore@head"
) -> AsyncIterator[AsyncEngine]:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    if backend == "postgres":
        engine = create_engine(postgres_url, schema=schema, pool_size=40)
    else:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_dir / schema}.db", schema=schema)
    await migrate(engine, schema, target)
    try:
        yield engine
    finally:
        if backend == "postgres":
            async with engine.begin() as conn:
                await conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        await engine.dispose()

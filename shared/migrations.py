"""Bring a service's database to the schema its code expects (Alembic)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).resolve().parent.parent / "deploy" / "migrations"


def _upgrade(connection: sa.Connection, target: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, target)


async def migrate(engine: AsyncEngine, schema: str, target: str = "shared@head") -> None:
    """Create the schema if needed and upgrade it to `target` (a branch label or revision)."""
    async with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            # Concurrent starters of one service serialise here instead of racing the DDL.
            await conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:s))"), {"s": schema})
            await conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        await conn.run_sync(_upgrade, target)

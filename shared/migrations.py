"""Bring a service's database to the schema its code expects (Alembic)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).resolve().parent.parent / "deploy" / "migrations"
SHARED_TABLES = "0002_idempotency_keys"
"""The last revision every service shares (event store, outbox, checkpoints, idempotency
keys). Each service's branch starts from it, so `shared@head` would name several heads."""


def _upgrade(connection: sa.Connection, target: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, target)


async def migrate(engine: AsyncEngine, schema: str, target: str = SHARED_TABLES) -> None:
    """Create the schema if needed and upgrade it to `target` (a branch label or revision)."""
    async with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            # Concurrent starters of one service serialise here instead of racing the DDL.
            await conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:s))"), {"s": schema})
            await conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        await conn.run_sync(_upgrade, target)

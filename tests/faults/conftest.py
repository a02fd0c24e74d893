from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from tests.databases import FreshDatabase, fresh_database
from tests.faults.harness import create_topic
from tests.faults.services import ServiceProcess


@pytest.fixture
async def database(postgres_admin_url: str, tmp_path: Path) -> AsyncIterator[FreshDatabase]:
    async with fresh_database("postgres", postgres_admin_url, tmp_path) as database:
        yield database


@pytest.fixture
async def registry_service(
    postgres_admin_url: str, kafka_bootstrap: str, tmp_path: Path
) -> AsyncIterator[ServiceProcess]:
    """`wfe serve registry` on a fresh database, relaying to a fresh topic."""
    async with database_url(postgres_admin_url) as url:
        service = ServiceProcess(
            "registry",
            url,
            kafka_bootstrap,
            await create_topic(kafka_bootstrap),
            tmp_path,
            log=tmp_path / "registry.log",
        )
        service.start()
        try:
            await service.ready()
            yield service
        finally:
            service.stop()


@asynccontextmanager
async def database_url(admin_url: str) -> AsyncIterator[str]:
    """A fresh database; unlike `tests.servers.fresh_postgres_database` it holds no admin
    connection meanwhile, so it outlives a PostgreSQL restart."""
    url = make_url(admin_url)
    name = f"wfe_faults_{uuid.uuid4().hex[:10]}"
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    await _admin(dsn, f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        await _admin(dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _admin(dsn: str, statement: str) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()

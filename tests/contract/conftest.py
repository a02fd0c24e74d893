from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.eventstore.store import EventStore, event_store_for
from tests.databases import fresh_database
from tests.transports import Transport, open_transport


@pytest.fixture(params=["postgres", "sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def engine(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[AsyncEngine]:
    url = request.getfixturevalue("postgres_admin_url") if backend == "postgres" else ""
    async with fresh_database(backend, url, tmp_path) as database:
        yield database.engine


@pytest.fixture
def store(engine: AsyncEngine) -> EventStore:
    return event_store_for(engine.dialect.name)


@pytest.fixture(params=["kafka", "inprocess"])
async def transport(request: pytest.FixtureRequest) -> AsyncIterator[Transport]:
    async with open_transport(str(request.param), request) as opened:
        yield opened

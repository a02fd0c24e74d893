from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.databases import FreshDatabase, fresh_database
from tests.faults.harness import fresh_topic
from tests.faults.services import ServiceProcess
from tests.servers import fresh_postgres_database


@pytest.fixture
async def database(postgres_admin_url: str, tmp_path: Path) -> AsyncIterator[FreshDatabase]:
    async with fresh_database("postgres", postgres_admin_url, tmp_path) as database:
        yield database


@pytest.fixture
async def topic(kafka_bootstrap: str) -> AsyncIterator[str]:
    async with fresh_topic(kafka_bootstrap) as name:
        yield name


@pytest.fixture
async def registry_service(
    postgres_admin_url: str, kafka_bootstrap: str, topic: str, tmp_path: Path
) -> AsyncIterator[ServiceProcess]:
    """`wfe serve registry` on a fresh database, relaying to a fresh topic."""
    async with fresh_postgres_database(postgres_admin_url) as url:
        service = ServiceProcess(
            "registry",
            url,
            kafka_bootstrap,
            topic,
            tmp_path,
            log=tmp_path / "registry.log",
        )
        service.start()
        try:
            await service.ready()
            yield service
        finally:
            service.stop()

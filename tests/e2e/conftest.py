from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.registry.app import app as registry_app
from shared.settings import ServiceSettings
from tests.servers import SIGNING_KEY, RunningApp, fresh_postgres_database, serve


@pytest.fixture(scope="session")
async def stack_settings(
    postgres_admin_url: str, kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ServiceSettings]:
    async with fresh_postgres_database(postgres_admin_url) as url:
        yield ServiceSettings(
            database_url=url,
            kafka_bootstrap_servers=kafka_bootstrap,
            data_dir=Path(tmp_path_factory.mktemp("data")),
            signing_key=SIGNING_KEY,
        )


@pytest.fixture(scope="session")
async def registry(stack_settings: ServiceSettings) -> AsyncIterator[RunningApp]:
    async with serve(registry_app(stack_settings)) as running:
        yield running

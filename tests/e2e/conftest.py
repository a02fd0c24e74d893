"""The services under test. The registry suites (REST, CloudEvents, SCIM) take
`backend_registry` and so run twice: against the real stack (PostgreSQL + Kafka) and against
the embedded app `wfe dev` serves (SQLite + the in-process transport), so the two modes
cannot drift apart. A test that needs the stack itself (e.g. reads a Kafka topic) takes
`registry` and says why."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.registry.app import app as registry_app
from shared.cli.dev import embedded_app
from shared.settings import ServiceSettings
from tests.servers import SIGNING_KEY, RunningApp, fresh_postgres_database, serve

BACKENDS = ("stack", "embedded")


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
    """The registry alone, on the real stack."""
    async with serve(registry_app(stack_settings)) as running:
        yield running


@pytest.fixture(scope="session")
async def embedded(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningApp]:
    """Every service in one app, as `wfe dev` serves it, on fresh SQLite files."""
    data_dir = Path(tmp_path_factory.mktemp("embedded"))
    settings = ServiceSettings(data_dir=data_dir, signing_key=SIGNING_KEY)
    async with serve(embedded_app(settings)) as running:
        yield running


@pytest.fixture(scope="session", params=BACKENDS)
def backend_registry(request: pytest.FixtureRequest) -> RunningApp:
    """The registry on each backend in turn (tests are grouped by backend)."""
    running: RunningApp = request.getfixturevalue(
        "registry" if request.param == "stack" else "embedded"
    )
    return running

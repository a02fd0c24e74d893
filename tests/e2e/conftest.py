"""The services under test. The registry suites (REST, CloudEvents, SCIM) take
`backend_registry` and so run twice: against the real stack (PostgreSQL + Kafka) and against
the embedded app `wfe dev` serves (SQLite + the in-process transport), so the two modes
cannot drift apart. A test that needs the stack itself (e.g. reads a Kafka topic) takes
`registry` and says why. The policy and reporting suites do the same with their own
compositions: policy on the tests' clock, reporting without policy (the tests publish the
decisions)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.registry.app import app as registry_app
from shared.cli.dev import embedded_app
from shared.settings import ServiceSettings
from tests.e2e.backends import BACKENDS, embedded_settings
from tests.e2e.test_reporting_script import Stack, embedded_reporting, reporting_stack
from tests.servers import RunningApp, isolated_settings, serve


@pytest.fixture(scope="session")
async def stack_settings(
    postgres_admin_url: str, kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ServiceSettings]:
    data = Path(tmp_path_factory.mktemp("data"))
    # As many partitions as `wfe stack up` gives the usual topics.
    async with isolated_settings(postgres_admin_url, kafka_bootstrap, data, "stack", 6) as settings:
        yield settings


@pytest.fixture(scope="session")
async def registry(stack_settings: ServiceSettings) -> AsyncIterator[RunningApp]:
    """The registry alone, on the real stack."""
    async with serve(registry_app(stack_settings)) as running:
        yield running


@pytest.fixture(scope="session")
async def embedded(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningApp]:
    """Every service in one app, as `wfe dev` serves it, on fresh SQLite files."""
    settings = embedded_settings(Path(tmp_path_factory.mktemp("embedded")))
    async with serve(embedded_app(settings)) as running:
        yield running


@pytest.fixture(scope="session", params=BACKENDS)
def backend_registry(request: pytest.FixtureRequest) -> RunningApp:
    """The registry on each backend in turn (tests are grouped by backend)."""
    running: RunningApp = request.getfixturevalue(
        "registry" if request.param == "stack" else "embedded"
    )
    return running


@pytest.fixture(scope="module")
async def real_stack(
    postgres_admin_url: str, kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    """The registry and reporting on PostgreSQL and Kafka (fresh topics), for one module."""
    data = Path(tmp_path_factory.mktemp("reporting"))
    async with reporting_stack(postgres_admin_url, kafka_bootstrap, data) as running:
        yield running


@pytest.fixture(scope="module")
async def embedded_stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    """The registry and reporting in one embedded app, for one module."""
    async with embedded_reporting(Path(tmp_path_factory.mktemp("embedded-reporting"))) as running:
        yield running


@pytest.fixture(scope="module", params=BACKENDS)
def stack(request: pytest.FixtureRequest) -> Stack:
    """The reporting suites' registry and reporting on each backend in turn."""
    running: Stack = request.getfixturevalue(
        "real_stack" if request.param == "stack" else "embedded_stack"
    )
    return running

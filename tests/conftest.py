"""Where the real services are.

Integration and e2e tests need a real PostgreSQL server and Apache Kafka broker. The test
command (`make test`) starts both with `wfe stack up` and exports their addresses; a test run
without them fails loudly rather than skipping.
"""

from __future__ import annotations

import os

import pytest


def _required_env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: run the tests through `make test` (it starts the stack)")
    return value


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    """An asyncpg SQLAlchemy URL to a database the tests may create other databases from."""
    return _required_env("WFE_TEST_DATABASE_URL")


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    return _required_env("WFE_TEST_KAFKA_BOOTSTRAP_SERVERS")

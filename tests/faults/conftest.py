from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.databases import FreshDatabase, fresh_database


@pytest.fixture
async def database(postgres_admin_url: str, tmp_path: Path) -> AsyncIterator[FreshDatabase]:
    async with fresh_database("postgres", postgres_admin_url, tmp_path) as database:
        yield database

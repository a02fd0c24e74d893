"""A group of commands run together (`Registry.execute_many`, what group commit and
CloudEvents batches use) ends exactly where running them one by one does: the same
refusals, the same streams, the same read model and source-reference index."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine

from services.registry.adapters.tables import contributors, source_references
from services.registry.domain import commands as c
from services.registry.domain.commands import RegistryCommand
from services.registry.domain.types import DEFAULT_CONTRIBUTOR_TYPES
from services.registry.handlers import REFUSALS, Registry, Submission
from shared.eventstore.store import event_store_for
from shared.eventstore.tables import events
from tests.databases import fresh_database
from tests.unit.registry import strategies as s

NOW = s.START
IDS = 3


@pytest.fixture
async def engines(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[AsyncEngine, AsyncEngine]]:
    url = request.getfixturevalue("postgres_admin_url") if backend == "postgres" else ""
    async with (
        fresh_database(backend, url, tmp_path, "registry@head") as one_by_one,
        fresh_database(backend, url, tmp_path, "registry@head") as together,
    ):
        yield one_by_one.engine, together.engine


def _retarget(command: RegistryCommand, contributor: int, run: str) -> RegistryCommand:
    """Onto one of a few contributors, with emails and references private to this run but
    shared by its contributors, so duplicates and taken references come up."""
    update: dict[str, Any] = {"contributor_id": f"{run}-{contributor}"}
    if isinstance(command, c.Register):
        if command.email:
            update["email"] = f"{run}.{command.email}"
        update["source_references"] = tuple(
            r.model_copy(update={"external_id": f"{run}-{r.external_id}"})
            for r in command.source_references
        )
    if isinstance(command, c.LinkSourceReference):
        update["external_id"] = f"{run}-{command.external_id}"
    return command.model_copy(update=update)


async def _snapshot(engine: AsyncEngine, run: str) -> dict[str, Any]:
    async with engine.connect() as conn:
        stored = await conn.execute(
            sa.select(events.c.stream_id, events.c.version, events.c.type, events.c.data)
            .where(events.c.stream_id.like(f"{run}-%"))
            .order_by(events.c.stream_id, events.c.version)
        )
        rows = await conn.execute(
            sa.select(
                *[col for col in contributors.c if col.name not in ("created_at", "updated_at")]
            )
            .where(contributors.c.id.like(f"{run}-%"))
            .order_by(contributors.c.id)
        )
        references = await conn.execute(
            sa.select(source_references)
            .where(source_references.c.contributor_id.like(f"{run}-%"))
            .order_by(source_references.c.system, source_references.c.external_id)
        )
        return {
            "events": [tuple(r) for r in stored],
            "contributors": [tuple(r) for r in rows],
            "references": [tuple(r) for r in references],
        }


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.lists(
        st.tuples(st.integers(min_value=0, max_value=IDS - 1), s.register() | s.commands),
        min_size=1,
        max_size=14,
    )
)
async def test_a_group_ends_where_one_by_one_does(
    engines: tuple[AsyncEngine, AsyncEngine], steps: list[tuple[int, RegistryCommand]]
) -> None:
    one_by_one, together = engines
    run = uuid.uuid4().hex[:8]
    commands = [_retarget(command, who, run) for who, command in steps]
    registry = Registry(event_store_for(one_by_one.dialect.name), DEFAULT_CONTRIBUTOR_TYPES)

    expected: list[str | int] = []
    for command in commands:
        try:
            async with one_by_one.begin() as conn:
                outcome = await registry.execute(conn, command, metadata={}, now=NOW)
            expected.append(outcome.state.version)
        except REFUSALS as refusal:
            expected.append(type(refusal).__name__)

    async with together.begin() as conn:
        outcomes = await registry.execute_many(
            conn, [Submission(command, {}) for command in commands], now=NOW
        )
    got = [type(o).__name__ if isinstance(o, Exception) else o.state.version for o in outcomes]

    assert got == expected
    assert await _snapshot(together, run) == await _snapshot(one_by_one, run)

"""How PostgreSQL stores the policy service's contributor rows (migration 0203)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from shared.migrations import migrate
from tests.databases import fresh_database

_OPTIONS = sa.text(
    "SELECT reloptions FROM pg_class"
    " WHERE oid = to_regclass(current_schema() || '.contributor_policy')"
)


async def test_contributor_rows_leave_room_for_their_next_version(
    postgres_admin_url: str, tmp_path: Path
) -> None:
    async with fresh_database("postgres", postgres_admin_url, tmp_path, "0202_policy_timers") as db:
        async with db.engine.connect() as conn:
            before = await conn.scalar(_OPTIONS)
        await migrate(db.engine, db.schema, "policy@head")
        async with db.engine.connect() as conn:
            after = await conn.scalar(_OPTIONS)

    assert (before, after) == (None, ["fillfactor=60"])

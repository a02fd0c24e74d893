"""Rows for the report functions, narrowed in SQL by the filters a report offers.

The SQL only narrows (a superset of what the report counts); the pure report functions
apply the exact rules, so the figures never depend on how a query was phrased.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.reporting.adapters.tables import contributor_facts

Row = dict[str, Any]


@asynccontextmanager
async def snapshot(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """One consistent view for every table a report reads, even while a batch commits.
    (SQLite reads inside one transaction see one snapshot already.)"""
    async with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execution_options(isolation_level="REPEATABLE READ")
        yield conn


async def rows(
    conn: AsyncConnection,
    table: sa.Table,
    *conditions: sa.ColumnElement[bool],
    contributor_type: str | None = None,
    business_unit: str | None = None,
) -> list[Row]:
    """The table's rows meeting `conditions`; `contributor_type` compares with the table's
    own type column, `business_unit` with its own column if it has one (effective-dated,
    as in lifecycle intervals and engagements), else with the contributor's current one."""
    # `history` holds every event of the contributor: the projection's state, not a figure.
    query = sa.select(*(c for c in table.c if c.name != "history")).where(*conditions)
    if contributor_type is not None:
        query = query.where(table.c.contributor_type == contributor_type)
    if business_unit is not None:
        if "business_unit" in table.c:
            query = query.where(table.c.business_unit == business_unit)
        else:
            in_unit = sa.select(contributor_facts.c.contributor_id).where(
                contributor_facts.c.business_unit == business_unit
            )
            query = query.where(table.c.contributor_id.in_(in_unit))
    result = await conn.execute(query)
    return [dict(r) for r in result.mappings()]


def parameters(**values: Any) -> dict[str, Any]:
    """The parameters a report was computed with, as echoed in its JSON."""
    return {k: v for k, v in values.items() if v is not None}

"""DEI: program coverage per type, and the demographic aggregates.

Demographic tables are released per (closed period, dimension) only, whole, with
complementary suppression at the configured k, and frozen at their first release
(docs/reporting.md, "DEI privacy rules"). They need the `dei:aggregate` scope.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Query, Request, Response
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from services.registry.domain.values import SelfIdDimension
from services.reporting.adapters.tables import (
    contributor_facts,
    dei_programs,
    demographic_counts,
    demographic_releases,
)
from services.reporting.api.context import Context, ContributorType, DeiAggregateReader, Reader
from services.reporting.api.render import fields_of, items_of, report
from services.reporting.api.rows import parameters, rows, snapshot
from services.reporting.projections.reports import DemographicCount, dei_coverage
from services.reporting.projections.reports import demographic_release as release_table
from services.reporting.projections.reports.dei import ProgramCoverage
from shared.http.problems import Problem

router = APIRouter(prefix="/v1/reports/dei", tags=["reports"])

Period = Annotated[
    str,
    Query(
        min_length=1,
        max_length=20,
        pattern=r"^[0-9A-Za-z-]+$",
        description="A closed period of the aggregate feed, e.g. 2025-Q1",
    ),
]
TOTAL = "total"


@router.get("/coverage", summary="Per type and program: extended to, and enrolled (k-rule)")
async def coverage(
    request: Request, ctx: Context, _: Reader, contributor_type: ContributorType = None
) -> Response:
    # No business-unit filter: differences between cuts could reveal suppressed counts.
    async with snapshot(ctx.engine) as conn:
        programs = await rows(conn, dei_programs, contributor_type=contributor_type)
        facts = await rows(conn, contributor_facts, contributor_type=contributor_type)
    k = ctx.options.dei_k
    return report(
        request,
        "dei-coverage",
        parameters(type=contributor_type, k=k),
        items_of(dei_coverage(programs, facts, k)),
        fields_of(ProgramCoverage),
    )


@router.get("/demographics", summary="One dimension's table by type, suppressed, frozen")
async def demographics(
    request: Request,
    ctx: Context,
    _: DeiAggregateReader,
    period: Period,
    dimension: Annotated[SelfIdDimension, Query()],
) -> Response:
    async with ctx.engine.begin() as conn:
        release = await _stored(conn, period, dimension)
        if release is None:
            release = await _release(conn, period, dimension, ctx.options.dei_k)
    table: dict[str, Any] = release["release"]
    items = [
        {"contributor_type": label, **dict(zip(table["columns"], cells, strict=True)), TOTAL: n}
        for label, cells, n in zip(table["rows"], table["cells"], table["row_totals"], strict=True)
    ]
    items.append(
        {
            "contributor_type": TOTAL,
            **dict(zip(table["columns"], table["column_totals"], strict=True)),
            TOTAL: table["total"],
        }
    )
    return report(
        request,
        "dei-demographics",
        {"period": period, "dimension": dimension},
        items,
        ["contributor_type", *table["columns"], TOTAL],
        summary={"k": release["k"], "released_at": release["released_at"]},
    )


async def _stored(conn: AsyncConnection, period: str, dimension: str) -> dict[str, Any] | None:
    found = await conn.execute(
        sa.select(demographic_releases).where(
            demographic_releases.c.period == period,
            demographic_releases.c.dimension == dimension,
        )
    )
    row = found.mappings().first()
    return dict(row) if row is not None else None


async def _release(conn: AsyncConnection, period: str, dimension: str, k: int) -> dict[str, Any]:
    counts = [
        DemographicCount(**r)
        for r in await rows(
            conn,
            demographic_counts,
            demographic_counts.c.period == period,
            demographic_counts.c.dimension == dimension,
        )
    ]
    table = release_table(counts, period, dimension, k).table
    if table is None:
        # Nothing is frozen: the feed may not have delivered this period yet.
        raise Problem(
            404,
            "no-demographic-data",
            "No demographic data",
            f"the aggregate feed has no {dimension} counts for period {period}",
        )
    values = {
        "period": period,
        "dimension": dimension,
        "k": k,
        "released_at": datetime.now(UTC),
        "release": {
            "rows": list(table.rows),
            "columns": list(table.columns),
            "cells": [list(line) for line in table.cells],
            "row_totals": list(table.row_totals),
            "column_totals": list(table.column_totals),
            "total": table.total,
        },
    }
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    # Two first requests at once: one release wins and both serve it.
    await conn.execute(insert(demographic_releases).values(values).on_conflict_do_nothing())
    stored = await _stored(conn, period, dimension)
    assert stored is not None
    return stored

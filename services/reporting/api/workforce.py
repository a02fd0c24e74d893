"""Composition of the ecosystem: now (or at any instant), and as a daily series."""

from __future__ import annotations

from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Query, Request, Response

from services.reporting.adapters.tables import lifecycle_intervals as intervals
from services.reporting.api.context import (
    At,
    BusinessUnit,
    Context,
    ContributorType,
    From,
    Reader,
    To,
    day_range,
    instant,
)
from services.reporting.api.render import fields_of, items_of, report
from services.reporting.api.rows import parameters, rows, snapshot
from services.reporting.projections.access import midnight
from services.reporting.projections.reports import composition, composition_series, end_of_day
from services.reporting.projections.reports.composition import (
    DIMENSIONS,
    CompositionCount,
    Dimension,
)

router = APIRouter(prefix="/v1/reports/composition", tags=["reports"])

By = Annotated[
    list[Dimension] | None,
    Query(description="Group by these (repeat the parameter); default: all four"),
]
SERIES_MAX_DAYS = 731


@router.get("", summary="Contributors per type, state, business unit and owning function")
async def composition_at(
    request: Request,
    ctx: Context,
    _: Reader,
    at: At = None,
    contributor_type: ContributorType = None,
    business_unit: BusinessUnit = None,
    by: By = None,
) -> Response:
    moment = instant(at)
    dimensions = _dimensions(by)
    async with snapshot(ctx.engine) as conn:
        found = await rows(
            conn,
            intervals,
            intervals.c.valid_from <= moment,
            sa.or_(intervals.c.valid_to.is_(None), intervals.c.valid_to > moment),
            contributor_type=contributor_type,
            business_unit=business_unit,
        )
    lines = composition(found, moment, dimensions)
    return report(
        request,
        "composition",
        parameters(
            at=moment, type=contributor_type, business_unit=business_unit, by=list(dimensions)
        ),
        [_without_day(item) for item in items_of(lines)],
        [c for c in fields_of(CompositionCount) if c != "day"],
    )


@router.get("/series", summary="Composition at the end of every day in a range")
async def composition_daily(
    request: Request,
    ctx: Context,
    _: Reader,
    start: From = None,
    end: To = None,
    contributor_type: ContributorType = None,
    business_unit: BusinessUnit = None,
    by: By = None,
) -> Response:
    first, last = day_range(start, end, default_days=30, max_days=SERIES_MAX_DAYS)
    dimensions = _dimensions(by)
    async with snapshot(ctx.engine) as conn:
        found = await rows(
            conn,
            intervals,
            intervals.c.valid_from <= end_of_day(last),
            sa.or_(intervals.c.valid_to.is_(None), intervals.c.valid_to > midnight(first)),
            contributor_type=contributor_type,
            business_unit=business_unit,
        )
    lines = composition_series(found, first, last, dimensions)
    return report(
        request,
        "composition-series",
        parameters(
            **{"from": first, "to": last},
            type=contributor_type,
            business_unit=business_unit,
            by=list(dimensions),
        ),
        items_of(lines),
        fields_of(CompositionCount),
    )


def _dimensions(by: list[Dimension] | None) -> tuple[Dimension, ...]:
    chosen = set(by or DIMENSIONS)
    return tuple(d for d in DIMENSIONS if d in chosen)


def _without_day(item: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in item.items() if k != "day"}

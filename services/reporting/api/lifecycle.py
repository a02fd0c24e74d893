"""Lifecycle flow: time to onboard, engagements starting and ending, contracts running out,
conversions and re-engagements."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Query, Request, Response

from services.reporting.adapters.tables import (
    contracts,
    engagements,
    lifecycle_events,
    onboarding_spells,
)
from services.reporting.api.context import (
    BusinessUnit,
    Context,
    ContributorType,
    From,
    On,
    Reader,
    ReportingContext,
    To,
    day_range,
    now,
)
from services.reporting.api.render import fields_of, items_of, report
from services.reporting.api.rows import Row, parameters, rows, snapshot
from services.reporting.projections.access import midnight
from services.reporting.projections.reports import (
    contracts_ending,
    conversions,
    end_of_day,
    engagement_flow,
    reengagements,
    time_to_onboard,
)
from services.reporting.projections.reports.common import Granularity
from services.reporting.projections.reports.lifecycle import (
    ContractsEnding,
    ConversionCount,
    EngagementFlow,
    OnboardingTime,
    PeriodCount,
)

router = APIRouter(prefix="/v1/reports/lifecycle", tags=["reports"])

Per = Annotated[Granularity, Query(description="Periods: UTC days, ISO weeks or months")]
Horizons = Annotated[
    list[Annotated[int, Query(ge=1, le=3660)]] | None,
    Query(max_length=10, description="Days ahead (repeat the parameter); default 30, 60, 90"),
]
MAX_DAYS = 3660
DEFAULT_DAYS = 365


@router.get("/time-to-onboard", summary="Days from onboarding start to activation, per type")
async def onboarding(
    request: Request,
    ctx: Context,
    _: Reader,
    start: From = None,
    end: To = None,
    contributor_type: ContributorType = None,
    business_unit: BusinessUnit = None,
) -> Response:
    first, last = day_range(start, end, DEFAULT_DAYS, MAX_DAYS)
    since, until = midnight(first), midnight(last + timedelta(days=1))
    async with snapshot(ctx.engine) as conn:
        spells = await rows(
            conn,
            onboarding_spells,
            onboarding_spells.c.ended_at >= since,
            onboarding_spells.c.ended_at < until,
            contributor_type=contributor_type,
            business_unit=business_unit,
        )
    return report(
        request,
        "time-to-onboard",
        parameters(
            **{"from": first, "to": last}, type=contributor_type, business_unit=business_unit
        ),
        items_of(time_to_onboard(spells, since, until)),
        fields_of(OnboardingTime),
    )


@router.get("/engagements", summary="Engagements started and ended per period and type")
async def engagement_flow_report(
    request: Request,
    ctx: Context,
    _: Reader,
    start: From = None,
    end: To = None,
    per: Per = "month",
    contributor_type: ContributorType = None,
    business_unit: BusinessUnit = None,
) -> Response:
    first, last = day_range(start, end, DEFAULT_DAYS, MAX_DAYS)
    async with snapshot(ctx.engine) as conn:
        found = await rows(
            conn,
            engagements,
            sa.or_(
                engagements.c.start.between(first, last), engagements.c.end.between(first, last)
            ),
            contributor_type=contributor_type,
            business_unit=business_unit,
        )
    return report(
        request,
        "engagement-flow",
        parameters(
            **{"from": first, "to": last},
            per=per,
            type=contributor_type,
            business_unit=business_unit,
        ),
        items_of(engagement_flow(found, first, last, per)),
        fields_of(EngagementFlow),
    )


@router.get("/contracts-ending", summary="Contracts whose last day is within 30/60/90 days")
async def contracts_ending_report(
    request: Request,
    ctx: Context,
    _: Reader,
    on: On = None,
    within: Horizons = None,
    contributor_type: ContributorType = None,
    business_unit: BusinessUnit = None,
) -> Response:
    day = on or now().date()
    horizons = sorted(set(within or (30, 60, 90)))
    async with snapshot(ctx.engine) as conn:
        found = await rows(
            conn,
            contracts,
            contracts.c.end.between(day, day + timedelta(days=max(horizons))),
            contributor_type=contributor_type,
            business_unit=business_unit,
        )
    lines = contracts_ending(found, day, horizons)
    items = [
        {
            **item,
            "contracts": [
                {"contributor_id": cid, "contract_id": contract}
                for cid, contract in item["contracts"]
            ],
        }
        for item in items_of(lines)
    ]
    return report(
        request,
        "contracts-ending",
        parameters(on=day, within=horizons, type=contributor_type, business_unit=business_unit),
        items,
        fields_of(ContractsEnding),
    )


@router.get("/conversions", summary="Type conversions per period and (from, to)")
async def conversions_report(
    request: Request,
    ctx: Context,
    _: Reader,
    start: From = None,
    end: To = None,
    per: Per = "month",
    business_unit: BusinessUnit = None,
) -> Response:
    first, last = day_range(start, end, DEFAULT_DAYS, MAX_DAYS)
    found = await _events_of_kind(ctx, "type_converted", first, last, None, business_unit)
    return report(
        request,
        "conversions",
        parameters(**{"from": first, "to": last}, per=per, business_unit=business_unit),
        items_of(conversions(found, first, last, per)),
        fields_of(ConversionCount),
    )


@router.get("/reengagements", summary="Re-engagements per period and type at the time")
async def reengagements_report(
    request: Request,
    ctx: Context,
    _: Reader,
    start: From = None,
    end: To = None,
    per: Per = "month",
    contributor_type: ContributorType = None,
    business_unit: BusinessUnit = None,
) -> Response:
    first, last = day_range(start, end, DEFAULT_DAYS, MAX_DAYS)
    found = await _events_of_kind(ctx, "reengaged", first, last, contributor_type, business_unit)
    return report(
        request,
        "reengagements",
        parameters(
            **{"from": first, "to": last},
            per=per,
            type=contributor_type,
            business_unit=business_unit,
        ),
        items_of(reengagements(found, first, last, per)),
        fields_of(PeriodCount),
    )


async def _events_of_kind(
    ctx: ReportingContext,
    kind: str,
    first: date,
    last: date,
    contributor_type: str | None,
    business_unit: str | None,
) -> list[Row]:
    """The lifecycle events of one kind that took effect from `first` to `last` (days)."""
    async with snapshot(ctx.engine) as conn:
        return await rows(
            conn,
            lifecycle_events,
            lifecycle_events.c.kind == kind,
            lifecycle_events.c.effective_at.between(midnight(first), end_of_day(last)),
            contributor_type=contributor_type,
            business_unit=business_unit,
        )

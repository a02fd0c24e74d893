"""Compliance posture per type, and checks whose validity has run out."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from services.reporting.adapters.tables import compliance_checks, contributor_facts
from services.reporting.api.context import (
    BusinessUnit,
    Context,
    ContributorType,
    On,
    Reader,
    now,
)
from services.reporting.api.render import fields_of, items_of, report
from services.reporting.api.rows import parameters, rows, snapshot
from services.reporting.projections.reports import compliance_posture, overdue_checks
from services.reporting.projections.reports.compliance import POSTURE_BUCKETS, OverdueCheck

router = APIRouter(prefix="/v1/reports/compliance", tags=["reports"])


@router.get("/posture", summary="Current contributors per type by latest policy status")
async def posture(
    request: Request,
    ctx: Context,
    _: Reader,
    contributor_type: ContributorType = None,
    business_unit: BusinessUnit = None,
) -> Response:
    async with snapshot(ctx.engine) as conn:
        facts = await rows(
            conn,
            contributor_facts,
            contributor_type=contributor_type,
            business_unit=business_unit,
        )
    items = [
        {
            "contributor_type": p.contributor_type,
            "contributors": p.contributors,
            **p.counts,
            **{f"{bucket}_percent": round(share, 2) for bucket, share in p.percent.items()},
        }
        for p in compliance_posture(facts)
    ]
    columns = [
        "contributor_type",
        "contributors",
        *POSTURE_BUCKETS,
        *(f"{b}_percent" for b in POSTURE_BUCKETS),
    ]
    return report(
        request,
        "compliance-posture",
        parameters(type=contributor_type, business_unit=business_unit),
        items,
        columns,
    )


@router.get("/overdue-checks", summary="Passed or waived checks whose validity has run out")
async def overdue(
    request: Request,
    ctx: Context,
    _: Reader,
    on: On = None,
    contributor_type: ContributorType = None,
    business_unit: BusinessUnit = None,
) -> Response:
    day = on or now().date()
    async with snapshot(ctx.engine) as conn:
        checks = await rows(
            conn,
            compliance_checks,
            compliance_checks.c.valid_until < day,
            contributor_type=contributor_type,
            business_unit=business_unit,
        )
        facts = await rows(
            conn,
            contributor_facts,
            contributor_facts.c.contributor_id.in_({c["contributor_id"] for c in checks}),
        )
    return report(
        request,
        "overdue-checks",
        parameters(on=day, type=contributor_type, business_unit=business_unit),
        items_of(overdue_checks(checks, facts, day)),
        fields_of(OverdueCheck),
    )

"""Access risk: sensitive access held by externals, access held after offboarding or
outside every contract, grants that never expire."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Query, Request, Response

from services.reporting.adapters.tables import access_exposures, access_grants
from services.reporting.api.context import (
    At,
    BusinessUnit,
    Context,
    ContributorType,
    Reader,
    ReportingContext,
    instant,
)
from services.reporting.api.render import fields_of, items_of, report
from services.reporting.api.rows import Row, parameters, rows, snapshot
from services.reporting.projections.reports import (
    access_after_end,
    external_sensitive_access,
    grants_without_expiry,
)
from services.reporting.projections.reports.access import ExposureFinding, HeldGrant

router = APIRouter(prefix="/v1/reports/access-risk", tags=["reports"])

ExposureKind = Annotated[
    Literal["after_offboarding", "after_contract_end"] | None,
    Query(description="Only this kind of exposure"),
]


@router.get("/external-sensitive", summary="Confidential or restricted access held by externals")
async def external_sensitive(
    request: Request,
    ctx: Context,
    _: Reader,
    at: At = None,
    contributor_type: ContributorType = None,
    business_unit: BusinessUnit = None,
) -> Response:
    moment = instant(at)
    grants = await _held(ctx, moment, contributor_type, business_unit)
    return report(
        request,
        "external-sensitive-access",
        parameters(at=moment, type=contributor_type, business_unit=business_unit),
        items_of(external_sensitive_access(grants, moment)),
        fields_of(HeldGrant),
    )


@router.get("/after-end", summary="Access held after offboarding or outside every contract")
async def after_end(
    request: Request,
    ctx: Context,
    _: Reader,
    at: At = None,
    kind: ExposureKind = None,
    contributor_type: ContributorType = None,
    business_unit: BusinessUnit = None,
) -> Response:
    moment = instant(at)
    conditions = [access_exposures.c.exposed_from < moment]
    if kind is not None:
        conditions.append(access_exposures.c.kind == kind)
    async with snapshot(ctx.engine) as conn:
        exposures = await rows(
            conn,
            access_exposures,
            *conditions,
            contributor_type=contributor_type,
            business_unit=business_unit,
        )
    return report(
        request,
        "access-after-end",
        parameters(at=moment, kind=kind, type=contributor_type, business_unit=business_unit),
        items_of(access_after_end(exposures, moment)),
        fields_of(ExposureFinding),
    )


@router.get("/without-expiry", summary="Grants held with no expiry")
async def without_expiry(
    request: Request,
    ctx: Context,
    _: Reader,
    at: At = None,
    contributor_type: ContributorType = None,
    business_unit: BusinessUnit = None,
) -> Response:
    moment = instant(at)
    grants = await _held(ctx, moment, contributor_type, business_unit)
    return report(
        request,
        "grants-without-expiry",
        parameters(at=moment, type=contributor_type, business_unit=business_unit),
        items_of(grants_without_expiry(grants, moment)),
        fields_of(HeldGrant),
    )


async def _held(
    ctx: ReportingContext,
    moment: datetime,
    contributor_type: str | None,
    business_unit: str | None,
) -> list[Row]:
    async with snapshot(ctx.engine) as conn:
        return await rows(
            conn,
            access_grants,
            access_grants.c.held_from <= moment,
            sa.or_(access_grants.c.held_until.is_(None), access_grants.c.held_until > moment),
            contributor_type=contributor_type,
            business_unit=business_unit,
        )

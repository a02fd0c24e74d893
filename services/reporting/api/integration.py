"""Integration health: what the source systems disagree about or leave out.

These reports compare contributors with each other (a duplicate pair may span types, a
sponsor may be anyone), so they take no type or business-unit filter.
"""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import APIRouter, Request, Response

from services.reporting.adapters.tables import access_grants, contracts, contributor_facts
from services.reporting.api.context import At, Context, Reader, instant
from services.reporting.api.render import fields_of, items_of, report
from services.reporting.api.rows import parameters, rows, snapshot
from services.reporting.projections.reports import (
    access_without_contract,
    accountability_gaps,
    conflicting_owners,
    probable_duplicates,
)
from services.reporting.projections.reports.integration import (
    AccountabilityGap,
    DuplicateGroup,
    OwnerConflict,
    UncoveredAccess,
)

router = APIRouter(prefix="/v1/reports/integration-health", tags=["reports"])


@router.get("/duplicates", summary="Probable duplicates: same e-mail, or same name and sponsor")
async def duplicates(request: Request, ctx: Context, _: Reader) -> Response:
    async with snapshot(ctx.engine) as conn:
        facts = await rows(conn, contributor_facts)
    return report(
        request,
        "probable-duplicates",
        {},
        items_of(probable_duplicates(facts)),
        fields_of(DuplicateGroup),
    )


@router.get("/accountability-gaps", summary="No sponsor, no owner, or a sponsor who has left")
async def gaps(request: Request, ctx: Context, _: Reader) -> Response:
    async with snapshot(ctx.engine) as conn:
        facts = await rows(conn, contributor_facts)
    return report(
        request,
        "accountability-gaps",
        {},
        items_of(accountability_gaps(facts)),
        fields_of(AccountabilityGap),
    )


@router.get("/access-without-contract", summary="Access held on a day no contract covers")
async def uncovered(request: Request, ctx: Context, _: Reader, at: At = None) -> Response:
    moment = instant(at)
    async with snapshot(ctx.engine) as conn:
        grants = await rows(
            conn,
            access_grants,
            access_grants.c.held_from <= moment,
            sa.or_(access_grants.c.held_until.is_(None), access_grants.c.held_until > moment),
        )
        holders = {g["contributor_id"] for g in grants}
        covering = await rows(conn, contracts, contracts.c.contributor_id.in_(holders))
    return report(
        request,
        "access-without-contract",
        parameters(at=moment),
        items_of(access_without_contract(grants, covering, moment)),
        fields_of(UncoveredAccess),
    )


@router.get("/conflicting-owners", summary="Source systems claiming different owning functions")
async def owners(request: Request, ctx: Context, _: Reader) -> Response:
    async with snapshot(ctx.engine) as conn:
        facts = await rows(conn, contributor_facts)
    return report(
        request,
        "conflicting-owners",
        {},
        items_of(conflicting_owners(facts)),
        fields_of(OwnerConflict),
    )

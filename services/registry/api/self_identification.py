"""Voluntary self-identification: answers go to the per-contributor vault, the event
records only that answers are on file. Erasure destroys the contributor's key."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy.ext.asyncio import AsyncConnection

from services.registry.adapters import vault
from services.registry.api.context import Context, Writer
from services.registry.api.execution import (
    ContributorId,
    IdempotencyKey,
    event_metadata,
    run_use_case,
)
from services.registry.api.representation import ContributorOut
from services.registry.domain.commands import EraseSelfIdentification, RecordSelfIdentification
from services.registry.domain.state import Contributor
from services.registry.domain.values import SelfIdDimension
from shared.http.text import PRINTABLE

router = APIRouter(prefix="/v1/contributors", tags=["self-identification"])

# Printable like every other text the services take: answers are free text, and a control
# character in one is a client's mistake to refuse, not a value to keep.
Answer = Annotated[
    str,
    StringConstraints(min_length=1, max_length=100, strip_whitespace=True, pattern=PRINTABLE),
]


class SelfIdentification(BaseModel):
    """Only dimensions the organisation asks about; every answer is voluntary."""

    model_config = ConfigDict(extra="forbid")
    answers: dict[SelfIdDimension, Answer] = Field(min_length=1)


@router.put(
    "/{contributor_id}/self-identification",
    response_model=ContributorOut,
    summary="Record voluntary self-identification (encrypted, never in events)",
)
async def record(
    request: Request,
    contributor_id: ContributorId,
    body: SelfIdentification,
    ctx: Context,
    principal: Writer,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    async def work(conn: AsyncConnection) -> Contributor:
        answers = {str(dimension): value for dimension, value in body.answers.items()}
        reference = await vault.store(conn, contributor_id, answers)
        command = RecordSelfIdentification(
            contributor_id=contributor_id,
            key_reference=reference,
            dimensions=tuple(sorted(body.answers)),
        )
        outcome = await ctx.registry.execute(
            conn, command, metadata=event_metadata(principal, "rest")
        )
        return outcome.state

    return await run_use_case(request, ctx, principal, work, idempotency_key=idempotency_key)


@router.delete(
    "/{contributor_id}/self-identification",
    response_model=ContributorOut,
    summary="Erase self-identification (destroys the contributor's key)",
)
async def erase(
    request: Request,
    contributor_id: ContributorId,
    ctx: Context,
    principal: Writer,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    async def work(conn: AsyncConnection) -> Contributor:
        outcome = await ctx.registry.execute(
            conn,
            EraseSelfIdentification(contributor_id=contributor_id),
            metadata=event_metadata(principal, "rest"),
        )
        await vault.shred(conn, contributor_id)
        return outcome.state

    return await run_use_case(request, ctx, principal, work, idempotency_key=idempotency_key)

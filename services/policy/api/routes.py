"""Policy over HTTP: versions (publish, simulate), synchronous access checks, decisions."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from services.policy.adapters.tables import policy_versions
from services.policy.api.context import Admin, Checker, Context, Reader
from services.policy.domain.document import PolicyInvalid
from services.policy.engine import EVALUATIONS
from services.registry.domain.values import Classification, Label
from shared.eventstore.store import EventStore
from shared.http.problems import Problem
from shared.http.text import IDENTIFIER

router = APIRouter(tags=["policy"])
ContributorId = Annotated[str, Path(min_length=1, max_length=128, pattern=IDENTIFIER)]


class PublishRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    document: dict[str, Any]
    reason: Label


class PublishedVersion(BaseModel):
    version: int
    content_hash: str
    mode: str
    decisions_emitted: int


class VersionSummary(BaseModel):
    version: int
    content_hash: str
    mode: str
    author: str
    reason: str
    published_at: datetime


class SimulateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    document: dict[str, Any]


class SimulatedChange(BaseModel):
    contributor_id: str
    decisions: list[dict[str, Any]]


class Simulation(BaseModel):
    content_hash: str
    contributors_affected: int
    changes: list[SimulatedChange]


class AccessCheck(BaseModel):
    model_config = ConfigDict(extra="forbid")
    contributor_id: str = Field(min_length=1, max_length=128, pattern=IDENTIFIER)
    resource: str = Field(min_length=1, max_length=200)
    classification: Classification
    action: Literal["access", "read", "write"] = "access"
    approvals: list[Annotated[str, Field(max_length=128)]] = Field(default=[], max_length=20)
    requested_until: date | None = None


class AccessVerdict(BaseModel):
    permit: bool
    reasons: list[str]
    policy_hash: str
    based_on_version: int
    as_of: date
    enforced: bool


def _invalid(error: PolicyInvalid) -> Problem:
    return Problem(
        422,
        "invalid-policy",
        "Invalid policy",
        str(error),
        errors=[{"pointer": e.path or "/", "detail": e.reason} for e in error.errors],
    )


@router.get("/v1/policies", response_model=list[VersionSummary], summary="Published versions")
async def versions(ctx: Context, _: Reader) -> list[VersionSummary]:
    async with ctx.engine.connect() as conn:
        rows = (
            await conn.execute(sa.select(policy_versions).order_by(policy_versions.c.version))
        ).mappings()
        return [VersionSummary.model_validate(dict(r)) for r in rows]


@router.get("/v1/policies/current", summary="The policy in force (the default before any)")
async def current(ctx: Context, _: Reader) -> dict[str, Any]:
    async with ctx.engine.connect() as conn:
        policy = await ctx.policy.in_force(conn)
    return {
        "version": policy.version,
        "content_hash": policy.hash,
        "mode": policy.document.mode,
        "document": policy.document.model_dump(mode="json"),
    }


@router.post(
    "/v1/policies",
    status_code=201,
    response_model=PublishedVersion,
    summary="Publish a version (draft, record_only or enforced)",
)
async def publish(body: PublishRequest, ctx: Context, principal: Admin) -> PublishedVersion:
    try:
        published, emitted = await ctx.policy.publish(
            ctx.engine, body.document, principal.subject, body.reason
        )
    except PolicyInvalid as error:
        raise _invalid(error) from error
    return PublishedVersion(
        version=published.version,
        content_hash=published.content_hash,
        mode=published.mode,
        decisions_emitted=emitted,
    )


@router.post(
    "/v1/policies/simulate",
    response_model=Simulation,
    summary="What enforcing a candidate would decide now, for whom — emits nothing",
)
async def simulate(body: SimulateRequest, ctx: Context, _: Admin) -> Simulation:
    try:
        async with ctx.engine.connect() as conn:
            digest, changes = await ctx.policy.simulate(conn, body.document)
    except PolicyInvalid as error:
        raise _invalid(error) from error
    return Simulation(
        content_hash=digest,
        contributors_affected=len(changes),
        changes=[
            SimulatedChange(
                contributor_id=c.contributor_id,
                decisions=[{"type": d.TYPE, **d.model_dump(mode="json")} for d in c.decisions],
            )
            for c in changes
        ],
    )


@router.post(
    "/v1/access/check",
    response_model=AccessVerdict,
    summary="May this contributor act on this resource now? With the rules that decided",
)
async def access_check(body: AccessCheck, ctx: Context, _: Checker) -> Response:
    async with ctx.engine.connect() as conn:
        answer = await ctx.policy.access(
            conn,
            body.contributor_id,
            body.resource,
            body.classification,
            body.action,
            body.approvals,
            body.requested_until,
        )
    if answer is None:
        raise Problem(
            404,
            "contributor-not-found",
            "Contributor not found",
            f"policy knows no contributor {body.contributor_id!r}",
        )
    # Built from values the engine produced, so FastAPI's re-validation against the
    # response model (as costly as the check itself) is skipped; the model documents it.
    verdict = {
        "permit": answer.permit,
        "reasons": answer.reasons,
        "policy_hash": answer.policy_hash,
        "based_on_version": answer.based_on_version,
        "as_of": answer.as_of.isoformat(),
        "enforced": answer.enforced,
    }
    body_text = json.dumps(verdict, ensure_ascii=False, separators=(",", ":"))
    return Response(body_text, media_type="application/json")


@router.get("/v1/decisions/{contributor_id}", summary="Current conclusions about a contributor")
async def current_decisions(contributor_id: ContributorId, ctx: Context, _: Reader) -> Any:
    """The contributor's last evaluation, and in `timers` the days on which policy will look
    at them again (scheduled, not fired yet)."""
    async with ctx.engine.connect() as conn:
        evaluation = await ctx.policy.evaluation_of(conn, contributor_id)
        if evaluation is None:
            raise Problem(
                404,
                "contributor-not-found",
                "Contributor not found",
                f"policy knows no contributor {contributor_id!r}",
            )
        scheduled = await ctx.policy.pending_timers(conn, contributor_id)
    timers = [
        {"due": t.due.isoformat(), "kind": t.kind, "subject_ref": t.subject_ref} for t in scheduled
    ]
    return {**EVALUATIONS.dump_python(evaluation, mode="json"), "timers": timers}


@router.get("/v1/decisions/{contributor_id}/history", summary="Every decision, in order")
async def decision_history(
    contributor_id: ContributorId, ctx: Context, _: Reader
) -> list[dict[str, Any]]:
    store: EventStore = ctx.policy.store
    async with ctx.engine.connect() as conn:
        stream = await store.read_stream(conn, contributor_id)
    return [
        {
            "event_id": str(e.event_id),
            "version": e.version,
            "type": e.type,
            "data": dict(e.data),
            "recorded_time": e.recorded_time.isoformat(),
        }
        for e in stream
    ]

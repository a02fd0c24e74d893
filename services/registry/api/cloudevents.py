"""CloudEvents ingestion for internal systems: `POST /v1/events`.

Structured (`application/cloudevents+json`), binary (`ce-*` headers, JSON body) and batch
(`application/cloudevents-batch+json`, up to 1,000). The posting system's `source` + `id` is
the idempotency key. A batch runs in one transaction with a savepoint per event, so a bad
event is rolled back alone and answered with its reason while the good ones are kept.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection

from services.registry.api.context import Context, Ingester, RegistryContext
from services.registry.api.errors import REGISTRY_ERRORS, problem_for
from services.registry.domain.events import parse
from services.registry.ingestion import INGESTIBLE, NotIngestible, command_for, stored_event_id
from shared.catalogue import InvalidEventData, UnknownEventType
from shared.envelope import CloudEvent
from shared.eventstore.model import WrongExpectedVersion
from shared.eventstore.tables import events
from shared.http.auth import Principal
from shared.http.problems import Problem, validation_problem

router = APIRouter(prefix="/v1/events", tags=["events"])

STRUCTURED = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"
MAX_BATCH = 1000
_ATTEMPTS = 3


class EventResult(BaseModel):
    id: str | None
    source: str | None
    status: Literal["accepted", "duplicate", "rejected"]
    contributor_id: str | None = None
    version: int | None = None
    problem: dict[str, Any] | None = None


class BatchResult(BaseModel):
    accepted: int
    duplicates: int
    rejected: int
    results: list[EventResult]


@router.post(
    "",
    summary="Post CloudEvents (structured, binary or batch)",
    response_model=BatchResult | EventResult,
    responses={202: {"model": EventResult}, 413: {"description": "More than 1,000 events"}},
)
async def ingest(request: Request, ctx: Context, principal: Ingester) -> JSONResponse:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type == BATCH:
        batch = await _json(request)
        if not isinstance(batch, list):
            raise Problem(
                400, "invalid-batch", "Invalid batch", "a batch is a JSON array of events"
            )
        if len(batch) > MAX_BATCH:
            raise Problem(
                413,
                "batch-too-large",
                "Batch too large",
                f"{len(batch)} events; a batch holds at most {MAX_BATCH}",
            )
        async with ctx.engine.begin() as conn:
            results = [await _savepointed(conn, ctx, principal, raw) for raw in batch]
        counts = {
            s: sum(r.status == s for r in results) for s in ("accepted", "duplicate", "rejected")
        }
        body = BatchResult(
            accepted=counts["accepted"],
            duplicates=counts["duplicate"],
            rejected=counts["rejected"],
            results=results,
        )
        return JSONResponse(body.model_dump(mode="json"))
    if media_type == STRUCTURED:
        raw = await _json(request)
    elif "ce-specversion" in request.headers:
        raw = _from_binary(request, await _json(request) if await request.body() else None)
    else:
        raise Problem(
            415,
            "unsupported-media-type",
            "Unsupported media type",
            f"post {STRUCTURED}, {BATCH}, or binary mode (ce-* headers with a JSON body)",
        )
    result = await _single(ctx, principal, raw)
    if result.status == "rejected":
        assert result.problem is not None
        return JSONResponse(
            result.problem, result.problem["status"], media_type="application/problem+json"
        )
    return JSONResponse(result.model_dump(mode="json"), 202 if result.status == "accepted" else 200)


async def _json(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except ValueError as exc:
        raise Problem(
            400, "malformed-json", "Malformed JSON", f"the body is not JSON: {exc}"
        ) from exc


def _from_binary(request: Request, data: Any) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        name[3:]: value for name, value in request.headers.items() if name.startswith("ce-")
    }
    return {**attributes, "data": data}


async def _single(ctx: RegistryContext, principal: Principal, raw: Any) -> EventResult:
    """Retries a lost race, after which the competing copy is seen as a duplicate."""
    for attempt in range(_ATTEMPTS):
        try:
            async with ctx.engine.begin() as conn:
                return await _process(conn, ctx, principal, raw)
        except WrongExpectedVersion as error:
            if attempt == _ATTEMPTS - 1:
                return _rejected(raw, problem_for(error))
        except REGISTRY_ERRORS as error:
            return _rejected(raw, problem_for(error))
    raise AssertionError("unreachable")


async def _savepointed(
    conn: AsyncConnection, ctx: RegistryContext, principal: Principal, raw: Any
) -> EventResult:
    try:
        async with conn.begin_nested():
            return await _process(conn, ctx, principal, raw)
    except REGISTRY_ERRORS as error:
        return _rejected(raw, problem_for(error))


async def _process(
    conn: AsyncConnection, ctx: RegistryContext, principal: Principal, raw: Any
) -> EventResult:
    """Accepts or recognises the event, or says why the event itself is unreadable. A
    refusal by the domain or the store propagates, so the caller's (save)point rolls back
    anything already written."""
    try:
        event = CloudEvent.model_validate(raw)
    except ValidationError as exc:
        return _rejected(
            raw, validation_problem(exc.errors(include_url=False), "invalid CloudEvent")
        )
    if not event.subject:
        return _rejected(
            raw,
            Problem(
                422,
                "subject-required",
                "Subject required",
                "subject must name the contributor the event is about",
            ),
        )
    try:
        payload = parse(event.type, event.data if isinstance(event.data, dict) else {})
        if event.type not in INGESTIBLE:
            raise NotIngestible(f"{event.type} cannot be posted; use the REST API")
        command = command_for(event.type, event.subject, payload, event.effectivetime or event.time)
    except UnknownEventType as exc:
        return _rejected(raw, Problem(422, "unknown-event-type", "Unknown event type", str(exc)))
    except InvalidEventData as exc:
        return _rejected(
            raw,
            validation_problem([{**e, "loc": ("data", *e["loc"])} for e in exc.errors], str(exc)),
        )
    except (NotIngestible, ValidationError) as exc:
        return _rejected(raw, Problem(422, "not-ingestible", "Not ingestible", str(exc)))
    first = stored_event_id(event.source, event.id, 0)
    seen = (
        await conn.execute(
            sa.select(events.c.stream_id, events.c.version).where(events.c.event_id == first)
        )
    ).first()
    if seen is not None:
        return EventResult(
            id=event.id,
            source=event.source,
            status="duplicate",
            contributor_id=seen.stream_id,
            version=seen.version,
        )
    metadata = {
        "actor": principal.subject,
        "channel": "cloudevents",
        "source": event.source,
        "correlation_id": event.correlationid or event.id,
        "causation_id": event.id,
    }
    outcome = await ctx.registry.execute(
        conn,
        command,
        metadata=metadata,
        event_id=lambda i: stored_event_id(event.source, event.id, i),
    )
    return EventResult(
        id=event.id,
        source=event.source,
        status="accepted",
        contributor_id=outcome.state.id,
        version=outcome.state.version,
    )


def _rejected(raw: Any, problem: Problem) -> EventResult:
    ident = raw.get("id") if isinstance(raw, dict) else None
    source = raw.get("source") if isinstance(raw, dict) else None
    return EventResult(
        id=ident if isinstance(ident, str) else None,
        source=source if isinstance(source, str) else None,
        status="rejected",
        problem=problem.body(),
    )

"""CloudEvents ingestion for internal systems: `POST /v1/events`.

Structured (`application/cloudevents+json`), binary (`ce-*` headers, JSON body) and batch
(`application/cloudevents-batch+json`, up to 1,000). The posting system's `source` + `id` is
the idempotency key. A batch is decided event by event but written set-wise, in one
transaction: a refused event leaves no trace and is answered with its reason while the good
ones are kept. One event is a batch of one. The same event twice in a batch is one event:
the second copy gets the first's answer.
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.registry.adapters.readmodel import SourceReferenceTaken
from services.registry.api.context import Context, Ingester
from services.registry.api.errors import problem_for
from services.registry.domain.commands import RegistryCommand
from services.registry.domain.events import parse
from services.registry.handlers import Registry, Submission
from services.registry.ingestion import INGESTIBLE, NotIngestible, command_for, stored_event_id
from shared.catalogue import InvalidEventData, UnknownEventType
from shared.envelope import CloudEvent
from shared.eventstore.model import WrongExpectedVersion
from shared.eventstore.tables import events
from shared.http.auth import Principal
from shared.http.problems import Problem, validation_problem
from shared.telemetry import CORRELATION_HEADER
from shared.tracing import current_trace_context

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
async def post_events(request: Request, ctx: Context, principal: Ingester) -> JSONResponse:
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
        poster = _poster(request, principal)
        results = await ingest(ctx.engine, ctx.registry, [(raw, poster) for raw in batch])
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
    result = await ctx.events.submit((raw, _poster(request, principal)))
    if result.status == "rejected":
        assert result.problem is not None
        return JSONResponse(
            result.problem, result.problem["status"], media_type="application/problem+json"
        )
    return JSONResponse(result.model_dump(mode="json"), 202 if result.status == "accepted" else 200)


async def _json(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except (ValueError, RecursionError) as exc:  # RecursionError: nested too deeply
        raise Problem(
            400, "malformed-json", "Malformed JSON", f"the body is not JSON: {exc}"
        ) from exc


def _from_binary(request: Request, data: Any) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        name[3:]: value for name, value in request.headers.items() if name.startswith("ce-")
    }
    return {**attributes, "data": data}


@dataclass(frozen=True)
class _Posted:
    """A readable event, and the command it asks for."""

    event: CloudEvent
    command: RegistryCommand

    @functools.cached_property
    def first_id(self) -> uuid.UUID:
        return stored_event_id(self.event.source, self.event.id, 0)


async def ingest(
    engine: AsyncEngine, registry: Registry, posted: Sequence[tuple[Any, Poster]]
) -> list[EventResult]:
    """Answers each (event, poster) in one transaction. Retries after losing a race with a
    concurrent writer: the next attempt reads what it wrote, so a competing copy of an event
    is then seen as a duplicate."""
    batch = [raw for raw, _ in posted]
    read = [(_read(raw), poster) for raw, poster in posted]
    for _ in range(_ATTEMPTS):
        try:
            async with engine.begin() as conn:
                return await _record(conn, registry, batch, read)
        except (WrongExpectedVersion, SourceReferenceTaken):
            continue
    conflict = problem_for(WrongExpectedVersion("", None, None))
    return [
        _rejected(raw, conflict) if isinstance(p, _Posted) else p
        for raw, (p, _) in zip(batch, read, strict=True)
    ]


async def _record(
    conn: AsyncConnection,
    registry: Registry,
    batch: list[Any],
    read: list[tuple[_Posted | EventResult, Poster]],
) -> list[EventResult]:
    posted = [p for p, _ in read]
    seen = await _stored(conn, [p.first_id for p in posted if isinstance(p, _Posted)])
    first_copy: dict[uuid.UUID, int] = {}
    submissions: dict[int, Submission] = {}
    for index, (p, poster) in enumerate(read):
        if not isinstance(p, _Posted) or p.first_id in seen:
            continue
        if first_copy.setdefault(p.first_id, index) == index:
            submissions[index] = _submission(p, poster)
    decided = await registry.execute_many(conn, list(submissions.values()))
    outcomes = dict(zip(submissions, decided, strict=True))
    results: list[EventResult] = []
    for index, (raw, p) in enumerate(zip(batch, posted, strict=True)):
        if not isinstance(p, _Posted):
            results.append(p)
        elif p.first_id in seen:
            stored = seen[p.first_id]
            results.append(_answer(p, "duplicate", stored.stream_id, stored.version))
        elif index not in outcomes:  # a second copy of an event earlier in this batch
            earlier = results[first_copy[p.first_id]]
            copy = {} if earlier.status == "rejected" else {"status": "duplicate"}
            results.append(earlier.model_copy(update=copy))
        else:
            outcome = outcomes[index]
            if isinstance(outcome, Exception):
                results.append(_rejected(raw, problem_for(outcome)))
            else:
                results.append(_answer(p, "accepted", outcome.state.id, outcome.state.version))
    return results


async def _stored(conn: AsyncConnection, first_ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    """The events posted before: their first recorded event, by id."""
    if not first_ids:
        return {}
    query = sa.select(events.c.event_id, events.c.stream_id, events.c.version).where(
        events.c.event_id.in_(first_ids)
    )
    return {row.event_id: row for row in await conn.execute(query)}


def _answer(
    posted: _Posted, status: Literal["accepted", "duplicate"], contributor_id: str, version: int
) -> EventResult:
    return EventResult(
        id=posted.event.id,
        source=posted.event.source,
        status=status,
        contributor_id=contributor_id,
        version=version,
    )


Poster = Mapping[str, str]
"""Who posted an event, for its metadata: the actor, and the request's trace context."""


def _poster(request: Request, principal: Principal) -> Poster:
    """Taken in the request's own task: the group commit that records the event runs in
    another, whose trace is not this request's. The request's `X-Correlation-Id`, if sent,
    is the correlation id of its events that name none themselves."""
    poster = {"actor": principal.subject, "channel": "cloudevents", **current_trace_context()}
    if correlation := request.headers.get(CORRELATION_HEADER):
        poster["correlation_id"] = correlation
    return poster


def _submission(posted: _Posted, poster: Poster) -> Submission:
    event = posted.event
    metadata = {
        **poster,
        "source": event.source,
        "correlation_id": event.correlationid or poster.get("correlation_id") or event.id,
        "causation_id": event.id,
    }
    derived = functools.partial(stored_event_id, event.source, event.id)
    return Submission(posted.command, metadata, event_id=derived)


def _read(raw: Any) -> _Posted | EventResult:
    """The event and its command, or the answer saying why the event itself is unreadable."""
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
    return _Posted(event, command)


def _rejected(raw: Any, problem: Problem) -> EventResult:
    ident = raw.get("id") if isinstance(raw, dict) else None
    source = raw.get("source") if isinstance(raw, dict) else None
    return EventResult(
        id=ident if isinstance(ident, str) else None,
        source=source if isinstance(source, str) else None,
        status="rejected",
        problem=problem.body(),
    )

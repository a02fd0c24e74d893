"""Running registry use cases over HTTP: idempotency keys, If-Match, errors, the answer."""

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Header, Path, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.registry.adapters.readmodel import SourceReferenceTaken
from services.registry.api.context import RegistryContext
from services.registry.api.errors import REGISTRY_ERRORS, problem_for
from services.registry.api.representation import contributor_out
from services.registry.domain import commands as c
from services.registry.domain.state import Contributor
from services.registry.handlers import Registry, Submission
from shared.eventstore.model import WrongExpectedVersion
from shared.http.auth import Principal
from shared.http.conditional import etag, expected_version, precondition_failed
from shared.http.idempotency import (
    Answer,
    StoredResponse,
    answers,
    remember,
    request_hash,
    run_once,
    scoped_key,
)
from shared.http.problems import Problem
from shared.logs import correlation_id
from shared.tracing import current_trace_context

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]
IfMatch = Annotated[str | None, Header(alias="If-Match")]
ContributorId = Annotated[
    str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$")
]


def event_metadata(principal: Principal, channel: str) -> dict[str, Any]:
    return {
        "actor": principal.subject,
        "channel": channel,
        # Bound per request by the telemetry middleware from X-Correlation-Id (or a new one).
        "correlation_id": correlation_id() or str(uuid.uuid4()),
        **current_trace_context(),
    }


Work = Callable[[AsyncConnection], Awaitable[Contributor]]
_ATTEMPTS = 3


@dataclass(frozen=True)
class Write:
    """A command over REST, with what its answer depends on."""

    submission: Submission
    key: str | None
    """The scoped idempotency key, if the caller sent one."""
    fingerprint: str
    created: bool


Answered = tuple[StoredResponse, bool] | Exception
"""The answer and whether it is a replay, or why the command was refused."""


async def run_command(
    request: Request,
    ctx: RegistryContext,
    principal: Principal,
    command: c.RegistryCommand,
    *,
    idempotency_key: str | None,
    if_match: str | None,
    created: bool = False,
) -> Response:
    """Runs the command in the next group commit (see `record_writes`)."""
    submission = Submission(
        command,
        event_metadata(principal, "rest"),
        expected_version=expected_version(if_match),
    )
    write = Write(
        submission,
        scoped_key(idempotency_key, principal.subject),
        request_hash(request.method, request.url.path, await request.body()),
        created,
    )
    answered = await ctx.writes.submit(write)
    if isinstance(answered, Problem):
        raise answered
    if isinstance(answered, Exception):
        raise problem_for(answered) from answered
    return _json(*answered)


async def record_writes(
    engine: AsyncEngine, registry: Registry, writes: Sequence[Write]
) -> list[Answered]:
    """One transaction for a group of commands: stored answers replayed, the rest decided
    together (`Registry.execute_many`), their answers stored under their keys. Losing a race
    with a concurrent writer retries the group, which then reads what that writer did: a
    stale If-Match becomes a 412, a key answered meanwhile a replay."""
    for _ in range(_ATTEMPTS):
        try:
            async with engine.begin() as conn:
                return await _record(conn, registry, writes)
        except (WrongExpectedVersion, SourceReferenceTaken, IntegrityError):
            continue
    # Every attempt lost a race: a caller who matched a version now holds a stale one (412),
    # the others may simply retry (409).
    return [
        precondition_failed(None)
        if w.submission.expected_version is not None
        else WrongExpectedVersion(w.submission.command.contributor_id, None, None)
        for w in writes
    ]


async def _record(
    conn: AsyncConnection, registry: Registry, writes: Sequence[Write]
) -> list[Answered]:
    stored = await answers(conn, [w.key for w in writes if w.key is not None])
    first_use: dict[str, int] = {}
    runs: dict[int, Submission] = {}
    for index, write in enumerate(writes):
        if write.key is None or (
            write.key not in stored and first_use.setdefault(write.key, index) == index
        ):
            runs[index] = write.submission
    decided = await registry.execute_many(conn, list(runs.values()))
    outcomes = dict(zip(runs, decided, strict=True))
    results: list[Answered] = []
    new_answers: dict[str, Answer] = {}
    for index, write in enumerate(writes):
        key = write.key
        if key is not None and (key in stored or index not in outcomes):
            # Answered before, or by its first use above (whose refusal it shares).
            earlier = stored.get(key) or new_answers.get(key)
            results.append(
                _replay(earlier, write.fingerprint) if earlier else results[first_use[key]]
            )
            continue
        outcome = outcomes[index]
        if isinstance(outcome, Exception):
            results.append(outcome)
            continue
        response = _response(outcome.state, write.created)
        results.append((response, False))
        if key is not None:
            new_answers[key] = Answer(write.fingerprint, response)
    await remember(conn, new_answers)
    return results


def _replay(answer: Answer, fingerprint: str) -> Answered:
    try:
        return answer.replay(fingerprint), True
    except Problem as reused:
        return reused


def _response(state: Contributor, created: bool) -> StoredResponse:
    headers = {"ETag": etag(state.version)}
    if created:
        headers["Location"] = f"/v1/contributors/{state.id}"
    body = contributor_out(state).model_dump(mode="json")
    return StoredResponse(201 if created else 200, body, headers)


def _json(response: StoredResponse, replayed: bool) -> JSONResponse:
    headers = {**response.headers, **({"Idempotent-Replayed": "true"} if replayed else {})}
    return JSONResponse(response.body, response.status, headers=headers)


async def run_use_case(
    request: Request,
    ctx: RegistryContext,
    principal: Principal,
    work: Work,
    *,
    idempotency_key: str | None,
    created: bool = False,
) -> Response:
    """Runs `work` once per idempotency key and answers with the contributor it leaves."""

    async def effect(conn: AsyncConnection) -> StoredResponse:
        return _response(await work(conn), created)

    fingerprint = request_hash(request.method, request.url.path, await request.body())
    try:
        response, replayed = await run_once(
            ctx.engine, idempotency_key, principal.subject, fingerprint, effect
        )
    except REGISTRY_ERRORS as error:
        raise problem_for(error) from error
    return _json(response, replayed)

"""Running registry use cases over HTTP: idempotency keys, If-Match, errors, the answer."""

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Header, Path, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncConnection

from services.registry.api.context import RegistryContext
from services.registry.api.errors import REGISTRY_ERRORS, problem_for
from services.registry.api.representation import contributor_out
from services.registry.domain import commands as c
from services.registry.domain.state import Contributor
from shared.http.auth import Principal
from shared.http.conditional import etag, expected_version
from shared.http.idempotency import StoredResponse, request_hash, run_once

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]
IfMatch = Annotated[str | None, Header(alias="If-Match")]
ContributorId = Annotated[
    str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$")
]


def event_metadata(request: Request, principal: Principal, channel: str) -> dict[str, Any]:
    return {
        "actor": principal.subject,
        "channel": channel,
        "correlation_id": request.headers.get("x-correlation-id") or str(uuid.uuid4()),
    }


Work = Callable[[AsyncConnection], Awaitable[Contributor]]


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
    expected = expected_version(if_match)

    async def work(conn: AsyncConnection) -> Contributor:
        metadata = event_metadata(request, principal, "rest")
        outcome = await ctx.registry.execute(
            conn, command, metadata=metadata, expected_version=expected
        )
        return outcome.state

    return await run_use_case(
        request, ctx, principal, work, idempotency_key=idempotency_key, created=created
    )


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
        state = await work(conn)
        headers = {"ETag": etag(state.version)}
        if created:
            headers["Location"] = f"/v1/contributors/{state.id}"
        body = contributor_out(state).model_dump(mode="json")
        return StoredResponse(201 if created else 200, body, headers)

    fingerprint = request_hash(request.method, request.url.path, await request.body())
    try:
        response, replayed = await run_once(
            ctx.engine, idempotency_key, principal.subject, fingerprint, effect
        )
    except REGISTRY_ERRORS as error:
        raise problem_for(error) from error
    headers = {**response.headers, **({"Idempotent-Replayed": "true"} if replayed else {})}
    return JSONResponse(response.body, response.status, headers=headers)

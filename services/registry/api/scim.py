"""SCIM 2.0 (RFC 7643/7644) at /scim/v2 for identity providers (Okta, Entra ID, Workday).

A User is a contributor; every write runs registry commands through `Registry.execute`, so
provisioning leaves the same lifecycle events as any other write. The mapping, the PATCH
forms and what is not supported are in docs/scim.md.

Every answer, errors included, is `application/scim+json`. The app renders errors as
problem+json, so these routes authenticate, parse and validate themselves and translate
every failure into a SCIM error (see scim_errors.py).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from fastapi import APIRouter, Request, Response
from sqlalchemy.ext.asyncio import AsyncConnection

from services.registry.adapters.tables import contributors, source_references
from services.registry.api import scim_discovery
from services.registry.api.context import RegistryContext, registry_context
from services.registry.api.execution import event_metadata
from services.registry.api.scim_attributes import Desired
from services.registry.api.scim_errors import (
    ScimError,
    invalid_value,
    not_found,
    scim_response,
    stale,
    weak_etag,
)
from services.registry.api.scim_filter import parse_filter, where_clause
from services.registry.api.scim_http import answer, base_url, int_param, read_body
from services.registry.api.scim_patch import apply_document, apply_patch
from services.registry.api.scim_plan import DELETION_REASON, changes, registration
from services.registry.api.scim_schema import MAX_RESULTS, PREFIX, list_response
from services.registry.api.scim_user import (
    UserRecord,
    count,
    idp_system,
    load_record,
    load_records,
    user_resource,
    username_system,
)
from services.registry.domain import commands as c
from shared.http.auth import Principal
from shared.http.conditional import expected_version
from shared.http.idempotency import StoredResponse, request_hash, run_once
from shared.http.problems import allowed_methods

router = APIRouter(prefix=PREFIX, tags=["scim"])
router.include_router(scim_discovery.router)

DEFAULT_COUNT = 100
_ENDPOINTS = re.compile(r"ServiceProviderConfig|(Schemas|ResourceTypes|Users)(/[^/]+)?")


def _user_response(record: UserRecord, request: Request) -> Response:
    resource = user_resource(record, base_url(request))
    return scim_response(resource, 200, {"ETag": resource["meta"]["version"]})


async def _run(
    conn: AsyncConnection,
    ctx: RegistryContext,
    request: Request,
    principal: Principal,
    commands: Sequence[c.RegistryCommand],
    version: int | None,
) -> None:
    """One transaction (the caller's), each command expecting the version the previous one
    left, so nothing can slip in between the steps of one SCIM request."""
    metadata = event_metadata(principal, "scim")
    for command in commands:
        outcome = await ctx.registry.execute(
            conn, command, metadata=metadata, expected_version=version
        )
        version = outcome.state.version


async def _refuse_taken_user_names(
    conn: AsyncConnection, commands: Sequence[c.RegistryCommand], system: str
) -> None:
    """userName is unique, regardless of case. Registration refuses a taken email or
    reference itself; a change of email or a non-email userName is checked here."""
    refs = source_references.c
    for command in commands:
        usernames: list[str] = []
        if isinstance(command, c.Register):
            usernames = [
                r.external_id
                for r in command.source_references
                if r.system == username_system(system)
            ]
        elif isinstance(command, c.LinkSourceReference):
            if command.system == username_system(system):
                usernames = [command.external_id]
        elif isinstance(command, c.UpdateProfile) and command.email is not None:
            owner = await conn.scalar(
                sa.select(contributors.c.id).where(
                    contributors.c.email == command.email,
                    contributors.c.id != command.contributor_id,
                )
            )
            if owner is not None:
                raise ScimError(409, f"{command.email} is the userName of {owner}", "uniqueness")
        for username in usernames:
            owner = await conn.scalar(
                sa.select(refs.contributor_id).where(
                    refs.system == username_system(system),
                    sa.func.lower(refs.external_id) == username.lower(),
                    refs.contributor_id != command.contributor_id,
                )
            )
            if owner is not None:
                raise ScimError(409, f"userName {username!r} belongs to {owner}", "uniqueness")


@router.get("/Users", summary="List or find Users (filter, startIndex, count)")
async def list_users(request: Request) -> Response:
    async def work(principal: Principal) -> Response:
        ctx = await registry_context(request)
        text = request.query_params.get("filter", "").strip()
        terms = parse_filter(text) if text else []
        start = max(int_param(request, "startIndex", 1), 1)
        size = min(max(int_param(request, "count", DEFAULT_COUNT), 0), MAX_RESULTS)
        system = idp_system(principal.subject)
        where = sa.and_(
            sa.true(), *(where_clause(t, system, username_system(system)) for t in terms)
        )
        async with ctx.engine.connect() as conn:
            total = await count(conn, where)
            found = await load_records(conn, where, system, offset=start - 1, limit=size)
        resources = [user_resource(r, base_url(request)) for r in found]
        return scim_response(list_response(resources, total, start))

    return await answer(request, work)


@router.get("/Users/{user_id}", summary="A User")
async def get_user(request: Request, user_id: str) -> Response:
    async def work(principal: Principal) -> Response:
        ctx = await registry_context(request)
        async with ctx.engine.connect() as conn:
            record = await load_record(conn, user_id, idp_system(principal.subject))
        if record is None:
            raise not_found(user_id)
        tag = weak_etag(record.version)
        if request.headers.get("if-none-match") in (tag, tag.removeprefix("W/")):
            return Response(status_code=304, headers={"ETag": tag})
        return _user_response(record, request)

    return await answer(request, work)


@router.post("/Users", status_code=201, summary="Create (register and activate) a User")
async def create_user(request: Request) -> Response:
    async def work(principal: Principal) -> Response:
        ctx = await registry_context(request)
        raw = await request.body()
        desired = Desired()
        apply_document(desired, await read_body(request))
        system = idp_system(principal.subject)
        user_id = f"c-{uuid.uuid4().hex}"
        commands = registration(desired, user_id, system, ctx.registry.types)

        async def effect(conn: AsyncConnection) -> StoredResponse:
            await _refuse_taken_user_names(conn, commands, system)
            await _run(conn, ctx, request, principal, commands, None)
            record = await load_record(conn, user_id, system)
            assert record is not None
            resource = user_resource(record, base_url(request))
            meta = resource["meta"]
            return StoredResponse(
                201, resource, {"ETag": meta["version"], "Location": meta["location"]}
            )

        response, replayed = await run_once(
            ctx.engine,
            request.headers.get("idempotency-key"),
            principal.subject,
            request_hash(request.method, request.url.path, raw),
            effect,
        )
        headers = dict(response.headers)
        if replayed:
            headers["Idempotent-Replayed"] = "true"
        return scim_response(response.body, response.status, headers)

    return await answer(request, work)


async def _modify(
    request: Request, principal: Principal, user_id: str, desired: Desired
) -> Response:
    ctx = await registry_context(request)
    expected = expected_version(request.headers.get("if-match"))
    system = idp_system(principal.subject)
    async with ctx.engine.begin() as conn:
        record = await load_record(conn, user_id, system)
        if record is None:
            raise not_found(user_id)
        if expected is not None and expected != record.version:
            raise stale(record.version)
        commands = changes(record, desired, system, ctx.registry.types)
        if commands:
            await _refuse_taken_user_names(conn, commands, system)
            await _run(conn, ctx, request, principal, commands, record.version)
            record = await load_record(conn, user_id, system)
            assert record is not None
    return _user_response(record, request)


@router.put("/Users/{user_id}", summary="Replace a User")
async def replace_user(request: Request, user_id: str) -> Response:
    async def work(principal: Principal) -> Response:
        desired = Desired()
        apply_document(desired, await read_body(request))
        if desired.user_name is None:
            raise invalid_value("userName is required")
        return await _modify(request, principal, user_id, desired)

    return await answer(request, work)


@router.patch("/Users/{user_id}", summary="Modify a User (PatchOp)")
async def patch_user(request: Request, user_id: str) -> Response:
    async def work(principal: Principal) -> Response:
        desired = Desired()
        apply_patch(desired, await read_body(request))
        return await _modify(request, principal, user_id, desired)

    return await answer(request, work)


@router.delete("/Users/{user_id}", status_code=204, summary="Offboard a User (stays readable)")
async def delete_user(request: Request, user_id: str) -> Response:
    async def work(principal: Principal) -> Response:
        ctx = await registry_context(request)
        expected = expected_version(request.headers.get("if-match"))
        async with ctx.engine.begin() as conn:
            record = await load_record(conn, user_id, idp_system(principal.subject))
            if record is None:
                raise not_found(user_id)
            if expected is not None and expected != record.version:
                raise stale(record.version)
            if record.lifecycle != "offboarded":
                offboard = c.Offboard(contributor_id=user_id, reason=DELETION_REASON)
                await _run(conn, ctx, request, principal, [offboard], record.version)
        return Response(status_code=204)

    return await answer(request, work)


@router.api_route(
    "/{rest:path}",
    methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"],
    include_in_schema=False,
)
async def unsupported(request: Request, rest: str) -> Response:
    async def work(_: Principal) -> Response:
        what = f"{request.method} {PREFIX}/{rest}"
        if rest in ("Bulk", "Me"):
            raise ScimError(501, f"{what} is not implemented (see ServiceProviderConfig)")
        if _ENDPOINTS.fullmatch(rest):
            allowed = allowed_methods(request, unless=unsupported) or ""
            raise ScimError(405, f"{what} is not supported", headers={"Allow": allowed})
        raise ScimError(404, f"{what} is not a SCIM endpoint")

    return await answer(request, work)

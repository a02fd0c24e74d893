"""REST for HR tools: register, read (now, as of a recorded time, as of an effective time),
list with filters, history, and one endpoint per transition.

Transition endpoints are made from the command classes: the body is the command without
the ids that the path carries, so the API and the domain cannot drift apart.
"""

import inspect
import uuid
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, create_model

from services.registry.adapters.tables import contributors
from services.registry.api.context import Context, Reader, Writer
from services.registry.api.errors import problem_for
from services.registry.api.execution import (
    ContributorId,
    IdempotencyKey,
    IfMatch,
    run_command,
)
from services.registry.api.representation import (
    ContributorOut,
    ContributorPage,
    ContributorSummary,
    HistoryEntry,
    contributor_out,
    history_entry,
)
from services.registry.domain import commands as c
from services.registry.domain.errors import ContributorNotFound
from services.registry.domain.values import Identifier
from shared.http.conditional import etag
from shared.http.pagination import MAX_PAGE_SIZE, decode_cursor, encode_cursor
from shared.http.problems import Problem
from shared.http.text import PRINTABLE, IsoDateTime

router = APIRouter(prefix="/v1/contributors", tags=["contributors"])


class RegisterRequest(c.Register):
    """A caller may choose the contributor id (e.g. to retry safely without an idempotency
    key); without one the registry assigns a new one."""

    contributor_id: Identifier | None = None  # type: ignore[assignment]


@router.post(
    "",
    status_code=201,
    response_model=ContributorOut,
    summary="Register a contributor",
    responses={409: {"description": "Already registered, or a probable duplicate"}},
)
async def register(
    request: Request,
    body: RegisterRequest,
    ctx: Context,
    principal: Writer,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    command = c.Register.model_validate(
        {**body.model_dump(), "contributor_id": body.contributor_id or f"c-{uuid.uuid4().hex}"}
    )
    return await run_command(
        request,
        ctx,
        principal,
        command,
        idempotency_key=idempotency_key,
        if_match=None,
        created=True,
    )


@router.get("/{contributor_id}", response_model=ContributorOut, summary="A contributor")
async def get_contributor(
    contributor_id: ContributorId,
    ctx: Context,
    _: Reader,
    as_of: Annotated[
        IsoDateTime | None, Query(description="What we knew then (recorded time)")
    ] = None,
    effective_at: Annotated[
        IsoDateTime | None, Query(description="What was in effect then")
    ] = None,
    if_none_match: Annotated[str | None, Header(alias="If-None-Match")] = None,
) -> Response:
    async with ctx.engine.connect() as conn:
        state = await ctx.registry.as_of(
            conn, contributor_id, recorded=as_of, effective=effective_at
        )
    if state is None:
        raise problem_for(ContributorNotFound(contributor_id))
    tag = etag(state.version)
    if if_none_match == tag and as_of is None and effective_at is None:
        return Response(status_code=304, headers={"ETag": tag})
    return JSONResponse(contributor_out(state).model_dump(mode="json"), headers={"ETag": tag})


@router.get("", response_model=ContributorPage, summary="List contributors, filtered, by cursor")
async def list_contributors(
    ctx: Context,
    _: Reader,
    contributor_type: Annotated[
        str | None, Query(alias="type", max_length=50, pattern=PRINTABLE)
    ] = None,
    lifecycle: Annotated[str | None, Query(alias="state", max_length=20, pattern=PRINTABLE)] = None,
    owning_function: Annotated[str | None, Query(max_length=50, pattern=PRINTABLE)] = None,
    business_unit: Annotated[str | None, Query(max_length=200, pattern=PRINTABLE)] = None,
    sponsor: Annotated[str | None, Query(max_length=64, pattern=PRINTABLE)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> ContributorPage:
    query = sa.select(contributors).order_by(contributors.c.id).limit(limit + 1)
    filters = {
        "contributor_type": contributor_type,
        "lifecycle": lifecycle,
        "owning_function": owning_function,
        "business_unit": business_unit,
        "sponsor": sponsor,
    }
    for column, value in filters.items():
        if value is not None:
            query = query.where(contributors.c[column] == value)
    after = decode_cursor(cursor)
    if after is not None:
        if len(after) != 1 or not isinstance(after[0], str):
            raise Problem(
                400, "invalid-cursor", "Invalid cursor", "the cursor is not one this service issued"
            )
        query = query.where(contributors.c.id > after[0])
    async with ctx.engine.connect() as conn:
        rows = (await conn.execute(query)).mappings().all()
    items = [ContributorSummary.model_validate(dict(r)) for r in rows[:limit]]
    next_cursor = encode_cursor([items[-1].id]) if len(rows) > limit else None
    return ContributorPage(items=items, next_cursor=next_cursor)


@router.get("/{contributor_id}/history", response_model=list[HistoryEntry], summary="Event history")
async def history(contributor_id: ContributorId, ctx: Context, _: Reader) -> list[HistoryEntry]:
    async with ctx.engine.connect() as conn:
        stream = await ctx.registry.store.read_stream(conn, contributor_id)
    if not stream:
        raise problem_for(ContributorNotFound(contributor_id))
    return [history_entry(e) for e in stream]


def _body_model(command: type[c.Command], from_path: tuple[str, ...]) -> type[BaseModel]:
    fields: dict[str, Any] = {
        name: (info.annotation, info)
        for name, info in command.model_fields.items()
        if name not in ("contributor_id", *from_path)
    }
    return create_model(
        f"{command.__name__}Body", __config__=ConfigDict(extra="forbid", frozen=True), **fields
    )


def transition(
    method: str, path: str, command: type[c.Command], summary: str, from_path: tuple[str, ...] = ()
) -> None:
    """Adds `METHOD /v1/contributors/{contributor_id}<path>` running `command`."""
    body_model = _body_model(command, from_path)

    async def endpoint(**kwargs: Any) -> Response:
        body: BaseModel = kwargs["body"]
        values = {**body.model_dump(exclude_unset=True), "contributor_id": kwargs["contributor_id"]}
        values.update({name: kwargs[name] for name in from_path})
        try:
            parsed = command.model_validate(values)
        except ValueError as exc:
            raise Problem(422, "validation-failed", "Validation failed", str(exc)) from exc
        return await run_command(
            kwargs["request"],
            kwargs["ctx"],
            kwargs["principal"],
            parsed,  # type: ignore[arg-type]
            idempotency_key=kwargs["idempotency_key"],
            if_match=kwargs["if_match"],
        )

    parameters = [
        inspect.Parameter("request", inspect.Parameter.KEYWORD_ONLY, annotation=Request),
        inspect.Parameter(
            "contributor_id", inspect.Parameter.KEYWORD_ONLY, annotation=ContributorId
        ),
        *[
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                annotation=Annotated[str, Path(min_length=1, max_length=64)],
            )
            for name in from_path
        ],
        inspect.Parameter("body", inspect.Parameter.KEYWORD_ONLY, annotation=body_model),
        inspect.Parameter("ctx", inspect.Parameter.KEYWORD_ONLY, annotation=Context),
        inspect.Parameter("principal", inspect.Parameter.KEYWORD_ONLY, annotation=Writer),
        inspect.Parameter(
            "idempotency_key",
            inspect.Parameter.KEYWORD_ONLY,
            annotation=IdempotencyKey,
            default=None,
        ),
        inspect.Parameter(
            "if_match", inspect.Parameter.KEYWORD_ONLY, annotation=IfMatch, default=None
        ),
    ]
    endpoint.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    endpoint.__name__ = command.__name__.lower()
    router.add_api_route(
        "/{contributor_id}" + path,
        endpoint,
        methods=[method],
        response_model=ContributorOut,
        summary=summary,
        responses={
            409: {"description": "Illegal transition or conflict"},
            412: {"description": "If-Match is stale"},
        },
    )


TRANSITIONS: list[tuple[str, str, type[c.Command], str, tuple[str, ...]]] = [
    ("PATCH", "", c.UpdateProfile, "Update profile fields", ()),
    ("POST", "/onboarding", c.StartOnboarding, "Start onboarding", ()),
    ("POST", "/activation", c.Activate, "Activate", ()),
    ("POST", "/suspension", c.Suspend, "Suspend", ()),
    ("POST", "/reinstatement", c.Reinstate, "Reinstate after a suspension", ()),
    ("POST", "/offboarding", c.Offboard, "Offboard (revokes access, ends engagements)", ()),
    ("POST", "/reengagement", c.Reengage, "Re-engage an offboarded contributor", ()),
    ("POST", "/conversion", c.ConvertType, "Convert to another contributor type", ()),
    ("POST", "/source-references", c.LinkSourceReference, "Link a source-system reference", ()),
    ("POST", "/contracts", c.AddContract, "Add a contract", ()),
    ("PATCH", "/contracts/{contract_id}", c.AmendContract, "Amend a contract", ("contract_id",)),
    (
        "POST",
        "/contracts/{contract_id}/extension",
        c.ExtendContract,
        "Extend a contract",
        ("contract_id",),
    ),
    (
        "POST",
        "/contracts/{contract_id}/termination",
        c.TerminateContract,
        "Terminate a contract",
        ("contract_id",),
    ),
    ("POST", "/engagements", c.StartEngagement, "Start an engagement", ()),
    (
        "POST",
        "/engagements/{engagement_id}/end",
        c.EndEngagement,
        "End an engagement",
        ("engagement_id",),
    ),
    ("POST", "/checks", c.RecordCheck, "Record a compliance check result", ()),
    ("POST", "/access-grants", c.GrantAccess, "Grant access", ()),
    (
        "POST",
        "/access-grants/{grant_id}/revocation",
        c.RevokeAccess,
        "Revoke access",
        ("grant_id",),
    ),
    ("POST", "/dei-enrolments", c.EnrolDei, "Enrol in a DEI program", ()),
    ("POST", "/dei-withdrawals", c.WithdrawDei, "Withdraw from a DEI program", ()),
]

for _method, _path, _command, _summary, _from_path in TRANSITIONS:
    transition(_method, _path, _command, _summary, _from_path)

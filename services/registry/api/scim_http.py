"""The plumbing every SCIM route shares: its own authentication, body parsing and error
translation, since the app-wide dependencies and handlers speak problem+json."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request, Response

from services.registry.api.scim_errors import ScimError, invalid_value, scim_error_for
from shared.http.auth import Authenticator, Principal

SCOPE = "scim"
_MEDIA_TYPES = ("application/scim+json", "application/json")

Work = Callable[[Principal], Awaitable[Response]]


async def answer(request: Request, work: Work) -> Response:
    """Authenticates, runs `work`, and answers any failure as a SCIM error."""
    try:
        return await work(authenticate(request))
    except Exception as exc:
        return scim_error_for(exc, if_match_sent="if-match" in request.headers).response()


def authenticate(request: Request) -> Principal:
    authenticator: Authenticator = request.app.state.authenticator
    principal = authenticator.verify(request.headers.get("authorization"))
    if SCOPE not in principal.scopes:
        raise ScimError(
            403,
            f"SCIM needs a token with the scope {SCOPE}",
            headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{SCOPE}"'},
        )
    return principal


async def read_body(request: Request) -> dict[str, Any]:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media and media not in _MEDIA_TYPES:
        raise ScimError(415, f"send {' or '.join(_MEDIA_TYPES)}, not {media}")
    try:
        body = json.loads(await request.body())
    except (ValueError, RecursionError):  # RecursionError: nested too deeply
        raise ScimError(400, "the request body is not valid JSON", "invalidSyntax") from None
    if not isinstance(body, dict):
        raise ScimError(400, "the request body must be a JSON object", "invalidSyntax")
    return body


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def int_param(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        return int(raw)
    except ValueError:
        raise invalid_value(f"{name} must be an integer") from None

"""Errors as RFC 9457 problem details (`application/problem+json`), for every service.

Each problem has a stable `type` (a relative URI under /problems/), a `title` that never
varies for that type, a `detail` for this occurrence and, for validation, `errors` naming
each offending field by JSON pointer. A 500 is always a bug; everything the caller can fix
is a 4xx.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger(__name__)


class Problem(Exception):
    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str,
        *,
        errors: Sequence[Mapping[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.errors = list(errors or [])
        self.headers = dict(headers or {})
        self.extensions = extensions

    def body(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": f"/problems/{self.slug}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            **self.extensions,
        }
        if instance:
            body["instance"] = instance
        if self.errors:
            body["errors"] = self.errors
        return body


def problem_response(problem: Problem, instance: str | None = None) -> JSONResponse:
    return JSONResponse(
        problem.body(instance), problem.status, headers=problem.headers, media_type=PROBLEM_JSON
    )


def pointer(location: Sequence[str | int]) -> str:
    """A JSON pointer (RFC 6901) for a pydantic error location, without the `body` prefix."""
    parts = list(location[1:] if location and location[0] == "body" else location)
    return "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def validation_problem(errors: Sequence[Mapping[str, Any]], detail: str | None = None) -> Problem:
    fields = [
        {
            "pointer": pointer(e.get("loc", ())),
            "in": str(e["loc"][0]) if e.get("loc") else "body",
            "detail": e.get("msg", "invalid"),
            "code": e.get("type", "invalid"),
        }
        for e in errors
    ]
    if any(e.get("type") == "json_invalid" for e in errors):
        return Problem(
            400,
            "malformed-json",
            "Malformed JSON",
            "the request body is not valid JSON",
            errors=fields,
        )
    summary = "; ".join(f"{f['pointer']}: {f['detail']}" for f in fields[:3])
    return Problem(422, "validation-failed", "Validation failed", detail or summary, errors=fields)


_STATUS_SLUGS = {
    400: ("bad-request", "Bad request"),
    401: ("unauthenticated", "Authentication required"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    413: ("payload-too-large", "Payload too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
}


def database_unavailable(exc: BaseException) -> bool:
    """A lost or refused database connection: the caller should retry, nothing is wrong
    with the request."""
    if isinstance(exc, sa_exc.DBAPIError):
        # A server shutting down or starting up refuses connections with SQLSTATE class 57P
        # (57P03 "cannot connect now"), which the driver reports as a plain DBAPIError.
        sqlstate = getattr(exc.orig, "sqlstate", None) or ""
        return (
            exc.connection_invalidated
            or isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError)
            or sqlstate.startswith(("08", "57P"))
        )
    return isinstance(exc, OSError | ConnectionError)


def _refused_text(exc: BaseException) -> bool:
    """PostgreSQL refusing a character in text or JSON (22021, 22P05): input that slipped
    past validation, so the caller's mistake, not ours."""
    sqlstate = getattr(getattr(exc, "orig", None), "sqlstate", None)
    return isinstance(exc, sa_exc.DBAPIError) and sqlstate in ("22021", "22P05")


def allowed_methods(request: Request, unless: object = None) -> str | None:
    """Every method some route offers for this path (FastAPI's 405 names only the first
    route that matched it), leaving out routes whose endpoint is `unless` (a catch-all)."""
    methods: set[str] = set()
    pending = list(request.app.routes)
    while pending:
        route = pending.pop()
        nested = getattr(route, "original_router", None)
        if nested is not None:
            pending.extend(nested.routes)
            continue
        regex = getattr(route, "path_regex", None)
        if getattr(route, "endpoint", None) is unless:
            continue
        if regex is not None and regex.match(request.url.path):
            methods |= set(getattr(route, "methods", None) or ())
    return ", ".join(sorted(methods)) or None


def install_problem_handlers(app: FastAPI) -> None:
    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Problem)
        return problem_response(exc, request.url.path)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        from shared.http.auth import authorize_before_validation

        try:
            authorize_before_validation(request)
        except Problem as refused:
            return problem_response(refused, request.url.path)
        return problem_response(validation_problem(exc.errors()), request.url.path)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        slug, title = _STATUS_SLUGS.get(exc.status_code, ("http-error", "HTTP error"))
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            allowed = allowed_methods(request)
            if allowed:
                headers["Allow"] = allowed
        problem = Problem(exc.status_code, slug, title, str(exc.detail), headers=headers)
        return problem_response(problem, request.url.path)

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        if _refused_text(exc):
            problem = Problem(
                400,
                "invalid-characters",
                "Invalid characters",
                "text must not contain NUL or other characters the store refuses",
            )
            return problem_response(problem, request.url.path)
        if database_unavailable(exc):
            log.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
            problem = Problem(
                503,
                "database-unavailable",
                "Database unavailable",
                "the database cannot be reached right now: retry shortly",
                headers={"Retry-After": "2"},
            )
            return problem_response(problem, request.url.path)
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        problem = Problem(500, "internal-error", "Internal error", "an unexpected error occurred")
        return problem_response(problem, request.url.path)

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    # A handler for Exception runs in Starlette's outermost middleware, which re-raises
    # after answering, so uvicorn logs a traceback and closes the connection. A database
    # away (a restart) is expected, not a crash: its errors get handlers of their own,
    # inside, and keep-alive clients keep their connection.
    app.add_exception_handler(sa_exc.DBAPIError, on_unexpected)
    app.add_exception_handler(OSError, on_unexpected)
    app.add_exception_handler(Exception, on_unexpected)

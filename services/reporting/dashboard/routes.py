"""The dashboard's routes: the page, its static assets, stream tickets and the live stream.

- `GET /dashboard`: the page (HTML, no data in it, so no authentication).
- `GET /dashboard/static/{name}`: its scripts, styles and the vendored Chart.js.
- `POST /dashboard/stream-tickets`: bearer token (`reports:read`) in, stream ticket out.
- `GET /dashboard/stream?ticket=...` (or with a bearer token in the header, for scripts):
  server-sent events. First `snapshot` (every section), then `update` (only the sections
  that changed), keep-alive comments every `KEEPALIVE_SECONDS`, and `end` when the stream
  closes itself: after `settings.dashboard_stream_seconds` (a server shutting down waits
  for open responses, so none may stay open for long) or when the token expires. The page then
  asks for a new ticket and reconnects; it gets a 401 if its token is no longer valid.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from services.reporting.api.context import SERVICE, ReportingContext, reporting_context
from services.reporting.consumer import CONSUMER
from services.reporting.dashboard import tickets
from services.reporting.dashboard.feed import DashboardFeed
from services.reporting.dashboard.figures import Sections, for_scopes
from shared.app import ServiceContext
from shared.http.auth import Authenticator, Principal, authorize, requires
from shared.http.problems import Problem


@asynccontextmanager
async def _lifespan(app: Any) -> AsyncIterator[None]:
    """Stops the feed's poller before the app disposes of the engine it polls with."""
    yield
    service: ServiceContext | None = getattr(app.state, "services", {}).get(SERVICE)
    feed = service.extras.get(_FEED) if service is not None else None
    if isinstance(feed, DashboardFeed):
        await feed.close()


router = APIRouter(tags=["dashboard"], lifespan=_lifespan)

STATIC = Path(__file__).parent / "static"
ASSETS = {
    "dashboard.js": "text/javascript; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
    "chart.umd.min.js": "text/javascript; charset=utf-8",
    "chart.js-LICENSE.md": "text/markdown; charset=utf-8",
}
KEEPALIVE_SECONDS = 15.0
RETRY_MILLISECONDS = 2000
_FEED = "dashboard"

# The page loads only its own files; nothing inline, nothing from elsewhere. No referrer:
# the first URL carries the token until the page's script removes it.
_PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class _Asset:
    body: bytes
    etag: str


@cache
def _asset(name: str) -> _Asset:
    body = (STATIC / name).read_bytes()
    return _Asset(body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')


@router.get("/dashboard", include_in_schema=False, name="dashboard")
async def page() -> Response:
    return Response(
        _asset("index.html").body, media_type="text/html; charset=utf-8", headers=_PAGE_HEADERS
    )


@router.get("/dashboard/static/{name}", include_in_schema=False)
async def asset(name: str, request: Request) -> Response:
    media_type = ASSETS.get(name)
    if media_type is None:
        raise Problem(404, "not-found", "Not found", f"no dashboard asset {name!r}")
    found = _asset(name)
    headers = {
        "ETag": found.etag,
        "Cache-Control": "no-cache",
        "X-Content-Type-Options": "nosniff",
    }
    if found.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(found.body, media_type=media_type, headers=headers)


@router.post(
    "/dashboard/stream-tickets",
    summary="Exchange a bearer token for a short-lived ticket to open the dashboard stream",
    responses={
        401: {"description": "No valid bearer token"},
        403: {"description": "No reports:read"},
    },
)
async def stream_ticket(
    request: Request, principal: Annotated[Principal, Depends(requires("reports:read"))]
) -> JSONResponse:
    ticket, seconds = tickets.issue(
        request.app.state.settings, principal, tickets.bearer_expiry(request)
    )
    return JSONResponse(
        {
            "ticket": ticket,
            "expires_in": seconds,
            "scopes": sorted(principal.scopes & tickets.DASHBOARD_SCOPES),
        },
        headers={"Cache-Control": "no-store"},
    )


# Not in the OpenAPI document: a response that lasts a minute by design would stall every
# schema-driven client and fuzzer that calls it; this module's docstring describes it.
@router.get("/dashboard/stream", include_in_schema=False, response_class=StreamingResponse)
async def stream(
    request: Request,
    context: Annotated[ReportingContext, Depends(reporting_context)],
    ticket: Annotated[
        str | None,
        Query(max_length=4096, description="From POST /dashboard/stream-tickets"),
    ] = None,
) -> StreamingResponse:
    viewer = _viewer(request, ticket)
    feed = _feed(request, context)
    return StreamingResponse(
        _events(feed, viewer, request.app.state.settings.dashboard_stream_seconds),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def _viewer(request: Request, ticket: str | None) -> tickets.Ticket:
    """From the bearer token if the caller sent one (scripts), else from the ticket."""
    if request.headers.get("authorization"):
        principal = authorize(request, "reports:read")
        return tickets.Ticket(
            principal.subject,
            principal.scopes & tickets.DASHBOARD_SCOPES,
            tickets.bearer_expiry(request),
        )
    if ticket is None:
        authenticator: Authenticator = request.app.state.authenticator
        authenticator.verify(None)  # raises the standard 401 with its challenge
    assert ticket is not None
    return tickets.redeem(request.app.state.settings, ticket)


def _feed(request: Request, context: ReportingContext) -> DashboardFeed:
    service: ServiceContext = request.app.state.services[SERVICE]
    feed: DashboardFeed | None = service.extras.get(_FEED)
    if feed is None:

        def lag() -> Any:
            consumer = context.worker.consumer
            return consumer.lag() if consumer is not None else None

        feed = DashboardFeed(context.engine, CONSUMER, lag, context.options.dei_k)
        service.extras[_FEED] = feed
    return feed


async def _events(
    feed: DashboardFeed, viewer: tickets.Ticket, lifetime: float
) -> AsyncIterator[str]:
    yield f"retry: {RETRY_MILLISECONDS}\n\n"
    started = datetime.now(UTC)
    ends = min(viewer.until, started + timedelta(seconds=lifetime))
    reason = "token_expired" if ends == viewer.until else "reconnect"
    async with feed.viewing():
        sent: Sections = {}
        while True:
            version = feed.version
            current = for_scopes(feed.sections, viewer.scopes)
            changed = {name: value for name, value in current.items() if sent.get(name) != value}
            if changed:
                kind = "update" if sent else "snapshot"
                yield _message(kind, {"at": datetime.now(UTC).isoformat(), "sections": changed})
                sent = current
            left = (ends - datetime.now(UTC)).total_seconds()
            if left <= 0:
                yield _message("end", {"reason": reason})
                return
            if not await feed.wait_for_change(version, min(KEEPALIVE_SECONDS, left)):
                yield ": keep-alive\n\n"


def _message(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"

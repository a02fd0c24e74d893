"""Prometheus metrics every service exposes at /metrics (one registry per process, so the
embedded mode shows all three services on one page)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from starlette.routing import Match

REQUEST_SECONDS = Histogram(
    "wfe_http_request_duration_seconds",
    "HTTP request latency by route template",
    ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
EVENTS_APPENDED = Counter("wfe_events_appended_total", "Events appended to a store", ["service"])
OUTBOX_BACKLOG = Gauge("wfe_outbox_backlog", "Outbox events not yet published", ["service"])
RELAY_PUBLISHED = Counter("wfe_relay_published_total", "Events the relay published", ["service"])
CONSUMER_EVENTS = Counter(
    "wfe_consumer_events_total", "Events a consumer handled, by outcome", ["consumer", "outcome"]
)
CONSUMER_LAG = Gauge(
    "wfe_consumer_lag_events", "Messages not yet processed", ["consumer", "topic", "partition"]
)


def install_metrics(app: FastAPI) -> None:
    @app.middleware("http")
    async def measure(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        REQUEST_SECONDS.labels(request.method, _route(request), str(response.status_code)).observe(
            time.perf_counter() - started
        )
        return response

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def _route(request: Request) -> str:
    """The route template, so that ids in paths do not explode the label set."""
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match is Match.FULL:
            return str(getattr(route, "path", "unmatched"))
    return "unmatched"

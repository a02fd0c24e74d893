"""Prometheus metrics every service exposes at /metrics (one registry per process, so the
embedded mode shows all three services on one page)."""

from __future__ import annotations

import time

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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


class RequestMetrics:
    """Plain ASGI (not BaseHTTPMiddleware): nothing between the app and the server's
    receive/send, so streaming bodies and errors raised while reading them pass through."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route = scope.get("route")
            template = str(getattr(route, "path", "unmatched"))
            REQUEST_SECONDS.labels(scope["method"], template, str(status)).observe(
                time.perf_counter() - started
            )


def install_metrics(app: FastAPI) -> None:
    app.add_middleware(RequestMetrics)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

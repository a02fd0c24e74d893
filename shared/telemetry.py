"""Prometheus metrics every service exposes at /metrics (one registry per process, so the
embedded mode shows all three services on one page), and the per-request telemetry: latency,
the server span, the correlation id and one access log line."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from opentelemetry.trace import SpanKind, StatusCode
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.http.problems import Problem, problem_response
from shared.logs import correlated
from shared.tracing import TRACE_FIELDS, context_from, tracer

REQUEST_SECONDS = Histogram(
    "wfe_http_request_duration_seconds",
    "HTTP request latency by route template",
    ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
EVENTS_APPENDED = Counter("wfe_events_appended_total", "Events appended to a store", ["service"])
OUTBOX_BACKLOG = Gauge("wfe_outbox_backlog", "Outbox events not yet published", ["service"])
RELAY_PUBLISHED = Counter(
    "wfe_relay_published_total",
    "Events the relay published, by type (for policy: the decisions emitted)",
    ["service", "type"],
)
RELAY_LAG = Histogram(
    "wfe_relay_lag_seconds",
    "Seconds from an event's append to its publication",
    ["service"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
GROUP_COMMIT_SIZE = Histogram(
    "wfe_group_commit_size",
    "Requests committed together in one transaction (see shared/batching.py)",
    ["group"],
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)
CONSUMER_EVENTS = Counter(
    "wfe_consumer_events_total",
    "Events a consumer handled, by outcome (processed, duplicate, dead_letter)",
    ["consumer", "outcome"],
)
CONSUMER_LAG = Gauge(
    "wfe_consumer_lag_events", "Messages not yet processed", ["consumer", "topic", "partition"]
)

CORRELATION_HEADER = "x-correlation-id"
# What a CloudEvent's correlationid accepts, since the id travels on as that attribute.
_CORRELATION_ID = re.compile(r"^[^\x00-\x1F\x7F]{1,200}$")
access_log = logging.getLogger("wfe.access")
_OPERATIONS = frozenset({"/healthz", "/readyz", "/metrics"})


class RequestTelemetry:
    """Plain ASGI (not BaseHTTPMiddleware): nothing between the app and the server's
    receive/send, so streaming bodies and errors raised while reading them pass through.

    Around each request: a server span continuing the caller's `traceparent`, the correlation
    id (the caller's `X-Correlation-Id`, or a new one; echoed on the response) bound for logs
    and event metadata, the latency histogram, and one access log line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = {
            name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]
        }
        correlation_id = headers.get(CORRELATION_HEADER)
        if correlation_id is not None and not _CORRELATION_ID.match(correlation_id):
            problem = Problem(
                400,
                "invalid-correlation-id",
                "Invalid correlation id",
                "X-Correlation-Id must be 1 to 200 characters without control characters",
            )
            await problem_response(problem)(scope, receive, send)
            return
        correlation_id = correlation_id or str(uuid.uuid4())
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (CORRELATION_HEADER.encode(), correlation_id.encode()),
                ]
            await send(message)

        carrier = {name: headers[name] for name in TRACE_FIELDS if name in headers}
        method = scope["method"]
        with (
            tracer.start_as_current_span(
                method, context=context_from(carrier), kind=SpanKind.SERVER
            ) as span,
            correlated(correlation_id),
        ):
            try:
                await self.app(scope, receive, recording_send)
            finally:
                template = str(getattr(scope.get("route"), "path", "unmatched"))
                elapsed = time.perf_counter() - started
                REQUEST_SECONDS.labels(method, template, str(status)).observe(elapsed)
                span.update_name(f"{method} {template}")
                span.set_attributes(
                    {
                        "http.request.method": method,
                        "http.route": template,
                        "url.path": scope["path"],
                        "http.response.status_code": status,
                    }
                )
                if status >= 500:
                    span.set_status(StatusCode.ERROR)
                # Probes and scrapes come every few seconds: visible at DEBUG only.
                level = logging.DEBUG if scope["path"] in _OPERATIONS else logging.INFO
                access_log.log(
                    level, "%s %s %d %.1f ms", method, scope["path"], status, elapsed * 1000
                )


def install_metrics(app: FastAPI, refresh: Callable[[Request], Awaitable[None]]) -> None:
    """`refresh` brings the gauges that are read from elsewhere (outbox backlog, consumer lag)
    up to date, so a scrape never shows a stale figure and nothing polls between scrapes."""
    app.add_middleware(RequestTelemetry)

    @app.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        await refresh(request)
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

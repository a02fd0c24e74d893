"""Trace context in the request middleware, event metadata, Kafka headers and consumer runs —
everything that needs no broker or database."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI, Request
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider

from shared.consumer import Delivery, runs_by_origin
from shared.envelope import CloudEvent
from shared.logs import correlation_id
from shared.telemetry import install_metrics
from shared.tracing import (
    carrier_from_headers,
    configure_tracing,
    continuing,
    current_trace_context,
    headers_from_metadata,
    span_exporter,
)
from shared.transport.base import IncomingMessage

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"
TRACER = TracerProvider().get_tracer("test")


async def _nothing(request: Request) -> None:
    return None


def _app() -> FastAPI:
    configure_tracing("wfe-test")
    app = FastAPI()
    install_metrics(app, _nothing)

    @app.get("/seen")
    async def seen() -> dict[str, Any]:
        return {"correlation_id": correlation_id(), **current_trace_context()}

    return app


async def _get(headers: dict[str, str]) -> httpx.Response:
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get("/seen", headers=headers)


async def test_a_request_continues_the_callers_trace_under_its_correlation_id() -> None:
    response = await _get({"traceparent": TRACEPARENT, "X-Correlation-Id": "order-7"})
    assert response.status_code == 200
    seen = response.json()
    assert seen["correlation_id"] == "order-7"
    assert response.headers["x-correlation-id"] == "order-7"
    version, trace_id, span_id, _ = seen["traceparent"].split("-")
    assert (version, trace_id) == ("00", TRACE_ID)
    assert span_id != "00f067aa0ba902b7"  # the server span's own id, a child of the caller's


async def test_a_request_without_context_starts_a_trace_and_a_correlation_id() -> None:
    response = await _get({})
    seen = response.json()
    assert seen["correlation_id"] == response.headers["x-correlation-id"]
    assert len(seen["correlation_id"]) == 36
    assert seen["traceparent"].split("-")[1] != "0" * 32


async def test_a_malformed_traceparent_starts_a_new_trace() -> None:
    response = await _get({"traceparent": "00-not-a-trace-01"})
    assert response.status_code == 200
    assert TRACE_ID not in response.json()["traceparent"]


async def test_an_unusable_correlation_id_is_a_precise_400() -> None:
    response = await _get({"X-Correlation-Id": "x" * 201})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "/problems/invalid-correlation-id"


def test_event_metadata_becomes_kafka_headers_and_back() -> None:
    with TRACER.start_as_current_span("append"):
        metadata: dict[str, Any] = {"actor": "a", **current_trace_context()}
    headers = headers_from_metadata(metadata)
    assert headers.keys() == {"traceparent"}
    assert carrier_from_headers({**headers, "ce_id": b"1"}) == {
        "traceparent": metadata["traceparent"]
    }
    assert headers_from_metadata({"actor": "a"}) == {}


def test_a_consumer_span_continues_the_message_trace_with_its_correlation_id() -> None:
    configure_tracing("wfe-test")
    with continuing({"traceparent": TRACEPARENT.encode()}, "decide", "order-7"):
        assert correlation_id() == "order-7"
        context = trace.get_current_span().get_span_context()
        assert trace.format_trace_id(context.trace_id) == TRACE_ID
        assert current_trace_context()["traceparent"].split("-")[1] == TRACE_ID
    assert correlation_id() is None


def _delivery(offset: int, correlation: str | None, traceparent: bytes | None) -> Delivery:
    headers = {"traceparent": traceparent} if traceparent else {}
    message = IncomingMessage("t", 0, offset, b"k", b"{}", headers, 0)
    event = CloudEvent(
        specversion="1.0",
        id=str(offset),
        source="/test",
        type="x",
        time=datetime.now(UTC),
        correlationid=correlation,
    )
    return Delivery(message, event)


def test_runs_by_origin_keeps_order_and_groups_neighbours_only() -> None:
    a, b = TRACEPARENT.encode(), f"00-{TRACE_ID}-b7ad6b7169203331-01".encode()
    deliveries = [
        _delivery(0, "c1", a),
        _delivery(1, "c1", a),
        _delivery(2, "c1", b),
        _delivery(3, "c2", b),
        _delivery(4, "c1", a),
        _delivery(5, None, None),
    ]
    runs = [[d.message.offset for d in run] for run in runs_by_origin(deliveries)]
    assert runs == [[0, 1], [2], [3], [4], [5]]
    assert list(runs_by_origin([])) == []


def test_spans_are_exported_only_to_a_configured_otlp_endpoint() -> None:
    assert span_exporter({}) is None
    assert span_exporter({"OTEL_EXPORTER_OTLP_ENDPOINT": ""}) is None
    endpoint = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}
    assert isinstance(span_exporter(endpoint), OTLPSpanExporter)
    traces_only = {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}
    assert isinstance(span_exporter(traces_only), OTLPSpanExporter)

"""Trace context in the request middleware, event metadata, Kafka headers and consumer runs —
everything that needs no broker or database."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI, Request
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider

from shared.logs import correlation_id
from shared.telemetry import install_metrics
from shared.tracing import (
    carrier_from_headers,
    caused_by,
    configure_tracing,
    current_trace_context,
    headers_from_metadata,
    span_exporter,
)

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


def test_events_caused_by_a_message_hang_under_a_span_in_its_trace() -> None:
    configure_tracing("wfe-test")
    caused = caused_by({"traceparent": TRACEPARENT.encode()}, "decide")

    _, trace_id, span_id, _ = caused["traceparent"].split("-")
    assert trace_id == TRACE_ID
    assert span_id != TRACEPARENT.split("-")[2]
    assert caused_by({}, "decide")["traceparent"].split("-")[1] != TRACE_ID


def test_spans_are_exported_only_to_a_configured_otlp_endpoint() -> None:
    assert span_exporter({}) is None
    assert span_exporter({"OTEL_EXPORTER_OTLP_ENDPOINT": ""}) is None
    endpoint = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}
    assert isinstance(span_exporter(endpoint), OTLPSpanExporter)
    traces_only = {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}
    assert isinstance(span_exporter(traces_only), OTLPSpanExporter)

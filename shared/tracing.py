"""W3C trace context with OpenTelemetry, carried from an HTTP request through the event store
and Kafka to the consumers and the events they emit in turn.

The path of one trace: the request's server span (its `traceparent` header honoured) →
`traceparent`/`tracestate` in the metadata of every event appended while handling it → the
same two Kafka headers on the published record (the relay copies them: the message's creation
context is where the event was appended) → a consumer span continuing that context → the
metadata of the decisions appended there → their Kafka headers, and so on.

Spans are recorded by the OpenTelemetry SDK so that new traces get real ids; they leave the
process only when an OTLP endpoint is configured by the standard environment variables.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased
from opentelemetry.trace import Link, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

TRACE_FIELDS = ("traceparent", "tracestate")
_ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
# W3C trace context explicitly, not the configurable global propagator: the headers and the
# metadata fields are part of our message format, whatever else a deployment propagates.
_W3C = TraceContextTextMapPropagator()
tracer = trace.get_tracer("wfe")


def configure_tracing(service: str) -> None:
    """Installs the SDK's tracer provider once per process (the first app built names it),
    exporting over OTLP/HTTP only when an endpoint is configured."""
    if isinstance(trace.get_tracer_provider(), TracerProvider):
        return
    name = os.environ.get("OTEL_SERVICE_NAME") or service
    exporter = span_exporter(os.environ)
    # With nowhere to send spans, recording them is pure cost (a quarter of a write
    # request's CPU, measured): new traces are not sampled, but their ids still propagate,
    # and a caller's sampled trace is still recorded, as its flags ask.
    sampler = ParentBased(ALWAYS_ON if exporter is not None else ALWAYS_OFF)
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: name}), sampler=sampler)
    if exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)


def span_exporter(environ: Mapping[str, str]) -> SpanExporter | None:
    """OTLP/HTTP if the environment names an endpoint; otherwise spans stay in the process."""
    if not any(environ.get(variable) for variable in _ENDPOINT_VARIABLES):
        return None
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError as exc:  # an optional extra: say how to get it rather than export nothing
        raise RuntimeError(
            "OTEL_EXPORTER_OTLP_ENDPOINT is set but the OTLP exporter is not installed: "
            "pip install 'workforce-ecosystem-orchestrator[otlp]'"
        ) from exc
    # Endpoint, headers, timeout and compression come from the standard OTEL_EXPORTER_OTLP_*.
    exporter: SpanExporter = OTLPSpanExporter()
    return exporter


def context_from(carrier: Mapping[str, str]) -> Context:
    """The trace context a `traceparent`/`tracestate` pair names (an empty context if none
    or if malformed: W3C says start a new trace rather than fail)."""
    return _W3C.extract(carrier)


def current_trace_context() -> dict[str, str]:
    """`traceparent` (and `tracestate` if any) of the active span, for event metadata."""
    carrier: dict[str, str] = {}
    _W3C.inject(carrier)
    return carrier


def headers_from_metadata(metadata: Mapping[str, Any]) -> dict[str, bytes]:
    """The Kafka headers carrying an event's stored trace context."""
    fields = {name: metadata.get(name) for name in TRACE_FIELDS}
    return {name: value.encode() for name, value in fields.items() if isinstance(value, str)}


def carrier_from_headers(headers: Mapping[str, bytes]) -> dict[str, str]:
    return {name: value.decode("latin-1") for name in TRACE_FIELDS if (value := headers.get(name))}


def caused_by(headers: Mapping[str, bytes], name: str) -> dict[str, str]:
    """Trace context for events caused by the message with these headers: a consumer span
    in its trace, so what follows hangs under it. The span marks the cause; the work is
    timed by the batch's span (`batch_span`), which handles many messages at once."""
    context = context_from(carrier_from_headers(headers))
    with tracer.start_as_current_span(name, context=context, kind=SpanKind.CONSUMER):
        return current_trace_context()


@contextmanager
def batch_span(name: str, headers: Sequence[Mapping[str, bytes]]) -> Iterator[None]:
    """One span for a batch of messages from many traces, linked to each (the OpenTelemetry
    messaging conventions for batch processing)."""
    links = []
    for message_headers in headers:
        span = trace.get_current_span(context_from(carrier_from_headers(message_headers)))
        if span.get_span_context().is_valid:
            links.append(Link(span.get_span_context()))
    with tracer.start_as_current_span(
        name,
        context=Context(),
        kind=SpanKind.CONSUMER,
        links=links,
        attributes={"messaging.batch.message_count": len(headers)},
    ):
        yield

"""The JSON log format: fields, context (correlation id, trace and span ids), what never
appears, and the one-place process configuration."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from shared.logs import ContextFilter, JsonFormatter, configure_logging, correlated, handler

TRACER = TracerProvider().get_tracer("test")


def emit(logger: logging.Logger, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """Logs through a JSON handler like the process's, and returns the one line it wrote."""
    out = io.StringIO()
    stream = logging.StreamHandler(out)
    stream.addFilter(ContextFilter())
    stream.setFormatter(JsonFormatter("registry"))
    logger.addHandler(stream)
    try:
        logger.warning(*args, **kwargs)
    finally:
        logger.removeHandler(stream)
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    entry: dict[str, Any] = json.loads(lines[0])
    return entry


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    log = logging.getLogger("wfe.test.logs")
    log.propagate = False
    yield log
    log.propagate = True


def test_a_line_has_the_base_fields(logger: logging.Logger) -> None:
    entry = emit(logger, "relay %s published %d", "registry", 3)
    assert entry.keys() == {"time", "level", "logger", "message", "service"}
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "wfe.test.logs"
    assert entry["message"] == "relay registry published 3"
    assert entry["service"] == "registry"
    assert entry["time"].endswith("+00:00")


def test_the_bound_correlation_id_and_active_span_are_in_the_line(
    logger: logging.Logger,
) -> None:
    with correlated("req-42"), TRACER.start_as_current_span("work") as span:
        entry = emit(logger, "handling")
        context = span.get_span_context()
    assert entry["correlation_id"] == "req-42"
    assert entry["trace_id"] == trace.format_trace_id(context.trace_id)
    assert entry["span_id"] == trace.format_span_id(context.span_id)
    assert "correlation_id" not in emit(logger, "after the block")


def test_an_explicit_correlation_id_wins_over_the_bound_one(logger: logging.Logger) -> None:
    with correlated("request"):
        entry = emit(logger, "dead-lettered", extra={"correlation_id": "the-message's"})
    assert entry["correlation_id"] == "the-message's"


def test_other_extra_attributes_never_reach_the_line(logger: logging.Logger) -> None:
    # What keeps a self-identification answer out even if someone attaches it to a record.
    entry = emit(logger, "recorded", extra={"answers": {"gender": "unique-answer-7731"}})
    assert "unique-answer-7731" not in json.dumps(entry)


def test_an_exception_is_one_field_of_the_same_line(logger: logging.Logger) -> None:
    try:
        raise ValueError("broken")
    except ValueError:
        entry = emit(logger, "failed", exc_info=True)
    assert entry["message"] == "failed"
    assert entry["exception"].startswith("Traceback")
    assert "ValueError: broken" in entry["exception"]


def test_text_format_is_for_people() -> None:
    record = logging.LogRecord("wfe.x", logging.INFO, __file__, 1, "hello %s", ("you",), None)
    text = handler("wfe", "text")
    text.filter(record)
    line = text.format(record)
    assert line.endswith("INFO    wfe.x: hello you")
    assert not line.startswith("{")


@pytest.fixture
def root_restored() -> Iterator[None]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    quiet = {name: logging.getLogger(name).level for name in ("sqlalchemy", "aiokafka")}
    yield
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    for name, level in quiet.items():
        logging.getLogger(name).setLevel(level)


@pytest.mark.usefixtures("root_restored")
def test_configure_logging_installs_one_json_handler_on_stderr() -> None:
    configure_logging("policy", "json", "DEBUG")
    root = logging.getLogger()
    assert len(root.handlers) == 1
    only = root.handlers[0]
    assert isinstance(only, logging.StreamHandler)
    assert only.stream is sys.stderr
    assert isinstance(only.formatter, JsonFormatter)
    assert root.level == logging.DEBUG
    # SQLAlchemy at INFO would log every statement with its parameters.
    assert logging.getLogger("sqlalchemy").level == logging.WARNING
    assert logging.getLogger("aiokafka").level == logging.WARNING

"""Process logging: one JSON object per line on stderr, or plain text for a developer's terminal.

Each record carries the correlation id of the request or event being handled and the active
trace and span ids, taken from context variables when the record is made, so a log line can be
joined to the events (metadata `correlation_id`) and the trace (`traceparent`) it belongs to.

Only the fields below are written: a record's `extra` attributes never reach the output, so a
value cannot slip into the logs by being attached to a record. Nothing logs request or event
bodies, which is what keeps self-identification answers (and any other personal data held
only in bodies) out of the logs.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Literal

from opentelemetry import trace
from pydantic_settings import BaseSettings, SettingsConfigDict

LogFormat = Literal["json", "text"]

_correlation_id: ContextVar[str | None] = ContextVar("wfe_correlation_id", default=None)

# Libraries that log per statement or per request at INFO: SQLAlchemy would write every SQL
# statement with its parameters, aiokafka every connection and group event.
_QUIET = {"sqlalchemy": logging.WARNING, "aiokafka": logging.WARNING}


class LogSettings(BaseSettings):
    """WFE_LOG_FORMAT and WFE_LOG_LEVEL; unset means the command's own default."""

    model_config = SettingsConfigDict(env_prefix="WFE_LOG_")

    format: LogFormat | None = None
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] | None = None


def correlation_id() -> str | None:
    """The correlation id of the request or event this task is handling, if any."""
    return _correlation_id.get()


@contextmanager
def correlated(value: str | None) -> Iterator[None]:
    """Binds `value` as the correlation id for the duration of the block."""
    token = _correlation_id.set(value)
    try:
        yield
    finally:
        _correlation_id.reset(token)


class ContextFilter(logging.Filter):
    """Copies the correlation id and the active span's ids onto the record. Runs when the
    record is handled, in the task that logged it, where the context variables are right."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "correlation_id", None) is None:
            record.correlation_id = _correlation_id.get()
        span = trace.get_current_span().get_span_context()
        record.trace_id = trace.format_trace_id(span.trace_id) if span.is_valid else None
        record.span_id = trace.format_span_id(span.span_id) if span.is_valid else None
        return True


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "service": self._service,
        }
        for name in ("correlation_id", "trace_id", "span_id"):
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def handler(service: str, log_format: LogFormat) -> logging.Handler:
    """A stderr handler with the context filter and the formatter for `log_format`."""
    stream = logging.StreamHandler(sys.stderr)
    stream.addFilter(ContextFilter())
    if log_format == "json":
        stream.setFormatter(JsonFormatter(service))
    else:
        stream.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    return stream


def configure_logging(service: str, log_format: LogFormat, level: str) -> None:
    """The process's only log configuration: one handler on the root logger, which uvicorn's
    and the libraries' loggers propagate to (run uvicorn with `log_config=None`)."""
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler(service, log_format))
    root.setLevel(level)
    for name, quiet in _QUIET.items():
        logging.getLogger(name).setLevel(max(quiet, root.level))

"""The CloudEvents 1.0 envelope every event travels in, and its Kafka binary-mode form.

On Kafka, attributes travel as `ce_*` headers, the JSON data is the value and the
contributor id is the key (CloudEvents Kafka protocol binding, binary content mode).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import to_json

from shared.eventstore.model import RecordedEvent
from shared.http.text import PRINTABLE

JSON_CONTENT_TYPE = "application/json"
_HEADER_PREFIX = "ce_"


class CloudEvent(BaseModel):
    """Required attributes, the optional ones we use, and our extensions. Other extensions
    a producer sends are kept (extra="allow") but never interpreted."""

    model_config = ConfigDict(frozen=True, extra="allow")

    specversion: Literal["1.0"]
    id: str = Field(min_length=1, max_length=200, pattern=PRINTABLE)
    source: str = Field(min_length=1, max_length=500, pattern=PRINTABLE)
    type: str = Field(min_length=1, max_length=200, pattern=PRINTABLE)
    subject: str | None = Field(default=None, max_length=200, pattern=PRINTABLE)
    time: datetime | None = None
    datacontenttype: str | None = Field(default=None, max_length=200, pattern=PRINTABLE)
    dataschema: str | None = Field(default=None, max_length=500, pattern=PRINTABLE)
    data: Any = None
    effectivetime: datetime | None = None
    sequence: int | None = Field(default=None, ge=1)
    partitionkey: str | None = Field(default=None, max_length=200, pattern=PRINTABLE)
    correlationid: str | None = Field(default=None, max_length=200, pattern=PRINTABLE)
    causationid: str | None = Field(default=None, max_length=200, pattern=PRINTABLE)


class UndecodableMessage(ValueError):
    """A message that is not a CloudEvent we can read; the text says why."""


def recorded_to_binary(event: RecordedEvent, default_source: str) -> tuple[dict[str, bytes], bytes]:
    """An event of our own store as a Kafka message's headers and value: what `to_binary`
    gives for the CloudEvent it is, built directly. What the store holds was validated on
    the way in; building and dumping a pydantic model for every event again took the outbox
    relay more CPU than everything else it does but the Kafka client."""
    metadata = event.metadata
    attributes = (
        ("specversion", "1.0"),
        ("id", str(event.event_id)),
        ("source", str(metadata.get("source") or default_source)),
        ("type", event.type),
        ("subject", event.stream_id),
        ("time", _timestamp(event.recorded_time)),
        ("effectivetime", _timestamp(event.effective_time)),
        ("sequence", str(event.version)),
        ("partitionkey", event.stream_id),
        ("correlationid", metadata.get("correlation_id")),
        ("causationid", metadata.get("causation_id")),
    )
    return _binary(attributes, JSON_CONTENT_TYPE, event.data)


def _timestamp(moment: datetime) -> str:
    """As pydantic writes a datetime in JSON (RFC 3339, UTC as `Z`)."""
    text = moment.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def to_binary(event: CloudEvent) -> tuple[dict[str, bytes], bytes]:
    """Headers and value for Kafka's binary content mode."""
    attributes = event.model_dump(mode="json", exclude={"data"}, exclude_none=True)
    content_type = attributes.pop("datacontenttype", JSON_CONTENT_TYPE)
    return _binary(attributes.items(), content_type, event.data)


def _binary(
    attributes: Iterable[tuple[str, Any]], content_type: str, data: Any
) -> tuple[dict[str, bytes], bytes]:
    """Attributes as `ce_*` headers (those that are None left out), the content type as
    `content-type`, the data as compact JSON."""
    headers = {
        _HEADER_PREFIX + name: str(value).encode()
        for name, value in attributes
        if value is not None
    }
    headers["content-type"] = content_type.encode()
    return headers, to_json(data)


def from_binary(headers: Mapping[str, bytes], value: bytes | None) -> CloudEvent:
    attributes: dict[str, Any] = {}
    for name, raw in headers.items():
        if name.startswith(_HEADER_PREFIX):
            attributes[name[len(_HEADER_PREFIX) :]] = raw.decode("utf-8", errors="replace")
    if "specversion" not in attributes:
        raise UndecodableMessage("not a CloudEvent: no ce_specversion header")
    content_type = headers.get("content-type", JSON_CONTENT_TYPE.encode()).decode()
    if not content_type.startswith(JSON_CONTENT_TYPE):
        raise UndecodableMessage(f"unsupported content type {content_type!r}")
    try:
        data = json.loads(value) if value else None
    except (ValueError, UnicodeDecodeError) as exc:
        raise UndecodableMessage(f"value is not JSON: {exc}") from exc
    try:
        return CloudEvent.model_validate(
            {**attributes, "datacontenttype": content_type, "data": data}
        )
    except ValidationError as exc:
        raise UndecodableMessage(
            f"invalid CloudEvent attributes: {exc.errors()[0]['msg']}"
        ) from exc

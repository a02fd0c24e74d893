"""The AsyncAPI 3.0 document of the Kafka topics, generated from the event catalogues.

A channel per topic, a message per event type. Payload schemas are the catalogue models'
JSON schemas (`models_json_schema`, validation mode: what a consumer accepts), moved under
`components.schemas` with the service as prefix so the two catalogues' names never collide.
Headers are the CloudEvents binary-mode headers (`shared.envelope.recorded_to_binary`); the
Kafka key is the stream id, i.e. the contributor id. Nothing here knows a service: the caller
passes the catalogues (`shared/cli/asyncapi.py`), so the document follows the code it is built
from.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from pydantic.json_schema import JsonSchemaValue, models_json_schema

from shared.catalogue import EventPayload
from shared.envelope import JSON_CONTENT_TYPE, CloudEvent, recorded_to_binary
from shared.eventstore.model import RecordedEvent

ASYNCAPI_VERSION = "3.0.0"
KAFKA_BINDING_VERSION = "0.5.0"
HEADERS_SCHEMA = "CloudEventsBinaryHeaders"
DEADLETTER_HEADERS = {
    # What `CheckpointedConsumer._dead_letter_message` adds to the original headers.
    "dlq_reason": "Why the message could never be processed.",
    "dlq_consumer": "The consumer (group) that gave up on it.",
    "dlq_topic": "The topic it was read from.",
    "dlq_partition": "Its partition there.",
    "dlq_offset": "Its offset there.",
}
_ATTRIBUTE_DESCRIPTIONS = {
    "specversion": "CloudEvents version.",
    "id": "Event id (UUID); with `source`, the idempotency key.",
    "source": "Who recorded it: `/registry`, `/policy`, or the posting system's own source.",
    "type": "Reverse-DNS, versioned event type; selects the payload schema.",
    "subject": "The stream: the contributor id (policy documents: `policy-document`).",
    "time": "When it was recorded.",
    "effectivetime": "When it took effect (may be earlier or later than `time`).",
    "sequence": "Version of the event within its stream: 1, 2, 3, ... without holes.",
    "partitionkey": "The Kafka key: the stream id.",
    "correlationid": "Request or conversation this event belongs to.",
    "causationid": "Event or command that caused it.",
}


@dataclass(frozen=True)
class Channel:
    """One topic and what travels on it; `events` is None for the dead-letter topic."""

    id: str
    address: str
    title: str
    description: str
    publisher: str
    events: Sequence[type[EventPayload]] | None
    key: JsonSchemaValue = field(default_factory=lambda: {"type": "string"})
    keys: Mapping[str, JsonSchemaValue] = field(default_factory=dict)
    """Key schemas of event types whose stream is not a contributor's."""


@dataclass(frozen=True)
class ConsumerGroup:
    name: str
    channels: Sequence[str]


def document(
    channels: Sequence[Channel],
    consumers: Sequence[ConsumerGroup],
    *,
    title: str,
    version: str,
    partitions: int,
    server: str,
) -> dict[str, Any]:
    schemas: dict[str, Any] = {HEADERS_SCHEMA: _cloudevents_headers()}
    messages: dict[str, Any] = {}
    channel_objects: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for channel in channels:
        if channel.events is None:
            names = {"deadLetter": _dead_letter_message()}
        else:
            names = _event_messages(channel, schemas)
        messages.update(names)
        channel_objects[channel.id] = {
            "address": channel.address,
            "title": channel.title,
            "description": channel.description,
            "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in names},
            "bindings": {
                "kafka": {"partitions": partitions, "bindingVersion": KAFKA_BINDING_VERSION}
            },
        }
        if channel.events is not None:
            operations[f"{channel.publisher}.publish.{channel.id}"] = _operation(
                "send", channel, f"The {channel.publisher} outbox relay publishes {channel.title}."
            )
    by_id = {channel.id: channel for channel in channels}
    for group in consumers:
        for channel_id in group.channels:
            channel = by_id[channel_id]
            summary = f"Consumer group `{group.name}` reads {channel.title}."
            binding = {"groupId": {"type": "string", "const": group.name}}
            operations[f"{group.name}.receive.{channel.id}"] = _operation(
                "receive", channel, summary, binding
            )
        for channel in channels:
            if channel.events is None:
                summary = f"Consumer group `{group.name}` sets aside what it cannot process."
                operations[f"{group.name}.publish.{channel.id}"] = _operation(
                    "send", channel, summary
                )
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": title,
            "version": version,
            "description": (
                "Kafka topics of the Workforce Ecosystem Orchestrator. Generated by "
                "`wfe asyncapi` from the event catalogues; do not edit by hand.\n\n"
                "Every event is a CloudEvent in binary content mode: the attributes are "
                "`ce_*` headers, the JSON payload is the value, the key is the stream id "
                "(the contributor id), so one contributor's events stay in order on one "
                "partition. Delivery is at least once: consumers drop repeats by "
                "(subject, sequence)."
            ),
        },
        "defaultContentType": JSON_CONTENT_TYPE,
        "servers": {
            "kafka": {
                "host": server,
                "protocol": "kafka",
                "description": "The brokers in WFE_KAFKA_BOOTSTRAP_SERVERS (compose: kafka:9092).",
            }
        },
        "channels": channel_objects,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


def _event_messages(channel: Channel, schemas: dict[str, Any]) -> dict[str, Any]:
    events = channel.events or ()
    prefix = f"{channel.publisher}."
    refs, definitions = models_json_schema(
        [(cls, "validation") for cls in events],
        ref_template=f"#/components/schemas/{prefix}{{model}}",
    )
    for name, schema in definitions.get("$defs", {}).items():
        schemas[prefix + name] = schema
    messages: dict[str, Any] = {}
    for cls in events:
        message: dict[str, Any] = {"name": cls.__name__}
        doc = cls.__dict__.get("__doc__")
        if doc:
            message["summary"] = " ".join(doc.split())
        key = channel.keys.get(cls.TYPE, channel.key)
        message |= {
            "contentType": JSON_CONTENT_TYPE,
            "headers": {
                "allOf": [
                    {"$ref": f"#/components/schemas/{HEADERS_SCHEMA}"},
                    {"type": "object", "properties": {"ce_type": {"const": cls.TYPE}}},
                ]
            },
            "payload": refs[(cls, "validation")],
            "bindings": {"kafka": {"key": key, "bindingVersion": KAFKA_BINDING_VERSION}},
        }
        messages[cls.TYPE] = message
    return messages


def _dead_letter_message() -> dict[str, Any]:
    return {
        "name": "DeadLetter",
        "summary": "A message a consumer could never process, set aside so its partition "
        "moves on: the original key, value and headers, plus where it came from and why.",
        "contentType": "application/octet-stream",
        "headers": {
            "type": "object",
            "required": list(DEADLETTER_HEADERS),
            "properties": {
                name: {"type": "string", "description": text}
                for name, text in DEADLETTER_HEADERS.items()
            },
            "additionalProperties": {"type": "string"},
        },
        "payload": {"description": "The original value, byte for byte (JSON or not)."},
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": "The original key (may be empty)."},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


def _operation(
    action: str, channel: Channel, summary: str, binding: dict[str, Any] | None = None
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "action": action,
        "channel": {"$ref": f"#/channels/{channel.id}"},
        "summary": summary,
    }
    if binding:
        operation["bindings"] = {"kafka": binding | {"bindingVersion": KAFKA_BINDING_VERSION}}
    return operation


def _cloudevents_headers() -> dict[str, Any]:
    """Every attribute of `CloudEvent` as its `ce_*` header; required are the ones the relay
    always sends, found by encoding a recorded event the way the relay does."""
    attributes = CloudEvent.model_json_schema()["properties"]
    properties: dict[str, Any] = {
        "content-type": {
            "type": "string",
            "const": JSON_CONTENT_TYPE,
            "description": "The CloudEvents `datacontenttype`.",
        }
    }
    for name, schema in attributes.items():
        if name in ("data", "datacontenttype"):
            continue
        header = _as_header(schema)
        if name in _ATTRIBUTE_DESCRIPTIONS:
            header["description"] = _ATTRIBUTE_DESCRIPTIONS[name]
        properties[f"ce_{name}"] = header
    return {
        "type": "object",
        "description": (
            "CloudEvents 1.0 Kafka protocol binding, binary content mode: each attribute is a "
            "UTF-8 header `ce_<attribute>`; `datacontenttype` travels as `content-type`. "
            "Other `ce_*` extensions may appear and are kept but never interpreted."
        ),
        "required": sorted(_relay_headers()),
        "properties": properties,
        "additionalProperties": {"type": "string"},
    }


def _as_header(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A header is always a string: keep the string constraints, spell integers as digits."""
    variants: Iterable[Mapping[str, Any]] = schema.get("anyOf", [schema])
    value = next(v for v in variants if v.get("type") != "null")
    if value.get("type") == "integer":
        return {"type": "string", "pattern": "^[0-9]+$"}
    kept = ("const", "format", "minLength", "maxLength", "pattern")
    return {"type": "string"} | {k: value[k] for k in kept if k in value}


def _relay_headers() -> set[str]:
    moment = datetime(2000, 1, 1, tzinfo=UTC)
    sample = RecordedEvent(
        position=1,
        event_id=UUID(int=1),
        stream_id="c-1",
        version=1,
        type="org.example.sample.v1",
        data={},
        metadata={},
        effective_time=moment,
        recorded_time=moment,
    )
    headers, _ = recorded_to_binary(sample, "/sample")
    return set(headers)

"""An event of our own store travels on Kafka exactly as the CloudEvent it is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import pytest

from shared.envelope import CloudEvent, from_binary, recorded_to_binary, to_binary
from shared.eventstore.model import RecordedEvent

RECORDED = datetime(2026, 11, 29, 11, 0, 0, 123456, tzinfo=UTC)


def recorded(metadata: dict[str, Any], effective: datetime = RECORDED) -> RecordedEvent:
    data = {"contributor_id": "c-1", "display_name": "Zoë", "checks": ["nda"], "n": 3}
    return RecordedEvent(9, UUID(int=7), "c-1", 4, "org.example.thing.v1", data, metadata,
                         effective, RECORDED)  # fmt: skip


def as_cloud_event(event: RecordedEvent, source: str) -> CloudEvent:
    """The CloudEvent a stored event is, field by field (the handbook's envelope)."""
    return CloudEvent(
        specversion="1.0",
        id=str(event.event_id),
        source=str(event.metadata.get("source") or source),
        type=event.type,
        subject=event.stream_id,
        time=event.recorded_time,
        datacontenttype="application/json",
        data=dict(event.data),
        effectivetime=event.effective_time,
        sequence=event.version,
        partitionkey=event.stream_id,
        correlationid=event.metadata.get("correlation_id"),
        causationid=event.metadata.get("causation_id"),
    )


@pytest.mark.parametrize(
    "event",
    [
        recorded({}),
        recorded({"correlation_id": "r-1", "causation_id": "e-0", "source": "/hr"}),
        recorded({"actor": "ada"}, effective=datetime(2026, 1, 1, tzinfo=UTC)),
        recorded({}, effective=datetime(2026, 1, 1, 9, tzinfo=timezone(timedelta(hours=2)))),
    ],
)
def test_a_stored_event_is_sent_as_its_cloud_event(event: RecordedEvent) -> None:
    sent = recorded_to_binary(event, "/registry")
    assert sent == to_binary(as_cloud_event(event, "/registry"))
    assert from_binary(*sent) == as_cloud_event(event, "/registry")

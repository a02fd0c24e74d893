"""What goes into the event store and what comes out of it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

JsonObject = Mapping[str, Any]

NO_STREAM = 0
"""Expected version of a stream that must not exist yet."""


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event to append. `event_id` is the idempotency key: appending an id that is already
    stored returns the stored event instead of writing a second one."""

    event_id: UUID
    type: str
    data: JsonObject
    effective_time: datetime
    metadata: JsonObject = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    position: int
    """Unique across the store. Log order is commit order (see `read_all`): pass the last
    position you saw back as `after`; do not compare positions numerically."""
    event_id: UUID
    stream_id: str
    version: int
    type: str
    data: JsonObject
    metadata: JsonObject
    effective_time: datetime
    recorded_time: datetime


class EventStoreError(Exception):
    """Base of the errors the store raises; database errors never leak past the store."""


class WrongExpectedVersion(EventStoreError):
    def __init__(self, stream_id: str, expected: int | None, actual: int | None) -> None:
        at = "a newer version" if actual is None else f"version {actual}"
        super().__init__(f"stream {stream_id!r} is at {at}; the append expected {expected}")
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual


class DuplicateEventIdConflict(EventStoreError):
    """An event id that is already stored, but for another stream or with another type."""

    def __init__(self, event_id: UUID) -> None:
        super().__init__(f"event id {event_id} is already stored for another event")
        self.event_id = event_id


class UnknownPosition(EventStoreError):
    def __init__(self, position: int) -> None:
        super().__init__(f"no event at position {position}")
        self.position = position

"""The transport contract: what the relay publishes and what consumers receive.

Two implementations keep the same contract: Apache Kafka (aiokafka) for the real stack and
an in-process log for the embedded mode. Ordering is per key (one key always lands on one
partition); offsets are dense per partition and never reused; a consumer never commits
offsets to the transport for correctness — it stores them with its own effects and seeks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol


class TransportError(Exception):
    """Base of the errors a transport raises; the underlying client's error is its cause."""


class TransportUnavailable(TransportError):
    """The broker cannot be reached (at start, or while publishing)."""


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    topic: str
    key: bytes
    value: bytes
    headers: Mapping[str, bytes] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, order=True)
class TopicPartition:
    topic: str
    partition: int


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Mapping[str, bytes]
    timestamp_ms: int

    @property
    def topic_partition(self) -> TopicPartition:
        return TopicPartition(self.topic, self.partition)


class Publisher(Protocol):
    """Publishes messages; `publish` returns only when every message is durably accepted,
    and raises (publishing none or some) otherwise. Per-key order is preserved."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def publish(self, messages: Sequence[OutgoingMessage]) -> None: ...


class AssignmentListener(Protocol):
    """Told which partitions this member owns. `on_assigned` returns, for each partition,
    the next offset to read (stored offset + 1), or None (or no entry) to start from the
    beginning. `on_revoked` is called before partitions move to another member, and at stop.

    Callbacks may run outside the task that calls `fetch` (as with aiokafka's coordinator),
    so a batch still being processed can overlap a revocation: effects must stay idempotent.
    An exception from a callback is raised by the subscriber's next `fetch`."""

    async def on_assigned(
        self, partitions: Sequence[TopicPartition]
    ) -> Mapping[TopicPartition, int | None]: ...

    async def on_revoked(self, partitions: Sequence[TopicPartition]) -> None: ...


class Subscriber(Protocol):
    """A member of a consumer group over some topics. Auto-commit never happens.

    `start` joins the group and returns once the first assignment is known (it may be
    empty). `fetch` returns at once when records are ready, else waits up to `timeout_ms`.
    `end_offsets` gives the offset the next published record will get (for lag)."""

    async def start(self, listener: AssignmentListener) -> None: ...

    async def stop(self) -> None: ...

    async def fetch(
        self, max_records: int, timeout_ms: int
    ) -> Mapping[TopicPartition, Sequence[IncomingMessage]]: ...

    async def seek(self, partition: TopicPartition, offset: int) -> None: ...

    def assignment(self) -> frozenset[TopicPartition]: ...

    async def end_offsets(
        self, partitions: Sequence[TopicPartition]
    ) -> Mapping[TopicPartition, int]: ...

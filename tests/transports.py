"""The transports as test fixtures: started publishers and subscribers on fresh topics."""

from __future__ import annotations

import asyncio
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from shared.transport.base import (
    AssignmentListener,
    IncomingMessage,
    Publisher,
    Subscriber,
    TopicPartition,
)
from shared.transport.inprocess import InProcessLog, InProcessPublisher, InProcessSubscriber
from shared.transport.kafka import KafkaPublisher, KafkaSubscriber

PARTITIONS = 6
DEADLINE_S = 30.0  # generous: a Kafka rebalance waits for a heartbeat (3 s by default)


class Transport(ABC):
    """What the suites need from a backend; subclasses say how to build each piece."""

    def __init__(self) -> None:
        self._publishers: list[Publisher] = []
        self._subscribers: list[Subscriber] = []

    @abstractmethod
    async def create_topic(self) -> str: ...

    @abstractmethod
    def new_publisher(self) -> Publisher: ...

    @abstractmethod
    def new_subscriber(self, group_id: str, topics: Sequence[str]) -> Subscriber: ...

    async def publisher(self) -> Publisher:
        publisher = self.new_publisher()
        await publisher.start()
        self._publishers.append(publisher)
        return publisher

    async def subscriber(
        self, topic: str, listener: AssignmentListener, group_id: str | None = None
    ) -> Subscriber:
        subscriber = self.new_subscriber(group_id or f"group-{uuid.uuid4().hex}", [topic])
        self._subscribers.append(subscriber)
        await subscriber.start(listener)
        return subscriber

    async def stop(self, subscriber: Subscriber) -> None:
        self._subscribers.remove(subscriber)
        await subscriber.stop()

    async def close(self) -> None:
        for subscriber in self._subscribers:
            await subscriber.stop()
        for publisher in self._publishers:
            await publisher.stop()


class KafkaTransport(Transport):
    def __init__(self, bootstrap: str, admin: AIOKafkaAdminClient) -> None:
        super().__init__()
        self._bootstrap = bootstrap
        self._admin = admin
        self.topics: list[str] = []

    async def create_topic(self) -> str:
        topic = f"contract-{uuid.uuid4().hex}"
        await self._admin.create_topics([NewTopic(topic, PARTITIONS, 1)])
        self.topics.append(topic)
        return topic

    def new_publisher(self) -> Publisher:
        return KafkaPublisher(self._bootstrap)

    def new_subscriber(self, group_id: str, topics: Sequence[str]) -> Subscriber:
        return KafkaSubscriber(self._bootstrap, group_id, topics)


class InProcessTransport(Transport):
    def __init__(self, log: InProcessLog) -> None:
        super().__init__()
        self._log = log

    async def create_topic(self) -> str:
        topic = f"contract-{uuid.uuid4().hex}"
        await self._log.create_topic(topic, PARTITIONS)
        return topic

    def new_publisher(self) -> Publisher:
        return InProcessPublisher(self._log)

    def new_subscriber(self, group_id: str, topics: Sequence[str]) -> Subscriber:
        return InProcessSubscriber(self._log, group_id, topics)


@asynccontextmanager
async def open_transport(name: str, request: pytest.FixtureRequest) -> AsyncIterator[Transport]:
    if name == "kafka":
        bootstrap: str = request.getfixturevalue("kafka_bootstrap")
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        kafka = KafkaTransport(bootstrap, admin)
        try:
            yield kafka
        finally:
            await kafka.close()
            if kafka.topics:
                await admin.delete_topics(kafka.topics)
            await admin.close()
    else:
        log = InProcessLog()
        await log.open()
        inprocess = InProcessTransport(log)
        try:
            yield inprocess
        finally:
            await inprocess.close()
            await log.close()


class RecordingListener:
    """Starts each partition where `start_at` says (missing -> beginning) and records calls.
    Listeners may share one `start_at`, as a group's members share one offset store."""

    def __init__(self, start_at: Mapping[TopicPartition, int | None] | None = None) -> None:
        self.start_at = start_at if start_at is not None else {}
        self.calls: list[tuple[str, frozenset[TopicPartition]]] = []

    async def on_assigned(
        self, partitions: Sequence[TopicPartition]
    ) -> Mapping[TopicPartition, int | None]:
        self.calls.append(("assigned", frozenset(partitions)))
        return {tp: self.start_at.get(tp) for tp in partitions}

    async def on_revoked(self, partitions: Sequence[TopicPartition]) -> None:
        self.calls.append(("revoked", frozenset(partitions)))


def all_partitions(topic: str) -> frozenset[TopicPartition]:
    return frozenset(TopicPartition(topic, p) for p in range(PARTITIONS))


async def collect(subscribers: Sequence[Subscriber], count: int) -> list[list[IncomingMessage]]:
    """Fetches from all subscribers at once until `count` messages in all, then checks that
    nothing more arrives. Returns what each subscriber received."""
    received: list[list[IncomingMessage]] = [[] for _ in subscribers]
    deadline = time.monotonic() + DEADLINE_S
    while sum(map(len, received)) < count and time.monotonic() < deadline:
        batches = await asyncio.gather(
            *(s.fetch(max_records=500, timeout_ms=200) for s in subscribers)
        )
        for mine, batch in zip(received, batches, strict=True):
            mine.extend(m for messages in batch.values() for m in messages)
    assert sum(map(len, received)) == count, f"expected {count}, got {list(map(len, received))}"
    extras = await asyncio.gather(*(s.fetch(max_records=500, timeout_ms=300) for s in subscribers))
    assert not any(extras), "messages arrived beyond those published"
    return received

"""The transport a process uses: Apache Kafka when brokers are configured, else the durable
in-process log of the embedded mode (one SQLite file in the data folder)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from shared.transport.base import Publisher, Subscriber
from shared.transport.inprocess import InProcessLog, InProcessPublisher, InProcessSubscriber
from shared.transport.kafka import KafkaPublisher, KafkaSubscriber


class Transport(Protocol):
    async def open(self) -> None: ...

    async def close(self) -> None: ...

    def publisher(self, client_id: str) -> Publisher: ...

    def subscriber(self, group_id: str, topics: Sequence[str], client_id: str) -> Subscriber: ...


class KafkaTransport:
    def __init__(self, bootstrap_servers: str) -> None:
        self.bootstrap_servers = bootstrap_servers

    async def open(self) -> None:
        """Topics are created by the stack (or the deployment), never implicitly."""

    async def close(self) -> None:
        """Publishers and subscribers are stopped by their owners."""

    def publisher(self, client_id: str) -> Publisher:
        return KafkaPublisher(self.bootstrap_servers, client_id=client_id)

    def subscriber(self, group_id: str, topics: Sequence[str], client_id: str) -> Subscriber:
        return KafkaSubscriber(self.bootstrap_servers, group_id, topics, client_id=client_id)

    def share_subscriber(
        self, topics: Sequence[str], partitions: Sequence[int], client_id: str
    ) -> Subscriber:
        """Those partitions of every topic, outside any consumer group."""
        return KafkaSubscriber(
            self.bootstrap_servers, None, topics, client_id=client_id, partitions=partitions
        )


class InProcessTransport:
    def __init__(self, path: Path, topics: Sequence[str], partitions: int = 6) -> None:
        self.log = InProcessLog(f"sqlite+aiosqlite:///{path}", default_partitions=partitions)
        self._topics = list(topics)

    async def open(self) -> None:
        await self.log.open()
        for topic in self._topics:
            await self.log.create_topic(topic)

    async def close(self) -> None:
        await self.log.close()

    def publisher(self, client_id: str) -> Publisher:
        return InProcessPublisher(self.log)

    def subscriber(self, group_id: str, topics: Sequence[str], client_id: str) -> Subscriber:
        return InProcessSubscriber(self.log, group_id, topics)

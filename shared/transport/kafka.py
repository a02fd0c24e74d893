"""The Apache Kafka transport (aiokafka), behind the contract in `base`.

aiokafka has no type information, so everything it hands back is converted to the
contract's own types here and nothing of aiokafka leaks out of this module.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka import TopicPartition as KafkaTopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import IllegalStateError, KafkaConnectionError, KafkaError, KafkaTimeoutError

from shared.transport.base import (
    AssignmentListener,
    IncomingMessage,
    OutgoingMessage,
    TopicPartition,
    TransportError,
    TransportUnavailable,
)

# Errors that mean "the broker is not there" rather than "the broker said no".
_UNREACHABLE = (KafkaConnectionError, KafkaTimeoutError)


def _to_kafka(tp: TopicPartition) -> Any:
    return KafkaTopicPartition(tp.topic, tp.partition)


def _from_kafka(tp: Any) -> TopicPartition:
    return TopicPartition(str(tp.topic), int(tp.partition))


def _sorted(partitions: Any) -> list[TopicPartition]:
    return sorted(_from_kafka(tp) for tp in partitions)


def _translate(error: KafkaError, doing: str) -> TransportError:
    kind = TransportUnavailable if isinstance(error, _UNREACHABLE) else TransportError
    return kind(f"Kafka: {doing} failed: {error!r}")


async def _start_or_translate(client: Any, what: str, bootstrap_servers: str) -> None:
    try:
        await client.start()
    except KafkaError as error:
        await client.stop()  # a half-started client still holds sockets and tasks
        raise _translate(error, f"starting the {what} at {bootstrap_servers}") from error


class KafkaPublisher:
    """Idempotent producer: acks from all in-sync replicas, ordered and deduplicated per
    partition by the broker, so retries cannot reorder or repeat a key's messages."""

    def __init__(self, bootstrap_servers: str, client_id: str = "wfe-publisher") -> None:
        self._bootstrap_servers = bootstrap_servers
        self._client_id = client_id
        self._producer: Any = None

    async def start(self) -> None:
        # A fresh client each time: an aiokafka client cannot be started again once stopped,
        # and a supervised relay is restarted after a failure.
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self._bootstrap_servers,
            client_id=self._client_id,
            acks="all",
            enable_idempotence=True,
            linger_ms=5,  # lets one publish() call fill batches without adding visible latency
            compression_type=None,
        )
        await _start_or_translate(self._producer, "producer", self._bootstrap_servers)

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()

    async def publish(self, messages: Sequence[OutgoingMessage]) -> None:
        try:
            # Enqueue everything first so the batches fill up, then wait for every ack.
            pending = [
                await self._producer.send(
                    m.topic, value=m.value, key=m.key, headers=list(m.headers.items())
                )
                for m in messages
            ]
        except KafkaError as error:
            raise _translate(error, "enqueueing messages") from error
        results = await asyncio.gather(*pending, return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            first = failures[0]
            if not isinstance(first, KafkaError):
                raise first
            doing = f"publishing ({len(failures)} of {len(messages)} messages)"
            raise _translate(first, doing) from first


class _RebalanceBridge(ConsumerRebalanceListener):  # type: ignore[misc]  # aiokafka is untyped
    """Runs in aiokafka's coordinator task: hands partitions to the contract's listener and
    seeks to the offsets it returns.

    aiokafka activates an assignment *before* calling on_partitions_assigned, and its fetcher
    meanwhile reads from the auto-reset position; `settled` lets fetch() hold back, or drop,
    records drawn before the seek landed."""

    def __init__(self, consumer: Any, listener: AssignmentListener) -> None:
        self._consumer = consumer
        self._listener = listener
        self.settled = asyncio.Event()  # cleared from revocation until the seeks are done
        self.error: BaseException | None = None

    async def on_partitions_revoked(self, revoked: Any) -> None:
        self.settled.clear()
        if revoked:
            await self._guarded(self._listener.on_revoked(_sorted(revoked)))

    async def on_partitions_assigned(self, assigned: Any) -> None:
        try:
            await self._guarded(self._seek_assigned(_sorted(assigned)))
        finally:
            self.settled.set()

    async def _seek_assigned(self, partitions: list[TopicPartition]) -> None:
        offsets = await self._listener.on_assigned(partitions)
        from_start = [_to_kafka(tp) for tp in partitions if offsets.get(tp) is None]
        # seek_to_beginning() resets asynchronously and can rewind after records were already
        # handed out; looking the offsets up and seeking synchronously cannot.
        beginnings = await self._consumer.beginning_offsets(from_start) if from_start else {}
        for tp in partitions:
            offset = offsets.get(tp)
            kafka_tp = _to_kafka(tp)
            self._consumer.seek(kafka_tp, beginnings[kafka_tp] if offset is None else offset)

    async def _guarded(self, callback: Awaitable[None]) -> None:
        # aiokafka logs and swallows listener errors; keep the first so fetch() raises it.
        try:
            await callback
        except Exception as error:
            self.error = self.error or error


class KafkaSubscriber:
    """A consumer group member that never commits offsets: the consumer keeps them with its
    own effects and the listener seeks on every assignment.

    With `partitions`, it is no group member: it owns those partitions of every topic from
    `start` to `stop` (a share of the work that another process splits up front; the same
    partition numbers of topics keyed alike hold the same keys)."""

    def __init__(
        self,
        bootstrap_servers: str,
        group_id: str | None,
        topics: Sequence[str],
        client_id: str = "wfe-subscriber",
        session_timeout_ms: int = 10_000,
        partitions: Sequence[int] | None = None,
    ) -> None:
        if (group_id is None) == (partitions is None):
            raise ValueError("a subscriber joins a group or owns partitions, one of the two")
        self._bootstrap_servers = bootstrap_servers
        self._topics = list(topics)
        self._group_id = group_id
        self._client_id = client_id
        self._session_timeout_ms = session_timeout_ms
        self._partitions = None if partitions is None else list(partitions)
        self._consumer: Any = None
        self._bridge: _RebalanceBridge | None = None

    async def start(self, listener: AssignmentListener) -> None:
        # A fresh client each time, as for the publisher: a stopped one cannot restart.
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap_servers,
            group_id=self._group_id,
            client_id=self._client_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            # A member that dies without leaving holds its partitions this long.
            session_timeout_ms=self._session_timeout_ms,
            heartbeat_interval_ms=max(self._session_timeout_ms // 4, 100),
        )
        self._bridge = _RebalanceBridge(self._consumer, listener)
        if self._partitions is None:
            self._consumer.subscribe(self._topics, listener=self._bridge)
            # With a subscription in place, aiokafka's start() waits for the first
            # assignment, though not for the listener: that is what `settled` is for.
            await _start_or_translate(self._consumer, "consumer", self._bootstrap_servers)
        else:
            await _start_or_translate(self._consumer, "consumer", self._bootstrap_servers)
            owned = [KafkaTopicPartition(t, p) for t in self._topics for p in self._partitions]
            self._consumer.assign(owned)
            await self._bridge.on_partitions_assigned(owned)
        await self._bridge.settled.wait()
        self._raise_listener_error()

    async def stop(self) -> None:
        # aiokafka does not revoke at stop; the contract does, like the in-process transport.
        if self._consumer is None:
            return
        owned = self.assignment()
        if self._bridge is not None and owned:
            await self._bridge.on_partitions_revoked([_to_kafka(tp) for tp in owned])
        await self._consumer.stop()

    async def fetch(
        self, max_records: int, timeout_ms: int
    ) -> Mapping[TopicPartition, Sequence[IncomingMessage]]:
        bridge = self._bridge
        assert bridge is not None, "start() first"
        self._raise_listener_error()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_ms / 1000):
                await bridge.settled.wait()
        if not bridge.settled.is_set():
            return {}
        try:
            batches = await self._consumer.getmany(timeout_ms=timeout_ms, max_records=max_records)
        except KafkaError as error:
            raise _translate(error, "fetching") from error
        self._raise_listener_error()
        if not bridge.settled.is_set():
            # Drawn mid-rebalance, from the auto-reset position: the listener's seek, still to
            # come, resets every assigned partition, so dropping them loses nothing.
            return {}
        return {
            _from_kafka(tp): [_incoming(record) for record in records]
            for tp, records in batches.items()
            if records
        }

    async def seek(self, partition: TopicPartition, offset: int) -> None:
        try:
            self._consumer.seek(_to_kafka(partition), offset)
        except IllegalStateError as error:
            raise TransportError(f"cannot seek {partition}: not assigned") from error

    def assignment(self) -> frozenset[TopicPartition]:
        if self._consumer is None:
            return frozenset()
        return frozenset(_from_kafka(tp) for tp in self._consumer.assignment())

    async def end_offsets(
        self, partitions: Sequence[TopicPartition]
    ) -> Mapping[TopicPartition, int]:
        # Under read_committed the broker answers with the last stable offset, which equals
        # the high watermark unless a transaction is open: the right figure for lag either way.
        try:
            ends = await self._consumer.end_offsets([_to_kafka(tp) for tp in partitions])
        except KafkaError as error:
            raise _translate(error, "reading end offsets") from error
        return {_from_kafka(tp): int(offset) for tp, offset in ends.items()}

    def _raise_listener_error(self) -> None:
        if self._bridge is not None and self._bridge.error is not None:
            error, self._bridge.error = self._bridge.error, None
            raise TransportError("the assignment listener failed") from error


def _incoming(record: Any) -> IncomingMessage:
    return IncomingMessage(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=record.key,
        value=record.value,
        headers={name: bytes(value) for name, value in record.headers},
        timestamp_ms=record.timestamp,
    )


async def partition_counts(bootstrap_servers: str, topics: Sequence[str]) -> dict[str, int]:
    """How many partitions each topic has (0: no such topic)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="wfe-metadata")
    try:
        await admin.start()
        described = await admin.describe_topics(list(topics))
    except KafkaError as error:
        raise _translate(error, f"describing topics at {bootstrap_servers}") from error
    finally:
        await admin.close()
    return {str(topic["topic"]): len(topic["partitions"]) for topic in described}

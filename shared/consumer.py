"""Consumers whose effects and offsets commit together, so each event counts exactly once.

A batch's effects, the next offset of every partition in it and the last applied version of
every stream in it are written in one database transaction. On assignment the consumer
seeks to the stored offsets, so a crash before the commit redoes the batch and a crash after
it does not. Events the relay published twice are recognised by (stream, version) and
skipped. A message that can never be processed goes to the dead-letter topic with its reason
and origin, and the partition moves on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.catalogue import InvalidEventData, UnknownEventType
from shared.db import upsert
from shared.envelope import CloudEvent, UndecodableMessage, from_binary
from shared.eventstore.tables import checkpoints, consumed_streams
from shared.telemetry import CONSUMER_EVENTS, CONSUMER_LAG
from shared.tracing import TRACE_FIELDS, batch_span
from shared.transport.base import (
    IncomingMessage,
    OutgoingMessage,
    Publisher,
    Subscriber,
    TopicPartition,
)

log = logging.getLogger(__name__)


class EventTypes(Protocol):
    """What the consumer needs of a catalogue: parse (validate) an event's data, raising
    `UnknownEventType` or `InvalidEventData` for what can never be processed."""

    def parse(self, event_type: str, data: Mapping[str, Any]) -> object: ...


class Rewind(Exception):
    """Raised by a handler to roll the batch back and re-read from the stored offsets
    (e.g. because another process just moved them)."""


@dataclass(frozen=True, slots=True)
class Delivery:
    message: IncomingMessage
    event: CloudEvent
    payload: object
    """What the catalogue's `parse` made of the event's data, so that a handler need not
    validate the data a second time."""

    @property
    def origin(self) -> tuple[str | None, bytes | None]:
        """The correlation id and trace context this event was produced under."""
        return self.event.correlationid, self.message.headers.get(TRACE_FIELDS[0])


Handler = Callable[[AsyncConnection, Sequence[Delivery]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class DeadLetter:
    message: IncomingMessage
    reason: str


@dataclass
class ConsumerStats:
    processed: int = 0
    duplicates: int = 0
    dead_letters: int = 0


class CheckpointedConsumer:
    def __init__(
        self,
        name: str,
        engine: AsyncEngine,
        subscriber: Subscriber,
        handler: Handler,
        catalogue: EventTypes,
        deadletters: Publisher,
        deadletter_topic: str,
        *,
        max_batch: int = 500,
        fetch_timeout_ms: int = 100,
        retry_delay: float = 1.0,
    ) -> None:
        self.name = name
        self._engine = engine
        self._subscriber = subscriber
        self._handler = handler
        self._catalogue = catalogue
        self._deadletters = deadletters
        self._deadletter_topic = deadletter_topic
        self._max_batch = max_batch
        self._fetch_timeout_ms = fetch_timeout_ms
        self._retry_delay = retry_delay
        self.stats = ConsumerStats()

    async def on_assigned(
        self, partitions: Sequence[TopicPartition]
    ) -> Mapping[TopicPartition, int | None]:
        stored = await self._stored_offsets(partitions)
        return {tp: stored.get(tp) for tp in partitions}

    async def on_revoked(self, partitions: Sequence[TopicPartition]) -> None:
        """Nothing to flush: every processed batch is already committed with its offsets."""

    async def run(self, stop: asyncio.Event) -> None:
        await self._deadletters.start()
        try:
            await self._consume(stop)
        finally:
            await self._deadletters.stop()

    async def _consume(self, stop: asyncio.Event) -> None:
        await self._subscriber.start(self)
        try:
            while not stop.is_set():
                batch = await self._subscriber.fetch(self._max_batch, self._fetch_timeout_ms)
                try:
                    if batch:
                        await self.process(batch)
                    else:
                        await self.idle()
                except Rewind:
                    await self._rewind()
                except (sa.exc.DBAPIError, OSError) as exc:
                    log.warning("consumer %s: database unavailable: %s", self.name, exc)
                    await asyncio.sleep(self._retry_delay)
                    await self._rewind()
        finally:
            await self._subscriber.stop()

    def assignment(self) -> frozenset[TopicPartition]:
        """The partitions this member owns now."""
        return self._subscriber.assignment()

    async def lag(self) -> dict[TopicPartition, int]:
        """Messages on the transport not yet processed, per assigned partition."""
        partitions = sorted(self._subscriber.assignment())
        if not partitions:
            return {}
        ends = await self._subscriber.end_offsets(partitions)
        stored = await self._stored_offsets(partitions)
        lag = {tp: ends[tp] - stored.get(tp, 0) for tp in partitions}
        for tp, behind in lag.items():
            CONSUMER_LAG.labels(self.name, tp.topic, str(tp.partition)).set(behind)
        return lag

    async def idle(self) -> None:
        """Called when a fetch brought nothing. A subclass whose stored position can be moved
        under it (reporting's rebuild swap) checks here, and raises `Rewind`, so that it
        does not wait for the next message to notice."""

    async def process(self, batch: Mapping[TopicPartition, Sequence[IncomingMessage]]) -> None:
        messages = [m for part in batch.values() for m in part]
        deliveries, dead = self._decode(messages)
        next_offsets = {tp: part[-1].offset + 1 for tp, part in batch.items() if part}
        try:
            async with self._engine.begin() as conn:
                fresh = await self._unseen(conn, deliveries)
                with batch_span(f"{self.name} process", [m.headers for m in messages]):
                    await self._handler(conn, fresh)
                await self._record(conn, fresh, next_offsets)
        except (sa.exc.DBAPIError, OSError, Rewind):
            raise
        except Exception:
            # Some event in the batch cannot be processed: find it, one event at a time.
            log.exception("consumer %s: batch failed, isolating the culprit", self.name)
            await self._process_one_by_one(deliveries, dead, next_offsets)
            return
        await self._dead_letter(dead)
        self._count(len(fresh), len(deliveries) - len(fresh))

    def _decode(
        self, messages: Sequence[IncomingMessage]
    ) -> tuple[list[Delivery], list[DeadLetter]]:
        deliveries: list[Delivery] = []
        dead: list[DeadLetter] = []
        for message in messages:
            try:
                event = from_binary(message.headers, message.value)
                payload = self._catalogue.parse(event.type, event.data or {})
            except (UndecodableMessage, UnknownEventType, InvalidEventData) as exc:
                dead.append(DeadLetter(message, str(exc)))
                continue
            deliveries.append(Delivery(message, event, payload))
        return deliveries, dead

    async def _process_one_by_one(
        self,
        deliveries: Sequence[Delivery],
        dead: list[DeadLetter],
        next_offsets: Mapping[TopicPartition, int],
    ) -> None:
        for delivery in deliveries:
            try:
                async with self._engine.begin() as conn:
                    fresh = await self._unseen(conn, [delivery])
                    await self._handler(conn, fresh)
                    await self._record(conn, fresh, {})
                self._count(len(fresh), 1 - len(fresh))
            except (sa.exc.DBAPIError, OSError, Rewind):
                raise
            except Exception as exc:
                dead.append(DeadLetter(delivery.message, f"{type(exc).__name__}: {exc}"))
        await self._dead_letter(dead)
        async with self._engine.begin() as conn:
            # The handler sees this transaction too (with nothing to apply), so a check it
            # makes per batch — e.g. reporting's table generation — also guards the offsets.
            await self._handler(conn, [])
            await self._record(conn, [], next_offsets)

    async def _unseen(
        self, conn: AsyncConnection, deliveries: Sequence[Delivery]
    ) -> list[Delivery]:
        streams = {key for d in deliveries if (key := _stream_version(d)) is not None}
        applied: dict[str, int] = {}
        if streams:
            rows = await conn.execute(
                sa.select(consumed_streams.c.stream_id, consumed_streams.c.version).where(
                    consumed_streams.c.consumer == self.name,
                    consumed_streams.c.stream_id.in_({stream for stream, _ in streams}),
                )
            )
            applied = dict(rows.all())
        fresh: list[Delivery] = []
        for delivery in deliveries:
            key = _stream_version(delivery)
            if key is None:
                fresh.append(delivery)
            elif key[1] > applied.get(key[0], 0):
                applied[key[0]] = key[1]
                fresh.append(delivery)
        return fresh

    async def _record(
        self,
        conn: AsyncConnection,
        applied: Sequence[Delivery],
        next_offsets: Mapping[TopicPartition, int],
    ) -> None:
        versions = dict(key for d in applied if (key := _stream_version(d)) is not None)
        await upsert(
            conn,
            consumed_streams,
            [{"consumer": self.name, "stream_id": s, "version": v} for s, v in versions.items()],
            ["consumer", "stream_id"],
        )
        await upsert(
            conn,
            checkpoints,
            [
                {
                    "consumer": self.name,
                    "topic": tp.topic,
                    "partition": tp.partition,
                    "next_offset": o,
                }
                for tp, o in next_offsets.items()
            ],
            ["consumer", "topic", "partition"],
        )

    def _count(self, processed: int, duplicates: int) -> None:
        self.stats.processed += processed
        self.stats.duplicates += duplicates
        CONSUMER_EVENTS.labels(self.name, "processed").inc(processed)
        CONSUMER_EVENTS.labels(self.name, "duplicate").inc(duplicates)

    async def _dead_letter(self, dead: Sequence[DeadLetter]) -> None:
        if not dead:
            return
        await self._deadletters.publish([self._dead_letter_message(d) for d in dead])
        self.stats.dead_letters += len(dead)
        CONSUMER_EVENTS.labels(self.name, "dead_letter").inc(len(dead))
        for d in dead:
            correlation = d.message.headers.get("ce_correlationid")
            log.warning(
                "consumer %s: dead-lettered %s/%d@%d: %s",
                self.name,
                d.message.topic,
                d.message.partition,
                d.message.offset,
                d.reason,
                extra={"correlation_id": correlation.decode("latin-1") if correlation else None},
            )

    def _dead_letter_message(self, dead: DeadLetter) -> OutgoingMessage:
        message = dead.message
        origin = {
            "dlq_reason": dead.reason,
            "dlq_consumer": self.name,
            "dlq_topic": message.topic,
            "dlq_partition": str(message.partition),
            "dlq_offset": str(message.offset),
        }
        return OutgoingMessage(
            topic=self._deadletter_topic,
            key=message.key or b"",
            value=message.value or b"",
            headers={**message.headers, **{k: v.encode() for k, v in origin.items()}},
        )

    async def _stored_offsets(
        self, partitions: Sequence[TopicPartition]
    ) -> dict[TopicPartition, int]:
        if not partitions:
            return {}
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                sa.select(
                    checkpoints.c.topic, checkpoints.c.partition, checkpoints.c.next_offset
                ).where(checkpoints.c.consumer == self.name)
            )
            stored = {TopicPartition(t, p): o for t, p, o in rows}
        return {tp: stored[tp] for tp in partitions if tp in stored}

    async def _rewind(self) -> None:
        partitions = sorted(self._subscriber.assignment())
        stored = await self._stored_offsets(partitions)
        for tp in partitions:
            await self._subscriber.seek(tp, stored.get(tp, 0))


def _stream_version(delivery: Delivery) -> tuple[str, int] | None:
    """The (stream, version) a delivery carries, if any. A stream belongs to one topic:
    the same subject on two topics (a contributor's registry stream and their policy
    decision stream) is two streams with versions of their own."""
    event = delivery.event
    if event.subject is None or event.sequence is None:
        return None
    return f"{delivery.message.topic}:{event.subject}", event.sequence

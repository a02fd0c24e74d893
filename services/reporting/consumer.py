"""Reporting's consumer: both topics in, projected rows out, in the consumer's transaction.

`shared.consumer.CheckpointedConsumer` stores offsets and per-stream versions with the
effects; this module adds what consuming two topics into one projection needs:
- a catalogue that accepts what the projection accepts (`ReportingCatalogue`);
- the generation check that lets a rebuild swap tables under a running consumer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar

from pydantic import ConfigDict, ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.registry.domain.events import SelfIdentificationErased
from services.registry.domain.events import catalogue as registry_catalogue
from services.reporting.adapters import demographic_feed, generations, store
from services.reporting.adapters.held import HeldFacts
from services.reporting.projections import ProjectedEvent, project_batch
from services.reporting.projections.model import POLICY_DECISIONS, REGISTRY_PREFIX
from services.reporting.projections.project import fold
from shared.app import ServiceContext
from shared.catalogue import Catalogue, EventPayload, InvalidEventData
from shared.consumer import CheckpointedConsumer, Delivery, Rewind
from shared.settings import ServiceSettings
from shared.transport.base import (
    IncomingMessage,
    Publisher,
    Subscriber,
    TopicPartition,
)
from shared.transport.factory import KafkaTransport, Transport

CONSUMER = "reporting"
GROUP = "reporting"
LIVE_BATCH = 500
"""Events per transaction of a live consumer: small enough to keep freshness in
milliseconds, large enough that a burst is applied in few transactions."""
IDLE_CHECK_SECONDS = 0.5
"""How often a live consumer with nothing to read looks for a swapped-in rebuild."""


class _Accepted(EventPayload):
    model_config = ConfigDict(frozen=True, extra="allow")

    TYPE: ClassVar[str] = "org.workforce.reporting.accepted"


class ReportingCatalogue(Catalogue):
    """Registry types strictly (upcasters included): the projection cannot skip one. The two
    policy decisions reporting reads by their shape; every other type is accepted and then
    ignored by the projection, so the policy service can add decisions freely. The
    projection folds the registry payloads `parse` returns; it reads decisions itself."""

    def __contains__(self, event_type: str) -> bool:
        return not event_type.startswith(REGISTRY_PREFIX) or event_type in registry_catalogue

    def parse(self, event_type: str, data: Mapping[str, Any]) -> EventPayload:
        if event_type.startswith(REGISTRY_PREFIX):
            return registry_catalogue.parse(event_type, data)
        decision = POLICY_DECISIONS.get(event_type)
        if decision is not None:
            try:
                decision.model_validate(dict(data))
            except ValidationError as exc:
                raise InvalidEventData(event_type, exc) from exc
        return _Accepted()


class ProjectionSwapped(Rewind):
    """A rebuild swapped the tables since this consumer's position was read: roll back and
    re-read from the stored offsets, which are now the rebuild's."""


class ProjectionConsumer(CheckpointedConsumer):
    """The projection as a checkpointed consumer. `live` consumers guard against a swap,
    lock contributors and write every batch's rows in its transaction; a rebuild's consumer
    writes tables nobody else writes or reads before the swap, so it holds facts in memory
    and writes each contributor once (`adapters/held.py`; `write_held` at the end)."""

    def __init__(
        self,
        name: str,
        engine: AsyncEngine,
        subscriber: Subscriber,
        deadletters: Publisher,
        settings: ServiceSettings,
        *,
        live: bool,
        max_batch: int = LIVE_BATCH,
        held: int = 0,
        on_erasure: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(
            name,
            engine,
            subscriber,
            self._project,
            ReportingCatalogue(),
            deadletters,
            settings.topics.deadletter,
            max_batch=max_batch,
        )
        self._tables = engine
        self._live = live
        self._generation: int | None = None
        # Live consumers share their tables with other instances (and with a rebuild's
        # swap): what they read must come from the tables every time.
        self._held = None if live else HeldFacts(held)
        self._on_erasure = on_erasure
        self._erased = False
        self._next_idle_check = 0.0

    async def process(self, batch: Mapping[TopicPartition, Sequence[IncomingMessage]]) -> None:
        self._erased = False
        await super().process(batch)
        if self._held is not None:
            # Its own transaction, after the batch's: what it writes was held by this batch
            # or earlier ones, whose offsets are stored whether or not this one commits.
            await self._write(self._held, self._held.overflow())
        # After the commit: the feed must find the forgotten counts gone.
        elif self._erased and self._on_erasure is not None:
            self._on_erasure()

    async def write_held(self, per_transaction: int = 2000) -> None:
        """Writes every contributor still held (a rebuild's, before its swap)."""
        if self._held is None:
            raise RuntimeError("a live consumer holds nothing: it writes every batch")
        everyone = self._held.everyone()
        for start in range(0, len(everyone), per_transaction):
            await self._write(self._held, everyone[start : start + per_transaction])

    async def _write(self, held: HeldFacts, contributor_ids: Sequence[str]) -> None:
        if not contributor_ids:
            return
        write = held.write(contributor_ids)
        await store.write_contributors(self._tables, write.rows, write.replacing)
        held.written(write)

    async def on_assigned(
        self, partitions: Sequence[TopicPartition]
    ) -> Mapping[TopicPartition, int | None]:
        if self._live:
            # Before the offsets: a swap in between only costs one needless rewind.
            async with self._tables.connect() as conn:
                self._generation = await generations.current(conn)
        return await super().on_assigned(partitions)

    async def idle(self) -> None:
        """A swap must be noticed without a message to process: the events this consumer
        applied to the tables after the rebuild stopped reading went with those tables,
        and its position is past the offsets the swap moved in."""
        now = time.monotonic()
        if not self._live or now < self._next_idle_check:
            return
        self._next_idle_check = now + IDLE_CHECK_SECONDS
        async with self._tables.connect() as conn:
            self._check_generation(await generations.current(conn))

    def _check_generation(self, generation: int) -> None:
        if generation != self._generation:
            known, self._generation = self._generation, generation
            raise ProjectionSwapped(
                f"tables are generation {generation}, the position is from {known}"
            )

    async def _project(self, conn: AsyncConnection, deliveries: Sequence[Delivery]) -> None:
        if self._live:
            self._check_generation(await generations.enter_batch(conn))
        events = [ProjectedEvent.from_cloudevent(d.event, d.payload) for d in deliveries]
        subjects = {e.subject for e in events}
        if self._live:
            await store.lock_contributors(conn, subjects)
            if any(e.type == SelfIdentificationErased.TYPE for e in events):
                # The stored demographic counts include the person: forget them with this
                # batch (durably), and have the feed fetch them again.
                await demographic_feed.forget_counts(conn)
                self._erased = True
        if self._held is None:
            _, ops = project_batch(await store.load_facts(conn, subjects), events)
            await store.apply(conn, ops)
        else:
            held = self._held.facts(subjects)
            stored = await store.load_facts(conn, subjects - held.keys())
            self._held.hold(fold({**held, **stored}, events), stored.keys())
        latest: dict[TopicPartition, datetime] = {}
        for delivery, event in zip(deliveries, events, strict=True):
            latest[delivery.message.topic_partition] = event.recorded_time
        await store.record_progress(conn, self.name, latest)


def projection_consumer(
    transport: Transport,
    engine: AsyncEngine,
    settings: ServiceSettings,
    deadletters: Publisher,
    *,
    name: str = CONSUMER,
    group_id: str = GROUP,
    live: bool = True,
    max_batch: int = LIVE_BATCH,
    held: int = 0,
    on_erasure: Callable[[], None] | None = None,
    partitions: Sequence[int] | None = None,
) -> ProjectionConsumer:
    """`held` (not live only): contributors whose facts are held in memory before their rows
    are written. `partitions` (Kafka only): those partitions of both topics, outside any
    consumer group, instead of a group member's share."""
    topics = [settings.topics.registry, settings.topics.policy]
    client_id = f"{name}-consumer"
    if partitions is None:
        subscriber = transport.subscriber(group_id, topics, client_id=client_id)
    elif isinstance(transport, KafkaTransport):
        subscriber = transport.share_subscriber(topics, partitions, client_id=client_id)
    else:
        raise ValueError("a fixed share of the partitions needs Kafka")
    return ProjectionConsumer(
        name,
        engine,
        subscriber,
        deadletters,
        settings,
        live=live,
        max_batch=max_batch,
        held=held,
        on_erasure=on_erasure,
    )


class ConsumerWorker:
    """Runs the projection consumer, built afresh on each (re)start by the app's supervisor,
    and keeps it reachable for readiness and freshness."""

    def __init__(
        self, service: ServiceContext, on_erasure: Callable[[], None] | None = None
    ) -> None:
        self._service = service
        self._on_erasure = on_erasure
        self.consumer: ProjectionConsumer | None = None

    async def run(self, stop: asyncio.Event) -> None:
        transport = self._service.transport
        deadletters = transport.publisher(client_id=f"{CONSUMER}-deadletters")
        self.consumer = projection_consumer(
            transport,
            self._service.engine,
            self._service.settings,
            deadletters,
            on_erasure=self._on_erasure,
        )
        await self.consumer.run(stop)

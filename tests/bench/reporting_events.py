"""The reporting benchmarks' input: a realistic event mix written straight to Kafka.

Registry events come from the demo's generator (`shared.demo.plan.build_plan`: every type of
contributor living a year, back-dated corrections, conversions, checks, contracts, grants),
one plan per chunk of contributors so that a million events never sit in memory at once.
Each contributor's events get stream versions in story order, as the registry's outbox
would publish them. Policy decisions, of the shapes `services.policy.domain.events` defines,
follow the registry events that cause them in the real service: requirements, compliance
status and DEI programs at registration, a status change at activation, suspension and
reinstatement.

Writing is set-up, not what is measured: batches built per partition (`send_batch`), keyed
and partitioned as the relay's producer does (murmur2 of the contributor id).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from services.policy.domain.events import (
    ComplianceStatusChanged,
    DeiProgramsExtended,
    RequirementsAssigned,
)
from services.registry.domain.values import DEI_PROGRAMS
from shared.demo.plan import build_plan
from shared.demo.planned import PlannedEvent
from shared.envelope import CloudEvent, to_binary
from shared.transport.partitioning import partition_for_key

CHUNK_CONTRIBUTORS = 2000
"""Contributors per generated plan: about 30,000 registry events, a year of their lives."""
POLICY_HASH = "b" * 64
TODAY = date(2026, 11, 1)
DECISION_DELAY = timedelta(seconds=2)
STATUS_AFTER = {"activated": "compliant", "suspended": "non_compliant", "reinstated": "compliant"}


@dataclass(frozen=True)
class Message:
    topic: str
    key: bytes
    headers: list[tuple[str, bytes]]
    value: bytes


@dataclass
class Written:
    registry: int = 0
    policy: int = 0
    contributors: int = 0
    seconds: float = 0.0

    @property
    def events(self) -> int:
        return self.registry + self.policy


def _cloudevent(
    event_id: str, source: str, event_type: str, subject: str, sequence: int, e: PlannedEvent
) -> CloudEvent:
    return CloudEvent(
        specversion="1.0",
        id=event_id,
        source=source,
        type=event_type,
        subject=subject,
        time=e.recorded,
        datacontenttype="application/json",
        effectivetime=e.effective,
        sequence=sequence,
        partitionkey=subject,
        data=e.data,
    )


def _message(topic: str, event: CloudEvent) -> Message:
    headers, value = to_binary(event)
    return Message(topic, (event.subject or "").encode(), list(headers.items()), value)


def _decision(kind: type[Any], e: PlannedEvent, based_on: int, **fields: Any) -> dict[str, Any]:
    data = {
        "policy_hash": POLICY_HASH,
        "based_on_version": based_on,
        "mode": "enforced",
        "enforced": True,
        "as_of": e.effective.date().isoformat(),
        **fields,
    }
    kind.model_validate(data)  # the shape the policy service publishes, or fail here
    return {"type": kind.TYPE, "data": data}


def _decisions(e: PlannedEvent, version: int) -> list[dict[str, Any]]:
    if e.verb == "registered":
        kind = e.data["contributor_type"]
        programs = list(DEI_PROGRAMS if kind == "employee" else DEI_PROGRAMS[:1])
        return [
            _decision(RequirementsAssigned, e, version, contributor_type=kind, requirements=[]),
            _decision(ComplianceStatusChanged, e, version, status="pending"),
            _decision(DeiProgramsExtended, e, version, programs=programs, added=programs),
        ]
    status = STATUS_AFTER.get(e.verb)
    if status is not None:
        return [_decision(ComplianceStatusChanged, e, version, status=status)]
    return []


def plan_events(seed: int, contributors: int) -> list[PlannedEvent]:
    """A year of `contributors`' lives, in the order the feed delivers it."""
    return build_plan(seed, contributors, 1, TODAY).events


def chunk_messages(
    seed: int, contributors: int, registry_topic: str, policy_topic: str, written: Written
) -> Iterator[Message]:
    """One plan's registry events and the decisions they cause, in feed order."""
    versions: dict[str, int] = {}
    decision_versions: dict[str, int] = {}
    for e in plan_events(seed, contributors):
        version = versions[e.subject] = versions.get(e.subject, 0) + 1
        yield _message(registry_topic, _cloudevent(e.id, e.source, e.type, e.subject, version, e))
        written.registry += 1
        for i, decision in enumerate(_decisions(e, version)):
            n = decision_versions[e.subject] = decision_versions.get(e.subject, 0) + 1
            later = PlannedEvent(
                f"{e.id}-d{i}",
                "/policy",
                e.verb,
                e.subject,
                decision["data"],
                e.effective,
                e.recorded + DECISION_DELAY,
                e.channel,
            )
            yield _message(
                policy_topic,
                _cloudevent(later.id, "/policy", decision["type"], e.subject, n, later),
            )
            written.policy += 1
    written.contributors += len(versions)


class FastProducer:
    """Batches per partition, handed to the broker whole: the input, as fast as aiokafka
    can write it."""

    def __init__(self, bootstrap: str, partitions: int) -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, acks=1, linger_ms=50, max_batch_size=1 << 20
        )
        self._partitions = partitions
        self._batches: dict[tuple[str, int], Any] = {}
        self._pending: list[asyncio.Future[Any]] = []

    async def __aenter__(self) -> FastProducer:
        await self._producer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            if exc[0] is None:
                await self.flush()
        finally:
            await self._producer.stop()

    async def add(self, m: Message) -> None:
        where = (m.topic, partition_for_key(m.key, self._partitions))
        batch = self._batches.get(where)
        if batch is None:
            batch = self._batches[where] = self._producer.create_batch()
        if batch.append(key=m.key, value=m.value, timestamp=None, headers=m.headers) is None:
            await self._send(where, batch)
            batch = self._batches[where] = self._producer.create_batch()
            batch.append(key=m.key, value=m.value, timestamp=None, headers=m.headers)

    async def _send(self, where: tuple[str, int], batch: Any) -> None:
        batch.close()
        self._pending.append(await self._producer.send_batch(batch, where[0], partition=where[1]))
        if len(self._pending) >= 64:
            await asyncio.gather(*self._pending)
            self._pending.clear()

    async def flush(self) -> None:
        for where, batch in list(self._batches.items()):
            await self._send(where, batch)
        self._batches.clear()
        await asyncio.gather(*self._pending)
        self._pending.clear()


async def write_events(
    bootstrap: str,
    topics: tuple[str, str],
    events: int,
    partitions: int,
    *,
    chunk: int = CHUNK_CONTRIBUTORS,
    seed: int = 5,
) -> Written:
    """At least `events` events (registry and policy together) on the two topics."""
    written = Written()
    began = time.perf_counter()
    async with FastProducer(bootstrap, partitions) as producer:
        n = 0
        while written.events < events:
            for m in chunk_messages(seed * 1000 + n, chunk, *topics, written):
                await producer.add(m)
            n += 1
    written.seconds = time.perf_counter() - began
    return written


@dataclass(frozen=True)
class RawConsume:
    messages: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0


async def raw_consume(bootstrap: str, topics: Sequence[str], partitions: int) -> RawConsume:
    """The peer: read every message of the topics from offset 0, doing nothing with them
    (aiokafka's consumer with the subscriber's settings, partitions assigned directly)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    await consumer.start()
    try:
        owned = [TopicPartition(t, p) for t in topics for p in range(partitions)]
        consumer.assign(owned)
        ends = await consumer.end_offsets(owned)
        await consumer.seek_to_beginning(*owned)
        wanted, seen = sum(ends.values()), 0
        began = time.perf_counter()
        while seen < wanted:
            batches = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            seen += sum(len(records) for records in batches.values())
        return RawConsume(seen, time.perf_counter() - began)
    finally:
        await consumer.stop()

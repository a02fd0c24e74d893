"""The reporting e2e tests' views: histories and reports over HTTP, table snapshots, schema
shape, and extra consumer instances run inside the test process (no tests here)."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from services.reporting.adapters.tables import PROJECTED
from services.reporting.consumer import ProjectionConsumer
from shared.db import create_engine
from shared.envelope import CloudEvent, from_binary
from shared.migrations import migrate
from shared.settings import ServiceSettings
from shared.transport.base import (
    AssignmentListener,
    IncomingMessage,
    Subscriber,
    TopicPartition,
)
from shared.transport.factory import Transport
from shared.transport.kafka import KafkaPublisher, KafkaSubscriber
from tests.e2e import test_reporting_expected as expected
from tests.e2e.registry_client import RegistryClient
from tests.e2e.test_reporting_script import Stack

Snapshot = dict[str, list[dict[str, Any]]]
DIMENSIONS = ("contributor_type", "lifecycle_state", "business_unit", "owning_function")


async def streams(stack: Stack) -> dict[str, list[expected.Ev]]:
    """Every contributor's history, as the registry tells it over HTTP."""
    async with stack.registry.client("contributors:read") as http:
        ids: list[str] = []
        cursor: str | None = None
        while True:
            params = {"limit": "500", **({"cursor": cursor} if cursor else {})}
            page = (await http.get("/v1/contributors", params=params)).json()
            ids += [item["id"] for item in page["items"]]
            if not (cursor := page["next_cursor"]):
                break
        api = RegistryClient(http)
        histories = await asyncio.gather(*(api.history(cid) for cid in ids))
    return {cid: expected.events(h) for cid, h in zip(ids, histories, strict=True)}


async def items(client: httpx.AsyncClient, path: str, **params: Any) -> list[dict[str, Any]]:
    response = await client.get(path, params=params)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["items"]
    return found


def counted(lines: list[dict[str, Any]], *keys: str) -> Counter[tuple[Any, ...]]:
    return Counter({tuple(line[k] for k in keys): line["count"] for line in lines})


def instant(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(UTC)


async def snapshot(engine: AsyncEngine) -> Snapshot:
    """Every projected table's rows, in key order."""
    found: Snapshot = {}
    async with engine.connect() as conn:
        for table in PROJECTED:
            result = await conn.execute(sa.select(table).order_by(*table.primary_key.columns))
            found[table.name] = [dict(r) for r in result.mappings()]
    return found


async def shape(engine: AsyncEngine) -> list[tuple[str, ...]]:
    """Columns (name, type, nullability) and index definitions of the projected tables."""
    names = [t.name for t in PROJECTED]
    async with engine.connect() as conn:
        columns = await conn.execute(
            sa.text(
                "SELECT table_name, column_name, data_type, is_nullable"
                " FROM information_schema.columns"
                " WHERE table_schema = current_schema() AND table_name = ANY(:t)"
            ),
            {"t": names},
        )
        indexes = await conn.execute(
            sa.text(
                "SELECT tablename, indexname, replace(indexdef, current_schema() || '.', '')"
                " FROM pg_indexes WHERE schemaname = current_schema() AND tablename = ANY(:t)"
            ),
            {"t": names},
        )
        return sorted([tuple(r) for r in columns] + [tuple(r) for r in indexes])


class _FromTheStart:
    async def on_assigned(
        self, partitions: Sequence[TopicPartition]
    ) -> Mapping[TopicPartition, int | None]:
        return {}

    async def on_revoked(self, partitions: Sequence[TopicPartition]) -> None:
        return None


async def on_topic(transport: Transport, topic: str) -> list[CloudEvent]:
    """Everything on the topic now, read through the transport itself (Kafka or in-process)
    by a new group's only member, in partition order."""
    reader = transport.subscriber(f"e2e-reader-{uuid.uuid4().hex[:8]}", [topic], "e2e-reader")
    await reader.start(_FromTheStart())
    try:
        owned = sorted(reader.assignment())
        ends = await reader.end_offsets(owned)
        read: dict[TopicPartition, list[IncomingMessage]] = {tp: [] for tp in owned}
        async with asyncio.timeout(30):  # a deadline for a broken transport, not a measure
            while any(len(read[tp]) < ends[tp] for tp in owned):
                for tp, messages in (await reader.fetch(1000, 500)).items():
                    read[tp] += messages
    finally:
        await reader.stop()
    return [from_binary(dict(m.headers), m.value) for tp in owned for m in read[tp]]


class Gate:
    """A subscriber that fetches nothing until `open` is set: lets every member of a group
    join before any of them starts reading, so the partitions really are split."""

    def __init__(self, inner: Subscriber, open_: asyncio.Event) -> None:
        self._inner = inner
        self._open = open_

    async def start(self, listener: AssignmentListener) -> None:
        await self._inner.start(listener)

    async def stop(self) -> None:
        await self._inner.stop()

    async def fetch(
        self, max_records: int, timeout_ms: int
    ) -> Mapping[TopicPartition, Sequence[IncomingMessage]]:
        if not self._open.is_set():
            await asyncio.sleep(timeout_ms / 1000)
            return {}
        return await self._inner.fetch(max_records, timeout_ms)

    async def seek(self, partition: TopicPartition, offset: int) -> None:
        await self._inner.seek(partition, offset)

    def assignment(self) -> frozenset[TopicPartition]:
        return self._inner.assignment()

    async def end_offsets(
        self, partitions: Sequence[TopicPartition]
    ) -> Mapping[TopicPartition, int]:
        return await self._inner.end_offsets(partitions)


@asynccontextmanager
async def instances(
    settings: ServiceSettings, count: int, gate: asyncio.Event
) -> AsyncIterator[tuple[AsyncEngine, list[ProjectionConsumer]]]:
    """`count` live projection consumers in one new group, on a fresh schema of the test
    database, as `count` reporting instances would run them."""
    assert settings.database_url is not None
    assert settings.kafka_bootstrap_servers is not None
    schema = f"reporting_pair_{uuid.uuid4().hex[:8]}"
    engine = create_engine(settings.database_url, schema=schema, pool_size=4)
    await migrate(engine, schema, "reporting@head")
    group = f"reporting-pair-{uuid.uuid4().hex[:8]}"
    topics = [settings.topics.registry, settings.topics.policy]
    deadletters = KafkaPublisher(settings.kafka_bootstrap_servers)
    await deadletters.start()
    consumers = [
        ProjectionConsumer(
            "reporting",
            engine,
            Gate(KafkaSubscriber(settings.kafka_bootstrap_servers, group, topics), gate),
            deadletters,
            settings,
            live=True,
            max_batch=50,
        )
        for _ in range(count)
    ]
    stop = asyncio.Event()
    running = [asyncio.create_task(c.run(stop)) for c in consumers]
    try:
        yield engine, consumers
    finally:
        stop.set()
        await asyncio.gather(*running, return_exceptions=True)
        await deadletters.stop()
        async with engine.begin() as conn:
            await conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        await engine.dispose()

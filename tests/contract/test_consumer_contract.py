"""The checkpointed consumer's contract, on Kafka + PostgreSQL and in-process + SQLite.

Poison messages go to the dead-letter topic with their reason and origin while the good ones
take effect; an event delivered twice takes effect once; a new consumer resumes where the
stored offsets say, not where the transport thinks.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.consumer import CheckpointedConsumer, Delivery
from shared.envelope import CloudEvent, to_binary
from shared.transport.base import IncomingMessage, OutgoingMessage
from tests.databases import fresh_database
from tests.faults.workers import PROJECTION_DDL, Happened, catalogue, project
from tests.transports import RecordingListener, Transport, collect, open_transport

PAIRS = {"kafka": "postgres", "inprocess": "sqlite"}


@pytest.fixture(params=list(PAIRS))
async def setup(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[Transport, AsyncEngine]]:
    url = request.getfixturevalue("postgres_admin_url") if request.param == "kafka" else ""
    async with (
        open_transport(str(request.param), request) as transport,
        fresh_database(PAIRS[str(request.param)], url, tmp_path) as database,
    ):
        async with database.engine.begin() as conn:
            for ddl in PROJECTION_DDL:
                await conn.execute(sa.text(ddl))
        yield transport, database.engine


def happened(stream: str, version: int, n: int, event_id: str | None = None) -> OutgoingMessage:
    event = CloudEvent(
        specversion="1.0",
        id=event_id or str(uuid.uuid4()),
        source="/contract",
        type=Happened.TYPE,
        subject=stream,
        time=datetime.now(UTC),
        data={"n": n},
        sequence=version,
        partitionkey=stream,
    )
    headers, value = to_binary(event)
    return OutgoingMessage(topic="", key=stream.encode(), value=value, headers=headers)


def on(topic: str, message: OutgoingMessage) -> OutgoingMessage:
    return OutgoingMessage(topic, message.key, message.value, message.headers)


async def consume_until(
    transport: Transport,
    engine: AsyncEngine,
    topic: str,
    deadletter_topic: str,
    done: int,
    handler: object = None,
    group: str = "projector",
) -> CheckpointedConsumer:
    """Runs a consumer until it has handled `done` messages (applied, skipped or dead)."""
    consumer = CheckpointedConsumer(
        group,
        engine,
        transport.new_subscriber(group, [topic]),
        handler or project,  # type: ignore[arg-type]
        catalogue,
        transport.new_publisher(),
        deadletter_topic,
        fetch_timeout_ms=50,
    )
    stop = asyncio.Event()
    running = asyncio.create_task(consumer.run(stop))
    deadline = time.monotonic() + 30
    stats = consumer.stats
    while stats.processed + stats.duplicates + stats.dead_letters < done:
        assert time.monotonic() < deadline, f"consumer stuck at {stats}"
        assert not running.done(), running.exception()
        await asyncio.sleep(0.05)
    stop.set()
    await running
    return consumer


async def dead_letters(transport: Transport, topic: str, count: int) -> list[IncomingMessage]:
    subscriber = await transport.subscriber(topic, RecordingListener())
    return (await collect([subscriber], count))[0]


async def projected(engine: AsyncEngine) -> dict[str, tuple[int, int, int]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.text("SELECT stream_id, events, last_version, total FROM projection")
        )
        return {s: (c, v, t) for s, c, v, t in rows}


async def test_poison_goes_to_the_dead_letter_topic_and_the_rest_takes_effect(
    setup: tuple[Transport, AsyncEngine],
) -> None:
    transport, engine = setup
    topic, dlt = await transport.create_topic(), await transport.create_topic()
    not_json = OutgoingMessage(topic, b"s-1", b"{nope", happened("s-1", 9, 0).headers)
    unknown = happened("s-2", 1, 5)
    unknown = OutgoingMessage(
        topic, b"s-2", unknown.value, {**unknown.headers, "ce_type": b"org.workforce.nope.v1"}
    )
    not_cloudevent = OutgoingMessage(topic, b"s-3", b"{}", {})
    publisher = await transport.publisher()
    await publisher.publish(
        [
            on(topic, happened("s-1", 1, 10)),
            not_json,
            on(topic, happened("s-1", 2, 20)),
            unknown,
            not_cloudevent,
            on(topic, happened("s-3", 1, 7)),
        ]
    )
    consumer = await consume_until(transport, engine, topic, dlt, 6)
    assert consumer.stats.dead_letters == 3
    assert await projected(engine) == {"s-1": (2, 2, 30), "s-3": (1, 1, 7)}
    dead = await dead_letters(transport, dlt, 3)
    reasons = {m.key: m.headers["dlq_reason"].decode() for m in dead}
    assert "not JSON" in reasons[b"s-1"]
    assert "unknown event type" in reasons[b"s-2"]
    assert "not a CloudEvent" in reasons[b"s-3"]
    assert {m.headers["dlq_topic"].decode() for m in dead} == {topic}
    assert all(m.headers["dlq_consumer"] == b"projector" for m in dead)
    assert {m.value for m in dead} >= {b"{nope", b"{}"}


async def test_an_event_that_breaks_the_handler_is_dead_lettered_alone(
    setup: tuple[Transport, AsyncEngine],
) -> None:
    transport, engine = setup
    topic, dlt = await transport.create_topic(), await transport.create_topic()

    async def strict(conn: AsyncConnection, deliveries: Sequence[Delivery]) -> None:
        if any(d.event.data["n"] < 0 for d in deliveries):
            raise ValueError("n must not be negative")
        await project(conn, deliveries)

    publisher = await transport.publisher()
    await publisher.publish(
        [on(topic, happened("s-1", v, n)) for v, n in [(1, 1), (2, -1), (3, 3)]]
    )
    consumer = await consume_until(transport, engine, topic, dlt, 3, strict)
    assert consumer.stats.dead_letters == 1
    assert await projected(engine) == {"s-1": (2, 3, 4)}
    [dead] = await dead_letters(transport, dlt, 1)
    assert dead.headers["dlq_reason"] == b"ValueError: n must not be negative"


async def test_an_event_delivered_twice_takes_effect_once(
    setup: tuple[Transport, AsyncEngine],
) -> None:
    transport, engine = setup
    topic, dlt = await transport.create_topic(), await transport.create_topic()
    first = happened("s-1", 1, 10)
    publisher = await transport.publisher()
    await publisher.publish([on(topic, first), on(topic, happened("s-1", 2, 5)), on(topic, first)])
    consumer = await consume_until(transport, engine, topic, dlt, 3)
    assert consumer.stats.duplicates == 1
    assert await projected(engine) == {"s-1": (2, 2, 15)}


async def test_a_new_consumer_resumes_from_the_stored_offsets(
    setup: tuple[Transport, AsyncEngine],
) -> None:
    transport, engine = setup
    topic, dlt = await transport.create_topic(), await transport.create_topic()
    publisher = await transport.publisher()
    await publisher.publish([on(topic, happened(f"s-{i}", 1, i)) for i in range(20)])
    await consume_until(transport, engine, topic, dlt, 20)
    await publisher.publish([on(topic, happened(f"s-{i}", 2, 100)) for i in range(5)])
    again = await consume_until(transport, engine, topic, dlt, 5)
    assert again.stats.processed == 5
    assert again.stats.duplicates == 0
    rows = await projected(engine)
    assert sum(events for events, _, _ in rows.values()) == 25

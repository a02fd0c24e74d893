"""Kafka is stopped for 30 s while appends go on (I1, I6).

Appends keep succeeding because they only touch PostgreSQL; the outbox grows while the
broker is away; after the restart the relay publishes the backlog and every event is on the
topic.
"""

from __future__ import annotations

import asyncio
import time

from shared.outbox.relay import OutboxRelay, RelayConfig
from shared.stack import StackSettings, kafka
from shared.transport.kafka import KafkaPublisher
from tests.databases import FreshDatabase
from tests.faults.harness import append_load, eventually, outbox_size, read_topic

OUTAGE_SECONDS = 30


async def test_appends_continue_while_the_broker_is_down(
    database: FreshDatabase, kafka_bootstrap: str, topic: str
) -> None:
    publisher = KafkaPublisher(kafka_bootstrap)
    config = RelayConfig(service=database.schema, topic=topic, source="/faults", retry_delay=0.5)
    relay = OutboxRelay(database.engine, publisher, config)
    stop = asyncio.Event()
    relaying = asyncio.create_task(relay.run(stop))
    settings = StackSettings()
    appended = 0
    try:
        await append_load(database.engine, 1_000)
        appended += 1_000
        await eventually(lambda: _drained(database), 30, "the first events to be published")

        assert await kafka.stop(settings)
        down_since = time.monotonic()
        backlog_seen = []
        while time.monotonic() - down_since < OUTAGE_SECONDS:
            await append_load(database.engine, 400)
            appended += 400
            backlog_seen.append(await outbox_size(database.engine))
            await asyncio.sleep(1)
        assert backlog_seen == sorted(backlog_seen), "the backlog shrank with no broker"
        assert backlog_seen[-1] >= appended - 1_000 - 400, "appends during the outage were lost"

        await kafka.start(settings)
        restarted = time.monotonic()
        await eventually(lambda: _drained(database), 120, "the backlog to be published")
        catch_up = time.monotonic() - restarted
    finally:
        stop.set()
        await relaying
        await kafka.start(settings)  # whatever happened, leave the broker running

    on_topic = await read_topic(kafka_bootstrap, topic)
    ids = {event.id for _, event in on_topic}
    assert len(ids) == appended
    print(
        f"outage {OUTAGE_SECONDS}s, events {appended}, backlog at restart {backlog_seen[-1]}, "
        f"published {catch_up:.1f}s after the broker was back"
    )


async def _drained(database: FreshDatabase) -> bool:
    return await outbox_size(database.engine) == 0

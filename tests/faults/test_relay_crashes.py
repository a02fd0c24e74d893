"""The relay is SIGKILLed at random points while 10,000 events are appended, five times.

Checked: every appended event reaches Kafka (I1, I6), each stream's events keep their order
on one partition (first sightings are versions 1..n), and a consuming projection turns the
re-published duplicates into exactly-once effects equal to a fresh fold of the log (I2, I5).
"""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict

from tests.databases import FreshDatabase
from tests.faults.harness import (
    Worker,
    append_load,
    create_projection_tables,
    effects_per_event,
    eventually,
    fold_log,
    outbox_size,
    projection,
    read_topic,
    worker_args,
)

TOTAL = 10_000


async def test_relay_killed_five_times_loses_nothing(
    database: FreshDatabase, kafka_bootstrap: str, topic: str
) -> None:
    common = worker_args(database, kafka_bootstrap, topic)
    relay = Worker(["relay", *common])
    relay.start()
    load = asyncio.create_task(append_load(database.engine, TOTAL, pace=0.004))
    rng = random.Random(5)
    published_before_kill: list[int] = []
    try:
        while relay.kills < 5:
            await asyncio.sleep(rng.uniform(0.4, 1.6))
            published_before_kill.append(await outbox_size(database.engine))
            relay.kill()
            relay.start()
        await load
        await eventually(lambda: _outbox_empty(database), 120, "the relay to drain the outbox")
    finally:
        relay.stop()
    assert relay.kills == 5

    on_topic = await read_topic(kafka_bootstrap, topic)
    stored = await fold_log(database.engine)
    ids_on_topic = {event.id for _, event in on_topic}
    assert len(ids_on_topic) == TOTAL, f"{TOTAL - len(ids_on_topic)} events never reached Kafka"

    partitions: dict[str, set[int]] = defaultdict(set)
    first_seen: dict[str, list[int]] = defaultdict(list)
    seen: set[str] = set()
    for partition, event in on_topic:
        assert event.subject is not None
        assert event.sequence is not None
        partitions[event.subject].add(partition)
        if event.id not in seen:
            seen.add(event.id)
            first_seen[event.subject].append(event.sequence)
    assert all(len(p) == 1 for p in partitions.values()), "a stream was split over partitions"
    for stream, versions in first_seen.items():
        assert versions == list(range(1, stored[stream][1] + 1)), f"{stream} out of order"

    # A consumer over the at-least-once topic still applies each event exactly once.
    await create_projection_tables(database.engine)
    consumer = Worker(["consumer", *common, "--group", f"g-{topic}"])
    consumer.start()
    try:
        await eventually(lambda: _projected(database, TOTAL), 120, "the projection to catch up")
    finally:
        consumer.stop()
    assert set((await effects_per_event(database.engine)).values()) == {1}
    assert await projection(database.engine) == stored
    print(
        f"relay kills=5, events={TOTAL}, on topic={len(on_topic)}, "
        f"duplicates={len(on_topic) - TOTAL}"
    )


async def _outbox_empty(database: FreshDatabase) -> bool:
    return await outbox_size(database.engine) == 0


async def _projected(database: FreshDatabase, total: int) -> bool:
    try:
        return sum((await effects_per_event(database.engine)).values()) >= total
    except Exception:
        return False
